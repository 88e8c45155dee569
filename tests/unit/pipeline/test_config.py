"""The pipeline language: both forms, and errors that name file, line, column and field."""

import textwrap

import pytest

from solvyd.pipeline.config import PipelineError, StepConfig, parse_pipeline
from solvyd.pipeline.config.models import parse_duration


def errors_of(source: object, filename: str = ".solvyd.yml") -> PipelineError:
    with pytest.raises(PipelineError) as caught:
        parse_pipeline(source, filename)  # type: ignore[arg-type]
    return caught.value


def yaml(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def test_steps_form() -> None:
    config = parse_pipeline(
        yaml("""
            image: python:3.11
            env: {DEBUG: 1, FAST: true, NAME: solvyd}
            timeout: 10m
            artifacts: dist/*.whl
            steps:
              - name: test
                commands:
                  - pip install .
                  - pytest
                timeout: 90s
              - name: lint
                image: ruff:latest
                commands: ruff check
                env: {STRICT: "yes"}
                allow_failure: true
        """)
    )
    assert config.image == "python:3.11"
    assert config.env == {"DEBUG": "1", "FAST": "true", "NAME": "solvyd"}
    assert config.timeout == 600
    assert config.artifacts == ["dist/*.whl"]
    assert config.steps == [
        StepConfig(name="test", commands=["pip install .", "pytest"], timeout=90),
        StepConfig(
            name="lint",
            image="ruff:latest",
            commands=["ruff check"],
            env={"STRICT": "yes"},
            allow_failure=True,
        ),
    ]


def test_seed_build_config_form_is_one_step_named_build() -> None:
    seed = {"image": "ubuntu:22.04", "commands": ["echo Hello World", "ls -la"]}
    config = parse_pipeline(seed)
    assert config.image == "ubuntu:22.04"
    assert [(s.name, s.commands) for s in config.steps] == [
        ("build", ["echo Hello World", "ls -la"])
    ]
    text = parse_pipeline("commands: make\nenv: {A: b}\nartifacts: [out/]\n")
    assert text.steps[0].commands == ["make"]
    assert text.env == {"A": "b"}
    assert text.artifacts == ["out/"]


def test_a_mapping_is_accepted_as_well_as_text() -> None:
    config = parse_pipeline({"steps": [{"name": "a", "commands": "true"}]})
    assert config.steps[0].commands == ["true"]


@pytest.mark.parametrize(
    ("value", "seconds"),
    [(5, 5), (2.5, 2.5), ("90", 90), ("90s", 90), ("10m", 600), ("1h", 3600), ("1h30m", 5400)],
)
def test_timeouts(value: object, seconds: float) -> None:
    assert parse_duration(value) == seconds


def test_missing_field_points_at_the_step_that_lacks_it() -> None:
    error = errors_of(
        yaml("""
            image: alpine
            steps:
              - name: one
                commands: ["true"]
              - name: two
                image: alpine
        """)
    )
    assert str(error) == ".solvyd.yml:5:5: steps[1].commands: field required"
    item = error.errors[0]
    assert (item.line, item.column, item.field) == (5, 5, "steps[1].commands")
    assert item.as_dict() == {
        "line": 5,
        "column": 5,
        "field": "steps[1].commands",
        "message": "field required",
    }


def test_unknown_fields_are_errors_with_a_suggestion() -> None:
    error = errors_of(
        yaml("""
            steps:
              - name: build
                comands: make
            imgae: alpine
        """),
        filename="ci/pipeline.yml",
    )
    messages = str(error).splitlines()
    assert messages[0].startswith("ci/pipeline.yml:2:5: steps[0].commands: field required")
    assert (
        "ci/pipeline.yml:3:5: steps[0].comands: unknown field (did you mean 'commands'?)"
        in messages
    )
    assert "ci/pipeline.yml:4:1: imgae: unknown field (did you mean 'image'?)" in messages


def test_unknown_field_in_the_seed_form() -> None:
    error = errors_of("commands: make\nartefacts: [a]\n")
    assert str(error) == ".solvyd.yml:2:1: artefacts: unknown field (did you mean 'artifacts'?)"


def test_duplicate_step_names_point_at_the_second() -> None:
    error = errors_of(
        yaml("""
            steps:
              - name: test
                commands: a
              - name: test
                commands: b
        """)
    )
    assert str(error) == (
        ".solvyd.yml:4:11: steps[1].name: step name 'test' is already used by steps[0]"
    )


def test_duplicate_yaml_keys_are_errors() -> None:
    error = errors_of("steps: [{name: a, commands: b}]\nimage: a\nimage: b\n")
    assert str(error) == ".solvyd.yml:3:1: image: duplicate key 'image'"


def test_bad_values_name_their_field_and_place() -> None:
    error = errors_of(
        yaml("""
            env:
              1BAD: x
            steps:
              - name: s
                commands: [make]
                timeout: soon
                allow_failure: maybe
        """)
    )
    text = str(error)
    assert ".solvyd.yml:2:3: env.1BAD: '1BAD' is not a valid variable name" in text
    assert ".solvyd.yml:6:14: steps[0].timeout: expected seconds or a duration like" in text
    assert ".solvyd.yml:7:20: steps[0].allow_failure: input should be a valid boolean" in text
    assert [item.line for item in error.errors] == [2, 6, 7]


def test_a_pipeline_needs_steps() -> None:
    assert str(errors_of("steps: []\n")) == (
        ".solvyd.yml:1:8: steps: a pipeline needs at least one step"
    )
    assert str(errors_of("image: alpine\n")) == ".solvyd.yml:1:1: steps: field required"
    assert str(errors_of("steps:\n  - name: a\n    commands: []\n")) == (
        ".solvyd.yml:3:15: steps[0].commands: at least one command is required"
    )


def test_invalid_yaml_has_a_line_and_column() -> None:
    error = errors_of("steps:\n  - name: a\n    commands: [make\n")
    item = error.errors[0]
    assert item.line == 4 and item.column == 1
    assert str(error).startswith(".solvyd.yml:4:1: steps[0].commands: invalid YAML: ")
    error = errors_of("steps:\n\t- name: a\n")
    assert str(error).startswith(".solvyd.yml:2:1: steps: invalid YAML: ")


def test_dict_input_errors_have_no_position() -> None:
    error = errors_of({"steps": [{"name": "a"}]}, filename="api")
    assert str(error) == "api: steps[0].commands: field required"
    assert error.errors[0].line is None


@pytest.mark.parametrize(
    "source",
    [
        "",
        "# only a comment\n",
        "- a list\n",
        "just text",
        "\x07",
        "!!python/object:os.system ls",
        "a: b\n---\nc: d\n",
        "[" * 1500,
        "steps: &s [*s]\n",
        "? [a, b]\n: c\n",
        "1: 2\n",
        "steps: [{name: a, commands: b, env: {X: null}}]",
        "steps: [{name: 'a/b', commands: b}]",
        "steps: [{name: a, commands: b, timeout: 1e400}]",
        "steps: [{name: a, commands: b, timeout: -1}]",
        "steps: [{name: a, commands: b, timeout: true}]",
        "commands: a\nsteps: []\n",
        None,
        [],
        42,
        {1: 2},
    ],
)
def test_every_bad_input_is_a_pipeline_error(source: object) -> None:
    error = errors_of(source)
    assert error.errors
    assert str(error).startswith(".solvyd.yml")
