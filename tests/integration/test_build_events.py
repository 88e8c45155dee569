"""What started a build, on both databases: the event, tag, pull request and commit that
`queue_build` stores and plans for (as webhooks and schedules call it), the variables steps
see, retries that replay the original's event, and the approval a fork's build waits for.

Builds are queued through the service, as the webhook receiver and the scheduler do, inside
the real app; everything else (reading, claiming, approving, retrying) goes through the API."""

import asyncio
import uuid
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from solvyd.server.db.models import AuditEvent
from solvyd.server.schemas.builds import TriggerRequest
from solvyd.server.services.builds.origin import BuildOrigin, PullRequestInfo
from solvyd.server.services.builds.trigger import queue_build
from tests.integration.api_helpers import (
    API,
    Headers,
    Worker,
    admin_headers,
    assert_error,
    claim,
    claim_build,
    create_job,
    get_build,
    register_worker,
    set_status,
    timed,
    trigger,
    user_headers,
)

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

SHA = "0123456789abcdef0123456789abcdef01234567"

FORK_PR = PullRequestInfo(
    number=42,
    title="Speed up the parser",
    source_branch="faster-parser",
    target_branch="main",
    from_fork=True,
    head_ref="refs/pull/42/head",
    head_clone_url="https://git.example/contributor/app.git",
)


@pytest.fixture
async def admin(client: httpx.AsyncClient) -> Headers:
    return await admin_headers(client)


async def queue(
    client: httpx.AsyncClient,
    job_id: str,
    origin: BuildOrigin | None,
    *,
    trigger: str | None = None,
    branch: str | None = None,
) -> str:
    """Queue a build as the webhook receiver (or the scheduler) does; its id."""
    ctx = client.app.state.ctx  # type: ignore[attr-defined]
    async with ctx.db.transaction() as session:
        queued = await queue_build(
            session,
            uuid.UUID(job_id),
            TriggerRequest(branch=branch, commit_sha=SHA),
            triggered_by=None,
            trigger=trigger or (origin.event if origin else "manual"),
            origin=origin,
        )
    queued.wake(ctx.events)
    return str(queued.build.id)


def system_vars(spec: dict[str, Any]) -> dict[str, str]:
    names = (
        "SOLVYD_EVENT",
        "SOLVYD_TAG",
        "SOLVYD_PULL_REQUEST",
        "SOLVYD_TARGET_BRANCH",
        "SOLVYD_COMMIT_MESSAGE",
        "SOLVYD_COMMIT_AUTHOR",
    )
    return {name: spec["env"][name] for name in names}


async def finish(client: httpx.AsyncClient, worker: Worker, build_id: str) -> None:
    assert (await set_status(client, worker, build_id, "running")).status_code == 200
    assert (await set_status(client, worker, build_id, "success")).status_code == 200


