"""Properties of the parser, over generated documents: what it accepts round-trips through
``model_dump``, and whatever it is given it returns a PipelineConfig or raises PipelineError."""

from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solvyd.pipeline.config import PipelineConfig, PipelineError, parse_pipeline

BOUNDED = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

STEP_NAMES = ["build", "test", "lint", "deploy", "a", "b", "c"]
KEYS = [
    "image", "env", "timeout", "artifacts", "matrix", "steps", "name", "commands", "depends_on",
    "when", "branch", "event", "status", "allow_failure", "secrets", "resources", "cpus",
    "memory", "include", "exclude", "build_config", "PY", "OS",
]  # fmt: skip

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["10m", "1h30m", "512m", "2g", "push", "tag", "success", "main", "*"]),
)
# Arbitrary YAML-ish values, with keys that the language knows often enough to go deep.
values: st.SearchStrategy[Any] = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=8)), inner, max_size=5),
    ),
    max_leaves=25,
)

env_names = st.sampled_from(["A", "B", "PY", "OS", "DEBUG", "_X"])
env = st.dictionaries(env_names, st.one_of(st.text(max_size=6), st.integers(), st.booleans()))
durations = st.one_of(st.integers(1, 10_000), st.sampled_from(["90s", "10m", "1h", "2h30m"]))
matrix_values = st.one_of(
    st.sampled_from(["x", "y", "3.11", "linux"]), st.integers(0, 5), st.booleans()
)
matrices = st.builds(
    lambda axes, include, exclude: {
        **axes,
        **({"include": include} if include else {}),
        **({"exclude": exclude} if exclude else {}),
    },
    st.dictionaries(env_names, st.lists(matrix_values, min_size=0, max_size=3), max_size=3),
    st.lists(st.dictionaries(env_names, matrix_values, min_size=1, max_size=2), max_size=2),
    st.lists(st.dictionaries(env_names, matrix_values, min_size=1, max_size=2), max_size=2),
)
whens = st.fixed_dictionaries(
    {},
    optional={
        "branch": st.one_of(st.sampled_from(["main", "release/*"]), st.lists(st.text(max_size=5))),
        "event": st.one_of(
            st.sampled_from(["push", "tag", "cron", "merge"]),
            st.lists(st.sampled_from(["push", "pull_request", "manual"]), max_size=3),
        ),
        "status": st.one_of(st.sampled_from(["success", "failure"]), st.just(["failure"])),
    },
)
steps = st.fixed_dictionaries(
    {
        "name": st.sampled_from(STEP_NAMES),
        "commands": st.one_of(st.text(max_size=10), st.lists(st.text(max_size=10), max_size=3)),
    },
    optional={
        "image": st.sampled_from(["alpine", "python:3.12", ""]),
        "env": env,
        "timeout": durations,
        "depends_on": st.one_of(
            st.sampled_from(STEP_NAMES), st.lists(st.sampled_from(STEP_NAMES), max_size=2)
        ),
        "when": whens,
        "allow_failure": st.booleans(),
        "artifacts": st.one_of(st.just("dist/*"), st.lists(st.text(max_size=6), max_size=2)),
        "secrets": st.lists(env_names, max_size=2),
        "resources": st.fixed_dictionaries(
            {},
            optional={
                "cpus": st.floats(0.1, 64),
                "memory": st.one_of(st.sampled_from(["512m", "2g", "1k", "lots"]), st.integers()),
            },
        ),
        "matrix": matrices,
    },
)
pipelines = st.fixed_dictionaries(
    {"steps": st.lists(steps, min_size=1, max_size=4)},
    optional={
        "image": st.sampled_from(["alpine", "busybox"]),
        "env": env,
        "timeout": durations,
        "artifacts": st.lists(st.text(max_size=6), max_size=2),
        "matrix": matrices,
    },
)
seed_forms = st.fixed_dictionaries(
    {"commands": st.lists(st.text(max_size=8), min_size=1, max_size=3)},
    optional={"image": st.sampled_from(["ubuntu:22.04"]), "env": env, "timeout": durations},
)


def parse_or_none(source: Any) -> PipelineConfig | None:
    try:
        return parse_pipeline(source)
    except PipelineError:
        return None


def assert_round_trips(config: PipelineConfig) -> None:
    dumped = config.model_dump(mode="json")
    assert parse_pipeline(dumped) == config
    assert parse_pipeline(yaml.safe_dump(dumped)) == config


@BOUNDED
@given(st.one_of(pipelines, seed_forms))
def test_accepted_pipelines_round_trip(document: dict[str, Any]) -> None:
    config = parse_or_none(document)
    if config is not None:
        assert_round_trips(config)
    # As text the answer is the same, and errors point into the text.
    text = yaml.safe_dump(document)
    try:
        from_text = parse_pipeline(text)
    except PipelineError as exc:
        assert config is None
        assert all(item.line is not None for item in exc.errors if item.field)
    else:
        assert from_text == config


@BOUNDED
@given(values)
def test_any_value_is_a_config_or_a_pipeline_error(document: Any) -> None:
    config = parse_or_none(document)
    if config is not None:
        assert_round_trips(config)
    try:
        text = yaml.safe_dump(document)
    except yaml.YAMLError:
        return
    parse_or_none(text)


@BOUNDED
@given(st.text(max_size=200))
def test_any_text_is_a_config_or_a_pipeline_error(text: str) -> None:
    parse_or_none(text)


@BOUNDED
@given(pipelines)
def test_mangled_yaml_text_is_a_config_or_a_pipeline_error(document: dict[str, Any]) -> None:
    text = yaml.safe_dump(document)
    for cut in (len(text) // 3, len(text) // 2):
        parse_or_none(text[:cut] + "\n  - ]: {" + text[cut:])
