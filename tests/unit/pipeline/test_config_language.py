"""The pipeline language's newer keys: depends_on, when, matrix, resources, secrets, artifacts,
and the errors they can have, each with its line and column."""

import textwrap

import pytest

from solvyd.pipeline.config import (
    MatrixConfig,
    PipelineError,
    expand_steps,
    parse_pipeline,
)
from solvyd.pipeline.config.models import parse_memory


def yaml(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def errors_of(text: str) -> list[str]:
    with pytest.raises(PipelineError) as caught:
        parse_pipeline(yaml(text))
    return str(caught.value).splitlines()


def test_every_step_field() -> None:
    config = parse_pipeline(
        yaml("""
            steps:
              - name: build
                commands: make
              - name: deploy
                commands: make deploy
                depends_on: build
                when:
                  branch: [main, "release/*"]
                  event: push
                  status: [success, failure]
                allow_failure: true
                artifacts: [dist/*.whl, "*.log"]
                secrets: [TOKEN]
                resources: {cpus: 1.5, memory: 512m}
        """)
    )
    deploy = config.steps[1]
    assert deploy.depends_on == ["build"]
    assert deploy.when is not None
    assert deploy.when.branch == ["main", "release/*"]
    assert deploy.when.event == ["push"]
    assert deploy.when.status == ["success", "failure"]
    assert deploy.artifacts == ["dist/*.whl", "*.log"]
    assert deploy.secrets == ["TOKEN"]
    assert deploy.resources is not None
    assert (deploy.resources.cpus, deploy.resources.memory) == (1.5, 512 * 1024**2)
    assert not config.sequential
    assert parse_pipeline({"steps": [{"name": "a", "commands": "x"}]}).sequential


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1024, 1024),
        ("2g", 2 * 1024**3),
        ("512M", 512 * 1024**2),
        ("1.5k", 1536),
        ("64MiB", 64 << 20),
    ],
)
def test_memory_sizes(value: object, expected: int) -> None:
    assert parse_memory(value) == expected


def test_unknown_dependency_with_a_suggestion() -> None:
    lines = errors_of("""
        steps:
          - name: build
            commands: make
          - name: lint
            commands: make lint
          - name: test
            commands: make test
            depends_on: [biuld]
    """)
    assert lines == [
        '.solvyd.yml:8:5: steps[2].depends_on: unknown step "biuld" (did you mean "build"?)'
    ]


def test_unknown_dependency_without_a_suggestion() -> None:
    lines = errors_of("""
        steps:
          - name: build
            commands: make
            depends_on: [zzz]
    """)
    assert lines == ['.solvyd.yml:4:5: steps[0].depends_on: unknown step "zzz"']


def test_self_dependency() -> None:
    lines = errors_of("""
        steps:
          - name: a
            commands: x
            depends_on: a
    """)
    assert lines == ['.solvyd.yml:4:5: steps[0].depends_on: step "a" depends on itself']


def test_dependency_cycle_is_named() -> None:
    lines = errors_of("""
        steps:
          - name: a
            commands: x
            depends_on: [b]
          - name: b
            commands: x
            depends_on: [a]
          - name: c
            commands: x
            depends_on: [a]
    """)
    assert lines == [".solvyd.yml:4:5: steps: dependency cycle: a -> b -> a"]


def test_long_cycle() -> None:
    steps = [{"name": f"s{i}", "commands": "x", "depends_on": f"s{(i + 1) % 3}"} for i in range(3)]
    with pytest.raises(PipelineError) as caught:
        parse_pipeline({"steps": steps})
    assert str(caught.value) == ".solvyd.yml: steps: dependency cycle: s0 -> s1 -> s2 -> s0"


def test_bad_event_name() -> None:
    lines = errors_of("""
        steps:
          - name: a
            commands: x
            when:
              event: [push, merge]
    """)
    assert len(lines) == 1
    assert lines[0].startswith(".solvyd.yml:5:21: steps[0].when.event[1]: input should be 'push'")


def test_bad_status_and_unknown_when_key() -> None:
    lines = errors_of("""
        steps:
          - name: a
            commands: x
            when:
              status: always
              brnach: main
    """)
    assert lines == [
        ".solvyd.yml:5:15: steps[0].when.status[0]: input should be 'success' or 'failure'",
        ".solvyd.yml:6:7: steps[0].when.brnach: unknown field (did you mean 'branch'?)",
    ]


