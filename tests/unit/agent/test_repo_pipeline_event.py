"""A plan the agent reads from the repository sees the same event and variables as one the
server planned: the event gates steps, and what started the build stays in the env."""

import uuid
from pathlib import Path

from solvyd.agent.repo_pipeline import plan_from_repository
from solvyd.pipeline.plan import BuildContext, system_env
from solvyd.protocol import JobSpec

PIPELINE = """
steps:
  - name: test
    commands: [make test]
  - name: deploy
    commands: [make deploy]
    when: {event: push}
  - name: review
    commands: [make review]
    when: {event: pull_request}
"""


def _spec(context: BuildContext) -> JobSpec:
    """As the server queues a build whose pipeline lives in the repository (no steps)."""
    return JobSpec(
        build_id=context.build_id,
        build_number=context.build_number,
        job_id=context.job_id,
        job_name=context.job_name,
        scm_url="file:///x",
        branch=context.branch,
        commit_sha=context.commit_sha,
        env={"FROM_JOB": "1", **system_env(context)},
        steps=[],
        pipeline_path=".solvyd.yml",
        event=context.event,
        checkout_ref="refs/pull/9/head",
        checkout_url="https://git.example/fork/repo.git",
    )


def _context(**fields: object) -> BuildContext:
    return BuildContext(
        build_id=uuid.UUID(int=1),
        build_number=3,
        job_id=uuid.UUID(int=2),
        job_name="app",
        branch="feature",
        commit_sha="abc",
        **fields,  # type: ignore[arg-type]
    )


def test_a_pull_request_plan_from_the_repository_keeps_its_event_and_variables(
    tmp_path: Path,
) -> None:
    (tmp_path / ".solvyd.yml").write_text(PIPELINE)
    context = _context(
        event="pull_request",
        pull_request=9,
        target_branch="main",
        commit_message="Add review app",
        commit_author="Grace Hopper",
    )
    planned, _ = plan_from_repository(_spec(context), tmp_path, "def")
    assert [step.name for step in planned.steps] == ["test", "review"]
    assert planned.event == "pull_request"
    assert planned.env["SOLVYD_EVENT"] == "pull_request"
    assert planned.env["SOLVYD_PULL_REQUEST"] == "9"
    assert planned.env["SOLVYD_TARGET_BRANCH"] == "main"
    assert planned.env["SOLVYD_COMMIT_MESSAGE"] == "Add review app"
    assert planned.env["SOLVYD_COMMIT_AUTHOR"] == "Grace Hopper"
    assert planned.env["SOLVYD_TAG"] == ""
    assert planned.env["SOLVYD_COMMIT_SHA"] == "def"
    assert planned.env["FROM_JOB"] == "1"
    assert planned.checkout_ref == "refs/pull/9/head"
    assert planned.checkout_url == "https://git.example/fork/repo.git"


def test_a_push_plan_from_the_repository(tmp_path: Path) -> None:
    (tmp_path / ".solvyd.yml").write_text(PIPELINE)
    planned, _ = plan_from_repository(
        _spec(_context(event="push", commit_author="Bo")), tmp_path, None
    )
    assert [step.name for step in planned.steps] == ["test", "deploy"]
    assert planned.env["SOLVYD_EVENT"] == "push"
    assert planned.env["SOLVYD_COMMIT_AUTHOR"] == "Bo"
    assert planned.env["SOLVYD_PULL_REQUEST"] == ""
