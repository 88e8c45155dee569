"""Planning the graph: matrix expansion, `when` at plan time, and the sequential default."""

import textwrap
import uuid

from solvyd.pipeline.config import parse_pipeline
from solvyd.pipeline.plan import BuildContext, plan_job
from solvyd.protocol import JobSpec


def context(**overrides: object) -> BuildContext:
    fields: dict[str, object] = {
        "build_id": uuid.UUID(int=1),
        "build_number": 1,
        "job_id": uuid.UUID(int=2),
        "job_name": "graph",
        "branch": "main",
    }
    fields.update(overrides)
    return BuildContext(**fields)  # type: ignore[arg-type]


def plan(text: str, **overrides: object) -> JobSpec:
    return plan_job(parse_pipeline(textwrap.dedent(text).lstrip("\n")), context(**overrides))


def graph(spec: JobSpec) -> dict[str, list[str]]:
    return {step.name: step.depends_on for step in spec.steps}


def test_sequential_default_chains_each_step_to_the_previous() -> None:
    spec = plan("""
        steps:
          - {name: a, commands: x}
          - {name: b, commands: x}
          - {name: c, commands: x}
    """)
    assert graph(spec) == {"a": [], "b": ["a"], "c": ["b"]}
    assert [step.run_on for step in spec.steps] == [["success"]] * 3
    assert spec.event == "manual"


def test_declared_dependencies_are_kept() -> None:
    spec = plan("""
        steps:
          - {name: a, commands: x}
          - {name: b, commands: x}
          - {name: c, commands: x, depends_on: [a, b]}
    """)
    assert graph(spec) == {"a": [], "b": [], "c": ["a", "b"]}


def test_step_matrix_with_include_and_exclude() -> None:
    spec = plan("""
        steps:
          - name: test
            commands: run
            env: {PY: overridden, KEEP: k}
            matrix:
              PY: ["3.11", "3.12"]
              DB: [sqlite, pg]
              exclude: [{PY: "3.11", DB: pg}]
              include: [{PY: "3.13", DB: sqlite}]
          - name: done
            commands: x
            depends_on: test
    """)
    assert graph(spec) == {
        "test (PY=3.11, DB=sqlite)": [],
        "test (PY=3.12, DB=sqlite)": [],
        "test (PY=3.12, DB=pg)": [],
        "test (PY=3.13, DB=sqlite)": [],
        "done": [
            "test (PY=3.11, DB=sqlite)",
            "test (PY=3.12, DB=sqlite)",
            "test (PY=3.12, DB=pg)",
            "test (PY=3.13, DB=sqlite)",
        ],
    }
    assert spec.steps[2].env == {"PY": "3.12", "DB": "pg", "KEEP": "k"}


def test_pipeline_matrix_copies_the_pipeline_and_rewires_within_a_combination() -> None:
    spec = plan("""
        matrix: {OS: [linux, mac]}
        steps:
          - {name: build, commands: x}
          - {name: test, commands: x}
    """)
    assert graph(spec) == {
        "build (OS=linux)": [],
        "test (OS=linux)": ["build (OS=linux)"],
        "build (OS=mac)": [],
        "test (OS=mac)": ["build (OS=mac)"],
    }
    assert spec.steps[3].env == {"OS": "mac"}


def test_when_branch_and_event_drop_steps_and_their_references() -> None:
    text = """
        steps:
          - {name: build, commands: x}
          - name: publish
            commands: x
            depends_on: build
            when: {branch: ["release/*", main], event: [push, tag]}
          - {name: notify, commands: x, depends_on: publish}
          - {name: other, commands: x, depends_on: [publish, build]}
    """
    on_main = plan(text, event="push")
    assert graph(on_main) == {
        "build": [],
        "publish": ["build"],
        "notify": ["publish"],
        "other": ["publish", "build"],
    }
    assert on_main.event == "push"
    assert [s.name for s in plan(text, event="push", branch="release/1.2").steps][1] == "publish"
    # A dropped step's place is taken by what it waited for, so the order holds.
    on_feature = plan(text, event="push", branch="feature/x")
    assert graph(on_feature) == {"build": [], "notify": ["build"], "other": ["build"]}
    assert "publish" not in graph(plan(text, event="manual"))
    assert "publish" not in graph(plan(text, event="push", branch=None))


def test_when_in_sequential_mode_chains_the_kept_steps() -> None:
    spec = plan("""
        steps:
          - {name: a, commands: x}
          - {name: b, commands: x, when: {event: cron}}
          - {name: c, commands: x}
    """)
    assert graph(spec) == {"a": [], "c": ["a"]}


def test_step_fields_reach_the_spec() -> None:
    spec = plan("""
        artifacts: [report.xml]
        steps:
          - name: a
            commands: x
            when: {status: failure}
            secrets: [TOKEN, KEY]
            artifacts: ["dist/*"]
            resources: {cpus: 2, memory: 2g}
    """)
    step = spec.steps[0]
    assert step.run_on == ["failure"]
    assert step.secrets == ["TOKEN", "KEY"]
    assert step.artifacts == ["dist/*"]
    assert (step.cpus, step.memory_bytes) == (2.0, 2 * 1024**3)
    assert spec.artifacts == ["report.xml"]