def test_bad_memory() -> None:
    lines = errors_of("""
        steps:
          - name: a
            commands: x
            resources:
              memory: lots
    """)
    assert lines == [
        ".solvyd.yml:5:15: steps[0].resources.memory: expected bytes or a size like '512m' "
        "or '2g', got 'lots'"
    ]


def test_bad_cpus() -> None:
    lines = errors_of("""
        steps:
          - name: a
            commands: x
            resources: {cpus: 0}
    """)
    assert lines == [
        ".solvyd.yml:4:23: steps[0].resources.cpus: cpus must be more than 0 and at most 1024"
    ]


def test_empty_matrix_axis() -> None:
    lines = errors_of("""
        steps:
          - name: a
            commands: x
            matrix:
              PY: []
    """)
    assert lines == [".solvyd.yml:5:11: steps[0].matrix.PY: a matrix axis needs at least one value"]


def test_matrix_over_the_cap() -> None:
    lines = errors_of("""
        matrix:
          A: [1, 2, 3, 4, 5, 6, 7, 8]
          B: [1, 2, 3, 4, 5, 6, 7, 8]
          C: [1, 2, 3, 4, 5]
        steps:
          - name: a
            commands: x
    """)
    assert lines == [
        ".solvyd.yml:1:1: matrix: the matrix expands the pipeline to 320 steps; "
        "at most 256 are allowed"
    ]


def test_huge_matrix_is_refused_without_enumerating_it() -> None:
    axes = {f"V{i}": list(range(10)) for i in range(12)}
    with pytest.raises(PipelineError) as caught:
        parse_pipeline({"matrix": axes, "steps": [{"name": "a", "commands": "x"}]})
    assert "more than 4096 combinations" in str(caught.value)


def test_matrix_excluding_everything() -> None:
    lines = errors_of("""
        steps:
          - name: a
            commands: x
            matrix:
              A: [1]
              exclude: [{A: 1}]
    """)
    assert lines == [".solvyd.yml:4:5: steps[0].matrix: the matrix excludes every combination"]


def test_repeated_matrix_value() -> None:
    lines = errors_of("""
        steps:
          - name: a
            commands: x
            matrix: {A: [1, 2, 1]}
    """)
    assert lines == [".solvyd.yml:4:17: steps[0].matrix.A: value '1' is listed twice"]


def test_matrix_combinations_and_dump_shape() -> None:
    matrix = MatrixConfig.model_validate(
        {
            "A": [1, 2],
            "B": ["x", "y"],
            "exclude": [{"A": 1, "B": "y"}],
            "include": [{"A": 3, "B": "z"}, {"A": 1, "B": "x"}],
        }
    )
    assert matrix.combinations() == [
        {"A": "1", "B": "x"},
        {"A": "2", "B": "x"},
        {"A": "2", "B": "y"},
        {"A": "3", "B": "z"},
    ]
    assert matrix.model_dump() == {
        "A": ["1", "2"],
        "B": ["x", "y"],
        "include": [{"A": "3", "B": "z"}, {"A": "1", "B": "x"}],
        "exclude": [{"A": "1", "B": "y"}],
    }


def test_expansion_names_and_dependencies() -> None:
    config = parse_pipeline(
        yaml("""
            matrix: {OS: [linux, mac]}
            steps:
              - name: build
                commands: make
              - name: test
                depends_on: build
                matrix: {PY: ["3.11", "3.12"]}
                commands: make test
              - name: report
                depends_on: test
                commands: make report
        """)
    )
    steps = {step.name: step for step in expand_steps(config)}
    assert list(steps) == [
        "build (OS=linux)",
        "test (OS=linux, PY=3.11)",
        "test (OS=linux, PY=3.12)",
        "report (OS=linux)",
        "build (OS=mac)",
        "test (OS=mac, PY=3.11)",
        "test (OS=mac, PY=3.12)",
        "report (OS=mac)",
    ]
    assert steps["test (OS=mac, PY=3.12)"].depends_on == ["build (OS=mac)"]
    assert steps["report (OS=linux)"].depends_on == [
        "test (OS=linux, PY=3.11)",
        "test (OS=linux, PY=3.12)",
    ]
    assert steps["test (OS=mac, PY=3.11)"].matrix_env == {"OS": "mac", "PY": "3.11"}


def test_seed_and_plain_forms_still_parse() -> None:
    assert parse_pipeline({"commands": ["make"]}).steps[0].name == "build"
    assert len(parse_pipeline("steps:\n  - {name: a, commands: x}\n").steps) == 1
