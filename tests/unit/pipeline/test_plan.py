"""Planning a build: env precedence, system variables, and what each step gets."""

import uuid

from solvyd.pipeline.config import parse_pipeline
from solvyd.pipeline.plan import BuildContext, origin_from_env, plan_job, system_env

PIPELINE = """
image: python:3.11
env: {LEVEL: pipeline, FROM_PIPELINE: p, CI: "false"}
timeout: 10m
artifacts: [dist/]
steps:
  - name: test
    commands: pytest
    env: {LEVEL: step}
    timeout: 1m
  - name: package
    image: alpine
    commands: [make, make dist]
    allow_failure: true
"""


def context(**overrides: object) -> BuildContext:
    fields: dict[str, object] = {
        "build_id": uuid.UUID(int=1),
        "build_number": 12,
        "job_id": uuid.UUID(int=2),
        "job_name": "solvyd",
        "scm_url": "https://git.example/solvyd.git",
        "branch": "main",
        "commit_sha": "abc123",
        "job_env": {"LEVEL": "job", "FROM_JOB": "j"},
        "trigger_env": {"LEVEL": "trigger", "FROM_TRIGGER": "t", "SOLVYD_BRANCH": "forged"},
        "labels": ["linux"],
    }
    fields.update(overrides)
    return BuildContext(**fields)  # type: ignore[arg-type]


def test_env_precedence_pipeline_then_job_then_trigger_then_system() -> None:
    job = plan_job(parse_pipeline(PIPELINE), context())
    assert job.env["LEVEL"] == "trigger"
    assert job.env["FROM_PIPELINE"] == "p"
    assert job.env["FROM_JOB"] == "j"
    assert job.env["FROM_TRIGGER"] == "t"
    assert job.env["CI"] == "true"  # a pipeline cannot switch off CI=true
    assert job.env["SOLVYD_BRANCH"] == "main"  # nor forge a system variable


def test_system_variables() -> None:
    job = plan_job(parse_pipeline(PIPELINE), context())
    assert {k: v for k, v in job.env.items() if k == "CI" or k.startswith("SOLVYD")} == {
        "CI": "true",
        "SOLVYD": "true",
        "SOLVYD_BUILD_ID": str(uuid.UUID(int=1)),
        "SOLVYD_BUILD_NUMBER": "12",
        "SOLVYD_JOB_ID": str(uuid.UUID(int=2)),
        "SOLVYD_JOB_NAME": "solvyd",
        "SOLVYD_BRANCH": "main",
        "SOLVYD_COMMIT_SHA": "abc123",
        "SOLVYD_EVENT": "manual",
        "SOLVYD_TAG": "",
        "SOLVYD_PULL_REQUEST": "",
        "SOLVYD_TARGET_BRANCH": "",
        "SOLVYD_COMMIT_MESSAGE": "",
        "SOLVYD_COMMIT_AUTHOR": "",
    }


def test_what_started_the_build_is_in_the_env_and_cannot_be_forged() -> None:
    forged = {
        "SOLVYD_EVENT": "push",
        "SOLVYD_TAG": "v0-forged",
        "SOLVYD_PULL_REQUEST": "1",
        "SOLVYD_COMMIT_AUTHOR": "mallory",
    }
    job = plan_job(
        parse_pipeline(PIPELINE),
        context(
            event="pull_request",
            pull_request=42,
            target_branch="main",
            commit_message="Fix the parser\n\nIt lost line numbers.",
            commit_author="Ada Lovelace",
            job_env=forged,
            trigger_env=forged,
        ),
    )
    assert job.event == "pull_request"
    assert job.env["SOLVYD_EVENT"] == "pull_request"
    assert job.env["SOLVYD_TAG"] == ""
    assert job.env["SOLVYD_PULL_REQUEST"] == "42"
    assert job.env["SOLVYD_TARGET_BRANCH"] == "main"
    assert job.env["SOLVYD_COMMIT_MESSAGE"] == "Fix the parser\n\nIt lost line numbers."
    assert job.env["SOLVYD_COMMIT_AUTHOR"] == "Ada Lovelace"


def test_the_system_variables_give_back_what_started_the_build() -> None:
    """An agent planning from the repository's file reads the facts back from the env."""
    started = context(event="tag", tag="v1.2.0", commit_message="Release", commit_author="Bo")
    facts = origin_from_env(system_env(started))
    assert facts == {
        "tag": "v1.2.0",
        "pull_request": None,
        "target_branch": None,
        "commit_message": "Release",
        "commit_author": "Bo",
    }
    pull_request = context(event="pull_request", pull_request=7, target_branch="release/1")
    assert origin_from_env(system_env(pull_request))["pull_request"] == 7
    assert origin_from_env(system_env(pull_request))["target_branch"] == "release/1"
    assert origin_from_env({})["pull_request"] is None


def test_unknown_branch_and_commit_are_empty() -> None:
    job = plan_job(parse_pipeline(PIPELINE), context(branch=None, commit_sha=None))
    assert job.env["SOLVYD_BRANCH"] == ""
    assert job.env["SOLVYD_COMMIT_SHA"] == ""
    assert job.branch is None


def test_steps_carry_their_own_env_image_and_limits() -> None:
    job = plan_job(parse_pipeline(PIPELINE), context())
    test, package = job.steps
    assert test.env == {"LEVEL": "step"}
    assert test.image == "python:3.11"  # the pipeline's image is the default
    assert test.timeout_seconds == 60
    assert not test.allow_failure
    assert package.image == "alpine"
    assert package.commands == ["make", "make dist"]
    assert package.allow_failure
    assert package.env == {}
    assert "SOLVYD_STEP_NAME" not in job.env  # set by the executor, per step


def test_job_fields_and_timeout_override() -> None:
    job = plan_job(parse_pipeline(PIPELINE), context())
    assert job.build_number == 12
    assert job.scm_url == "https://git.example/solvyd.git"
    assert job.commit_sha == "abc123"
    assert job.timeout_seconds == 600
    assert job.artifacts == ["dist/"]
    assert job.labels == ["linux"]
    assert plan_job(parse_pipeline(PIPELINE), context(timeout_seconds=30)).timeout_seconds == 30


def test_seed_form_plans_one_build_step() -> None:
    job = plan_job(parse_pipeline({"image": "ubuntu", "commands": ["make"]}), context())
    assert [(s.name, s.image, s.commands) for s in job.steps] == [("build", "ubuntu", ["make"])]
    assert job.timeout_seconds is None
