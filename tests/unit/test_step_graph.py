"""The step graph a build shows: what each of its steps waits for, read from the planned spec
the way the agent's runtime reads it, with the repository checkout first and steps the spec
does not know after the step recorded before them."""

import uuid
from typing import Any

from solvyd.pipeline.config import parse_pipeline
from solvyd.pipeline.plan import BuildContext, plan_job
from solvyd.server.services.builds.step_graph import step_dependencies


def spec(*steps: tuple[str, list[str]], scm_url: str | None = None) -> dict[str, Any]:
    return {
        "scm_url": scm_url,
        "steps": [{"name": name, "commands": ["true"], "depends_on": on} for name, on in steps],
    }


def test_a_spec_with_no_depends_on_runs_in_order() -> None:
    graph = step_dependencies(spec(("a", []), ("b", []), ("c", [])), ["a", "b", "c"])
    assert graph == {"a": [], "b": ["a"], "c": ["b"]}


def test_a_graph_keeps_each_steps_own_depends_on_and_roots_wait_for_nothing() -> None:
    planned = spec(("lint", []), ("unit", []), ("package", ["lint", "unit"]), ("docs", ["lint"]))
    graph = step_dependencies(planned, ["lint", "unit", "package", "docs"])
    assert graph == {"lint": [], "unit": [], "package": ["lint", "unit"], "docs": ["lint"]}


def test_the_checkout_comes_before_every_root() -> None:
    planned = spec(("lint", []), ("unit", []), ("package", ["lint", "unit"]), scm_url="u")
    graph = step_dependencies(planned, ["checkout", "lint", "unit", "package"])
    assert graph == {
        "checkout": [],
        "lint": ["checkout"],
        "unit": ["checkout"],
        "package": ["lint", "unit"],
    }
    in_order = step_dependencies(spec(("a", []), ("b", [])), ["checkout", "a", "b"])
    assert in_order == {"checkout": [], "a": ["checkout"], "b": ["a"]}


def test_steps_the_spec_does_not_know_follow_the_step_before_them() -> None:
    # A pipeline from the repository: the agent plans it after the checkout.
    from_repository = step_dependencies({"steps": []}, ["checkout", "build", "test"])
    assert from_repository == {"checkout": [], "build": ["checkout"], "test": ["build"]}
    added = step_dependencies(spec(("a", []), ("b", ["a"])), ["a", "b", "artifacts"])
    assert added == {"a": [], "b": ["a"], "artifacts": ["b"]}
    # A build stored before specs were kept.
    assert step_dependencies({}, ["one", "two"]) == {"one": [], "two": ["one"]}


def test_a_step_of_the_pipeline_named_checkout_is_an_ordinary_step() -> None:
    graph = step_dependencies(
        spec(("checkout", []), ("build", ["checkout"])), ["checkout", "build"]
    )
    assert graph == {"checkout": [], "build": ["checkout"]}


def test_names_outside_the_spec_a_step_itself_and_repeats_are_left_out() -> None:
    planned = spec(("a", []), ("b", ["a", "a", "b", "gone"]))
    assert step_dependencies(planned, ["a", "b"]) == {"a": [], "b": ["a"]}


def test_the_graph_of_a_planned_matrix_pipeline() -> None:
    config = parse_pipeline(
        """
steps:
  - name: test
    commands: [pytest]
    matrix: {PY: ["3.11", "3.12"]}
  - name: publish
    commands: [make publish]
    depends_on: test
"""
    )
    context = BuildContext(
        build_id=uuid.UUID(int=1),
        build_number=1,
        job_id=uuid.UUID(int=2),
        job_name="matrix",
        scm_url="https://git.example/matrix.git",
        branch="main",
        commit_sha=None,
    )
    planned = plan_job(config, context).model_dump(mode="json")
    names = ["checkout", *(step["name"] for step in planned["steps"])]
    assert step_dependencies(planned, names) == {
        "checkout": [],
        "test (PY=3.11)": ["checkout"],
        "test (PY=3.12)": ["checkout"],
        "publish": ["test (PY=3.11)", "test (PY=3.12)"],
    }