async def test_a_pull_request_build_carries_what_started_it(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    job = await create_job(client, admin, pipeline=PIPELINE, env={"SOLVYD_EVENT": "forged"})
    origin = BuildOrigin(
        event="pull_request",
        pull_request=FORK_PR,
        commit_message="Speed up the parser\n\nTwice as fast.",
        commit_author="Ada Lovelace",
    )
    build_id = await queue(client, job["id"], origin, branch="faster-parser")

    build = await get_build(client, admin, build_id)
    assert (build["trigger"], build["event"]) == ("pull_request", "pull_request")
    assert build["branch"] == "faster-parser"
    assert build["pull_request"] == {
        "number": 42,
        "title": "Speed up the parser",
        "source_branch": "faster-parser",
        "target_branch": "main",
        "from_fork": True,
    }
    assert build["commit_message"] == "Speed up the parser\n\nTwice as fast."
    assert build["commit_author"] == "Ada Lovelace"
    assert build["tag"] is None
    assert (build["awaiting_approval"], build["approved_by"]) == (False, None)
    assert [step["name"] for step in build["steps"]] == ["test", "review"]

    spec = await claim_build(client, await register_worker(client))
    assert spec["event"] == "pull_request"
    assert system_vars(spec) == {
        "SOLVYD_EVENT": "pull_request",
        "SOLVYD_TAG": "",
        "SOLVYD_PULL_REQUEST": "42",
        "SOLVYD_TARGET_BRANCH": "main",
        "SOLVYD_COMMIT_MESSAGE": "Speed up the parser\n\nTwice as fast.",
        "SOLVYD_COMMIT_AUTHOR": "Ada Lovelace",
    }
    # A fork's head: the forge's ref in the job's repository, else the fork's clone URL.
    assert spec["checkout_ref"] == "refs/pull/42/head"
    assert spec["checkout_url"] == "https://git.example/contributor/app.git"


async def test_a_tag_build_and_a_pull_request_from_the_same_repository(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    job = await create_job(client, admin, pipeline=PIPELINE)
    worker = await register_worker(client)
    tag_build = await queue(client, job["id"], BuildOrigin(event="tag", tag="v1.2.0"))
    spec = await claim_build(client, worker)
    assert spec["build_id"] == tag_build
    assert system_vars(spec)["SOLVYD_TAG"] == "v1.2.0"
    assert system_vars(spec)["SOLVYD_EVENT"] == "tag"
    assert (spec["checkout_ref"], spec["checkout_url"]) == (None, None)
    assert [step["name"] for step in spec["steps"]] == ["test"]
    assert (await get_build(client, admin, tag_build))["tag"] == "v1.2.0"
    await finish(client, worker, tag_build)

    same_repository = PullRequestInfo(
        number=7,
        title="Docs",
        source_branch="docs",
        target_branch="main",
        head_ref="refs/pull/7/head",
        head_clone_url="https://git.example/org/app.git",
    )
    pr_build = await queue(
        client, job["id"], BuildOrigin(event="pull_request", pull_request=same_repository)
    )
    spec = await claim_build(client, worker)
    assert spec["build_id"] == pr_build
    # Not a fork: only the ref, fetched from the job's own repository.
    assert (spec["checkout_ref"], spec["checkout_url"]) == ("refs/pull/7/head", None)
    assert (await get_build(client, admin, pr_build))["pull_request"]["from_fork"] is False


async def test_a_manual_build_is_planned_for_the_manual_event(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    job = await create_job(client, admin, pipeline=PIPELINE)
    build = await trigger(client, admin, job["id"], env={"SOLVYD_TAG": "forged"})
    assert (build["trigger"], build["event"]) == ("manual", "manual")
    assert (build["tag"], build["pull_request"], build["commit_message"]) == (None, None, None)
    spec = await claim_build(client, await register_worker(client))
    assert system_vars(spec) == {
        "SOLVYD_EVENT": "manual",
        "SOLVYD_TAG": "",
        "SOLVYD_PULL_REQUEST": "",
        "SOLVYD_TARGET_BRANCH": "",
        "SOLVYD_COMMIT_MESSAGE": "",
        "SOLVYD_COMMIT_AUTHOR": "",
    }


async def test_a_repository_pipeline_build_gets_the_variables_too(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    """No steps are planned on the server; the spec carries the event and the variables the
    agent plans with after its checkout."""
    job = await create_job(client, admin, pipeline=None, scm_url="https://git.example/org/app")
    origin = BuildOrigin(event="push", commit_message="Bump", commit_author="Bo")
    await queue(client, job["id"], origin, branch="main")
    spec = await claim_build(client, await register_worker(client))
    assert spec["steps"] == [] and spec["pipeline_path"] == ".solvyd.yml"
    assert spec["event"] == "push"
    assert system_vars(spec)["SOLVYD_COMMIT_MESSAGE"] == "Bump"
    assert system_vars(spec)["SOLVYD_COMMIT_AUTHOR"] == "Bo"


async def test_a_retry_of_a_push_build_replays_the_push(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    job = await create_job(client, admin, pipeline=PIPELINE)
    worker = await register_worker(client)
    origin = BuildOrigin(event="push", commit_message="Deploy me", commit_author="Bo")
    first = await queue(client, job["id"], origin, branch="main")
    assert [s["name"] for s in (await claim_build(client, worker))["steps"]] == ["test", "deploy"]
    await finish(client, worker, first)

    response = await client.post(f"{API}/builds/{first}/retry", headers=admin)
    assert response.status_code == 201, response.text
    again = response.json()
    assert (again["trigger"], again["event"]) == ("retry", "push")
    assert (again["commit_message"], again["commit_author"]) == ("Deploy me", "Bo")
    # The deploy step, gated on `event: push`, is not dropped from the retry.
    assert [step["name"] for step in again["steps"]] == ["test", "deploy"]
    spec = await claim_build(client, worker)
    assert spec["event"] == "push"
    assert system_vars(spec)["SOLVYD_EVENT"] == "push"
    assert system_vars(spec)["SOLVYD_COMMIT_MESSAGE"] == "Deploy me"
    await finish(client, worker, again["id"])

    # And a retry of the retry still replays the push.
    response = await client.post(f"{API}/builds/{again['id']}/retry", headers=admin)
    assert response.json()["event"] == "push"
    assert [step["name"] for step in response.json()["steps"]] == ["test", "deploy"]


async def test_a_retry_of_a_pull_request_build_keeps_the_pull_request(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    job = await create_job(client, admin, pipeline=PIPELINE)
    worker = await register_worker(client)
    first = await queue(
        client,
        job["id"],
        BuildOrigin(event="pull_request", pull_request=FORK_PR),
        branch="faster-parser",
    )
    await claim_build(client, worker)
    await finish(client, worker, first)
    again = (await client.post(f"{API}/builds/{first}/retry", headers=admin)).json()
    assert again["event"] == "pull_request"
    assert again["pull_request"]["number"] == 42
    assert again["branch"] == "faster-parser"
    spec = await claim_build(client, worker)
    assert [step["name"] for step in spec["steps"]] == ["test", "review"]
    assert system_vars(spec)["SOLVYD_PULL_REQUEST"] == "42"
    assert spec["checkout_url"] == "https://git.example/contributor/app.git"


async def test_a_forks_build_waits_for_a_developers_approval(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    job = await create_job(client, admin, pipeline=PIPELINE, fork_approval=True)
    assert job["fork_approval"] is True
    worker = await register_worker(client)
    build_id = await queue(
        client,
        job["id"],
        BuildOrigin(event="pull_request", pull_request=FORK_PR),
        branch="faster-parser",
    )
    build = await get_build(client, admin, build_id)
    assert (build["status"], build["awaiting_approval"]) == ("queued", True)
    assert build["waiting_reason"] == "waiting for approval"

    # No claim path hands it out, and the heartbeat says there is no work.
    assert (await claim(client, worker)).status_code == 204
    polled = await client.get(f"{API}/workers/{worker.id}/builds", headers=worker.headers)
    assert polled.status_code == 200 and polled.json()["builds"] == []
    beat = await client.post(
        f"{API}/workers/{worker.id}/heartbeat", headers=worker.headers, json={}
    )
    assert beat.json()["has_work"] is False

    viewer = await user_headers(client, admin, "viewer")
    assert_error(await client.post(f"{API}/builds/{build_id}/approve", headers=viewer), 403)
    assert (await get_build(client, admin, build_id))["awaiting_approval"] is True

    developer = await user_headers(client, admin, "developer")
    # A worker already waiting in its long poll is woken by the approval.
    waiting = asyncio.create_task(claim(client, worker, wait=20))
    await asyncio.sleep(0.2)
    assert not waiting.done()
    response = await client.post(f"{API}/builds/{build_id}/approve", headers=developer)
    assert response.status_code == 200, response.text
    claimed, took = await timed(waiting, 10)
    assert claimed.status_code == 200 and claimed.json()["build_id"] == build_id
    assert took < 5
    approved = response.json()
    assert approved["awaiting_approval"] is False
    assert approved["approved_by"].startswith("developer-")
    assert approved["approved_at"] is not None
    assert approved["waiting_reason"] != "waiting for approval"
    again = await client.post(f"{API}/builds/{build_id}/approve", headers=developer)
    assert "does not await" in assert_error(again, 409)

    ctx = client.app.state.ctx  # type: ignore[attr-defined]
    async with ctx.db.transaction() as session:
        actions = list(
            await session.scalars(
                sa.select(AuditEvent.action).where(AuditEvent.target == f"build:{build_id}")
            )
        )
    assert "build.approve" in actions


async def test_a_build_awaiting_approval_can_be_cancelled_and_then_not_approved(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    job = await create_job(client, admin, pipeline=PIPELINE, fork_approval=True)
    build_id = await queue(
        client, job["id"], BuildOrigin(event="pull_request", pull_request=FORK_PR)
    )
    response = await client.post(f"{API}/builds/{build_id}/cancel", headers=admin)
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    late = await client.post(f"{API}/builds/{build_id}/approve", headers=admin)
    assert "finished" in assert_error(late, 409)


async def test_only_forks_wait_and_only_when_the_job_asks(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    asking = await create_job(client, admin, pipeline=PIPELINE, fork_approval=True)
    not_asking = await create_job(client, admin, pipeline=PIPELINE)
    own = PullRequestInfo(number=1, title="t", source_branch="a", target_branch="main")
    for job, pull_request in ((asking, own), (not_asking, FORK_PR)):
        build_id = await queue(
            client, job["id"], BuildOrigin(event="pull_request", pull_request=pull_request)
        )
        assert (await get_build(client, admin, build_id))["awaiting_approval"] is False
        response = await client.post(f"{API}/builds/{build_id}/approve", headers=admin)
        assert_error(response, 409)
    pushed = await trigger(client, admin, asking["id"])
    assert pushed["awaiting_approval"] is False


async def test_a_retry_of_a_forks_build_is_approved_by_whoever_retries_it(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    """Only a developer or an admin may retry, the same people who may approve: retrying is
    choosing to run the fork's code again (docs/security.md)."""
    job = await create_job(client, admin, pipeline=PIPELINE, fork_approval=True)
    worker = await register_worker(client)
    first = await queue(client, job["id"], BuildOrigin(event="pull_request", pull_request=FORK_PR))
    assert (await client.post(f"{API}/builds/{first}/approve", headers=admin)).status_code == 200
    await claim_build(client, worker)
    await finish(client, worker, first)

    developer = await user_headers(client, admin, "developer")
    response = await client.post(f"{API}/builds/{first}/retry", headers=developer)
    assert response.status_code == 201, response.text
    again = response.json()
    assert again["awaiting_approval"] is False
    assert again["approved_by"].startswith("developer-")
    assert (await claim_build(client, worker))["build_id"] == again["id"]


async def test_a_retry_of_a_forks_build_never_approved_waits_for_its_own_approval(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    """Nobody looked at the code of a fork's build cancelled while it waited for approval: a
    retry must not run it unreviewed."""
    job = await create_job(client, admin, pipeline=PIPELINE, fork_approval=True)
    worker = await register_worker(client)
    first = await queue(client, job["id"], BuildOrigin(event="pull_request", pull_request=FORK_PR))
    cancelled = await client.post(f"{API}/builds/{first}/cancel", headers=admin)
    assert cancelled.json()["status"] == "cancelled"

    developer = await user_headers(client, admin, "developer")
    response = await client.post(f"{API}/builds/{first}/retry", headers=developer)
    assert response.status_code == 201, response.text
    again = response.json()
    assert (again["awaiting_approval"], again["approved_by"], again["approved_at"]) == (
        True,
        None,
        None,
    )
    assert (await get_build(client, admin, again["id"]))["waiting_reason"] == (
        "waiting for approval"
    )
    assert (await claim(client, worker)).status_code == 204
    ctx = client.app.state.ctx  # type: ignore[attr-defined]
    async with ctx.db.transaction() as session:
        retry_event = await session.scalar(
            sa.select(AuditEvent).where(
                AuditEvent.action == "build.retry", AuditEvent.target == f"build:{again['id']}"
            )
        )
    assert retry_event is not None and retry_event.details["approved"] is False

    # Its own approval lets it run.
    approved = await client.post(f"{API}/builds/{again['id']}/approve", headers=developer)
    assert approved.status_code == 200, approved.text
    assert (await claim_build(client, worker))["build_id"] == again["id"]


async def test_approving_what_is_not_a_build(client: httpx.AsyncClient, admin: Headers) -> None:
    unknown = await client.post(f"{API}/builds/{uuid.uuid4()}/approve", headers=admin)
    assert_error(unknown, 404)
    garbage = await client.post(f"{API}/builds/not-a-uuid/approve", headers=admin)
    assert garbage.status_code == 422


async def test_fork_secrets_is_the_name_and_secrets_for_forks_still_works(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    job = await create_job(client, admin, fork_secrets=True)
    assert (job["fork_secrets"], job["secrets_for_forks"], job["fork_approval"]) == (
        True,
        True,
        False,
    )
    url = f"{API}/jobs/{job['id']}"
    patched = await client.patch(url, headers=admin, json={"secrets_for_forks": False})
    assert patched.status_code == 200, patched.text
    assert (patched.json()["fork_secrets"], patched.json()["secrets_for_forks"]) == (False, False)
    patched = await client.patch(url, headers=admin, json={"fork_secrets": True})
    assert patched.json()["fork_secrets"] is True
    both = await client.patch(
        url, headers=admin, json={"fork_secrets": True, "secrets_for_forks": False}
    )
    assert both.status_code == 422
    assert (await client.get(url, headers=admin)).json()["fork_secrets"] is True
    refused = await client.patch(url, headers=admin, json={"fork_approval": "sometimes"})
    assert refused.status_code == 422
