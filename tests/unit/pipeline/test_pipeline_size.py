"""Bounds on what a pipeline expands to: YAML aliases, matrices, and the planned spec."""

import time
import uuid
from pathlib import Path

import pytest

from solvyd.agent.repo_pipeline import RepoPipelineError, plan_from_repository
from solvyd.pipeline.config import PipelineError, parse_pipeline
from solvyd.pipeline.config.parser import (
    MAX_EXPANDED_CHARACTERS,
    MAX_EXPANDED_VALUES,
    MAX_PLANNED_CHARACTERS,
)
from solvyd.pipeline.plan import BuildContext, PlanTooLarge, plan_job
from solvyd.protocol import JobSpec


def alias_bomb(size: int = 1024**2, references: int = 150) -> str:
    """The issue's case: one anchored string of `size` characters referenced many times."""
    commands = "".join("      - *big\n" for _ in range(references))
    return f"env:\n  BIG: &big {'x' * size}\nsteps:\n  - name: s\n    commands:\n{commands}"


def billion_laughs(levels: int = 9) -> str:
    text = 'a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n'
    for level in range(1, levels + 1):
        name, previous = chr(ord("a") + level), chr(ord("a") + level - 1)
        text += f"{name}: &{name} [{', '.join([f'*{previous}'] * 9)}]\n"
    return text + "steps: [{name: s, commands: ['true']}]\n"


def message_of(source: str | dict[str, object]) -> str:
    with pytest.raises(PipelineError) as caught:
        parse_pipeline(source)
    return str(caught.value)


def test_an_anchored_string_referenced_many_times_is_refused_with_the_limit() -> None:
    started = time.monotonic()
    message = message_of(alias_bomb())
    # Measured on the node graph: the 150 MB it stands for is never written out.
    assert time.monotonic() - started < 10
    assert "too large once its YAML aliases are expanded" in message
    assert f"{MAX_EXPANDED_CHARACTERS:,} characters" in message


def test_nested_aliases_are_refused_by_their_count_of_values() -> None:
    message = message_of(billion_laughs())
    assert f"{MAX_EXPANDED_VALUES:,} values" in message


def test_an_alias_to_itself_is_refused() -> None:
    assert "refers to itself through a YAML alias" in message_of("a: &a [*a]\nsteps: []\n")


def test_the_yaml_nesting_bomb_is_still_refused() -> None:
    assert "nests too deeply" in message_of("steps: " + "[" * 100_000 + "]" * 100_000)


def test_a_few_aliases_under_the_limit_are_fine() -> None:
    config = parse_pipeline(alias_bomb(size=10_000, references=50))
    assert len(config.steps[0].commands) == 50


def test_a_pipeline_given_as_data_has_the_same_limit() -> None:
    shared = ["x" * 100_000] * 100
    message = message_of({"steps": [{"name": f"s{i}", "commands": shared} for i in range(10)]})
    assert "too large" in message


def test_a_matrix_of_big_steps_is_refused_by_the_planned_size() -> None:
    axis = ", ".join(str(value) for value in range(256))
    text = (
        f"steps:\n  - name: s\n    matrix:\n      A: [{axis}]\n    commands: ['{'y' * 40_000}']\n"
    )
    message = message_of(text)
    assert f"larger than {MAX_PLANNED_CHARACTERS:,} characters of JSON" in message


def test_the_plan_is_bounded_with_the_jobs_and_the_triggers_variables() -> None:
    config = parse_pipeline("steps: [{name: s, commands: ['true']}]\n")
    context = BuildContext(
        build_id=uuid.UUID(int=1),
        build_number=1,
        job_id=uuid.UUID(int=2),
        job_name="j",
        trigger_env={"BIG": "v" * (MAX_PLANNED_CHARACTERS + 1)},
    )
    with pytest.raises(PlanTooLarge, match=f"{MAX_PLANNED_CHARACTERS:,} characters"):
        plan_job(config, context)
    small = BuildContext(
        build_id=uuid.UUID(int=1), build_number=1, job_id=uuid.UUID(int=2), job_name="j"
    )
    assert [step.name for step in plan_job(config, small).steps] == ["s"]


def test_a_repository_pipeline_too_large_fails_the_build_with_the_limit(tmp_path: Path) -> None:
    spec = JobSpec(
        build_id=uuid.uuid4(),
        build_number=1,
        job_id=uuid.uuid4(),
        job_name="repo",
        scm_url="file:///x",
        steps=[],
        pipeline_path=".solvyd.yml",
    )
    # Under the 1 MiB file limit, 15 MB once expanded.
    (tmp_path / ".solvyd.yml").write_text(alias_bomb(size=100_000))
    with pytest.raises(RepoPipelineError, match=f"{MAX_EXPANDED_CHARACTERS:,} characters"):
        plan_from_repository(spec, tmp_path, None)
    # The job's own variables (in the spec the server sent) can make the plan too large too.
    (tmp_path / ".solvyd.yml").write_text("steps: [{name: s, commands: ['true']}]\n")
    big = spec.model_copy(update={"env": {"BIG": "v" * (MAX_PLANNED_CHARACTERS + 1)}})
    with pytest.raises(RepoPipelineError, match=r"^\.solvyd\.yml: the planned build is larger"):
        plan_from_repository(big, tmp_path, None)
