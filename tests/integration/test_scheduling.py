"""Scheduling through the API: labels, per-job limits, cancel_previous, fairness, priorities,
drains, retries (automatic and manual) and the server's own build timeout."""

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import httpx
import pytest

from solvyd.server.settings import ServerSettings
from tests.integration.api_helpers import (
    API,
    FINISHED,
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
    trigger,
)
from tests.support.processes import ADMIN_PASSWORD, AGENT_TOKEN

ONE_STEP = "steps:\n  - name: build\n    commands: [echo hi]\n"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> ServerSettings:
    """Retries, reaper rounds and the timeout grace fast enough to watch within a test."""
    return ServerSettings(
        database_url=database_url,
        data_dir=tmp_path / "data",
        admin_password=ADMIN_PASSWORD,
        agent_token=AGENT_TOKEN,
        secret_key="test-secret-key-0123456789abcdef0123456789",
        retry_backoff_seconds=0.3,
        reaper_interval_seconds=0.1,
        build_timeout_grace_seconds=0.3,
    )


@pytest.fixture
async def admin(client: httpx.AsyncClient) -> Headers:
    return await admin_headers(client)


async def _claimed_id(client: httpx.AsyncClient, worker: Worker) -> str:
    return str((await claim_build(client, worker))["build_id"])


async def _finish(client: httpx.AsyncClient, worker: Worker, build_id: str) -> None:
    for status in ("running", "success"):
        response = await set_status(client, worker, build_id, status)
        assert response.status_code == 200, response.text


async def _wait_for(
    client: httpx.AsyncClient, admin: Headers, build_id: str, done: Any, timeout: float = 10.0
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        build = await get_build(client, admin, build_id)
        if done(build) or time.monotonic() > deadline:
            return build
        await asyncio.sleep(0.05)


# --- labels ---


async def test_only_a_worker_with_every_label_claims_and_an_unrunnable_build_says_why(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    pipeline = ONE_STEP + "labels: [gpu]\n"
    job = await create_job(client, admin, pipeline=pipeline, labels=["linux"])
    build = await trigger(client, admin, job["id"])
    assert build["labels"] == ["gpu", "linux"]  # the job's and the pipeline's
    assert build["waiting_reason"] == "no online worker has the labels gpu, linux"

    plain = await register_worker(client, labels=["linux"])
    assert (await claim(client, plain)).status_code == 204
    assert (await get_build(client, admin, build["id"]))["waiting_reason"] == (
        "no online worker has the labels gpu, linux"
    )

    able = await register_worker(client, labels=["gpu", "linux", "x86"])
    assert (await get_build(client, admin, build["id"]))["waiting_reason"] is None
    assert await _claimed_id(client, able) == build["id"]


async def test_a_build_without_labels_waiting_with_no_worker_online_says_so(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    job = await create_job(client, admin)
    build = await trigger(client, admin, job["id"])
    assert build["waiting_reason"] == "no worker is online"


# --- per-job concurrency and cancel_previous ---


async def test_a_job_limited_to_one_concurrent_build_runs_them_one_at_a_time(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    deploy = await create_job(client, admin, max_concurrent_builds=1)
    first = await trigger(client, admin, deploy["id"])
    second = await trigger(client, admin, deploy["id"])
    worker = await register_worker(client, concurrency=2)

    assert await _claimed_id(client, worker) == first["id"]
    assert (await claim(client, worker)).status_code == 204
    waiting = await get_build(client, admin, second["id"])
    assert waiting["waiting_reason"] == "the job's limit of 1 concurrent builds is reached"

    # The long-polling claim is woken when the first build frees the job's slot.
    pending = asyncio.create_task(claim(client, worker, wait=10))
    await asyncio.sleep(0.2)
    await _finish(client, worker, first["id"])
    response = await asyncio.wait_for(pending, 10)
    assert response.status_code == 200, response.text
    assert response.json()["build_id"] == second["id"]


async def test_racing_claims_never_exceed_a_jobs_limit(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    job = await create_job(client, admin, max_concurrent_builds=2)
    for _ in range(6):
        await trigger(client, admin, job["id"])
    workers = [await register_worker(client) for _ in range(6)]

    answers = await asyncio.gather(*(claim(client, worker) for worker in workers))

    assert sorted(response.status_code for response in answers) == [200, 200, 204, 204, 204, 204]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_claim_that_only_lost_the_jobs_lock_waits_for_it_even_without_wait(
    client: httpx.AsyncClient, admin: Headers, database_url: str
) -> None:
    # Only PostgreSQL has row locks a claim can find taken (SQLite serialises transactions).
    job = await create_job(client, admin, max_concurrent_builds=2)
    queued = await trigger(client, admin, job["id"])
    worker = await register_worker(client)
    holder = await asyncio.wait_for(asyncpg.connect(database_url), 10)
    try:
        # Another transaction (a racing claim, a trigger) holds the job's row for a moment.
        locked = holder.transaction()
        await locked.start()
        await holder.execute("SELECT id FROM jobs WHERE id = $1 FOR UPDATE", uuid.UUID(job["id"]))
        pending = asyncio.create_task(claim(client, worker, wait=0))
        await asyncio.sleep(0.3)
        assert not pending.done(), "the claim gave up while the job was only locked"
        await locked.rollback()
        response = await asyncio.wait_for(pending, 5)
    finally:
        await holder.close(timeout=5)

    assert response.status_code == 200, response.text
    assert response.json()["build_id"] == queued["id"]


async def test_cancel_previous_cancels_older_queued_builds_of_the_same_branch(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    job = await create_job(client, admin, cancel_previous=True)
    worker = await register_worker(client)
    running = await trigger(client, admin, job["id"], branch="main")
    assert await _claimed_id(client, worker) == running["id"]
    assert (await set_status(client, worker, running["id"], "running")).status_code == 200
    older = await trigger(client, admin, job["id"], branch="main")
    other_branch = await trigger(client, admin, job["id"], branch="dev")
    newest = await trigger(client, admin, job["id"], branch="main")

    superseded = await get_build(client, admin, older["id"])
    assert superseded["status"] == "cancelled"
    assert superseded["error_message"] == f"superseded by build #{newest['number']}"
    assert (await get_build(client, admin, running["id"]))["status"] == "running"
    assert (await get_build(client, admin, other_branch["id"]))["status"] == "queued"
    assert (await get_build(client, admin, newest["id"]))["status"] == "queued"


# --- fairness and priorities ---


async def test_a_jobs_backlog_does_not_starve_another_jobs_single_build(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    busy = await create_job(client, admin)
    backlog = [await trigger(client, admin, busy["id"]) for _ in range(20)]
    lone_job = await create_job(client, admin)
    lone = await trigger(client, admin, lone_job["id"])
    workers = [await register_worker(client) for _ in range(3)]

    claimed = [await _claimed_id(client, worker) for worker in workers]

    # Oldest first, but the job with fewer builds on workers goes before a busier one.
    assert claimed == [backlog[0]["id"], lone["id"], backlog[1]["id"]]


async def test_a_higher_priority_job_is_claimed_first(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    normal = await create_job(client, admin)
    urgent = await create_job(client, admin, priority=10)
    early = await trigger(client, admin, normal["id"])
    late = await trigger(client, admin, urgent["id"])
    worker = await register_worker(client, concurrency=2)

    assert [await _claimed_id(client, worker) for _ in range(2)] == [late["id"], early["id"]]


# --- drain ---


async def test_a_drained_worker_claims_nothing_until_resumed_even_across_restarts(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    job = await create_job(client, admin)
    worker = await register_worker(client)
    build = await trigger(client, admin, job["id"])

    response = await client.post(f"{API}/workers/{worker.id}/drain", headers=admin)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "draining"
    assert (await claim(client, worker)).status_code == 204
    again = await register_worker(client, worker.name, worker_token=worker.token)  # restarted
    assert (await claim(client, again)).status_code == 204

    response = await client.post(f"{API}/workers/{worker.id}/resume", headers=admin)
    assert response.json()["status"] == "online"
    assert await _claimed_id(client, again) == build["id"]


async def test_draining_an_unknown_worker_is_a_404(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    response = await client.post(
        f"{API}/workers/00000000-0000-0000-0000-000000000000/drain", headers=admin
    )
    assert_error(response, 404, "not_found")


# --- retries ---


async def test_an_infrastructure_error_is_retried_after_a_backoff_then_ends_error(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    job = await create_job(client, admin, max_retries=1)
    worker = await register_worker(client)
    build = await trigger(client, admin, job["id"])
    assert await _claimed_id(client, worker) == build["id"]
    await set_status(client, worker, build["id"], "running")

    response = await set_status(
        client, worker, build["id"], "error", error_message="executor failed: no docker"
    )
    assert response.status_code == 200, response.text
    assert (response.json()["status"], response.json()["attempt"]) == ("queued", 2)
    requeued = (await client.get(f"{API}/builds/{build['id']}", headers=admin)).json()
    assert requeued["not_before"] is not None
    assert (await claim(client, worker)).status_code == 204  # still backing off

    # The reaper releases it when the backoff has passed and wakes the waiting claim.
    response = await claim(client, worker, wait=5)
    assert response.status_code == 200, response.text
    assert response.json()["build_id"] == build["id"]
    await set_status(client, worker, build["id"], "running")
    response = await set_status(client, worker, build["id"], "error", error_message="again")
    assert (response.json()["status"], response.json()["attempt"]) == ("error", 2)


async def test_a_timed_out_build_is_not_retried(client: httpx.AsyncClient, admin: Headers) -> None:
    job = await create_job(client, admin, max_retries=3)
    worker = await register_worker(client)
    build = await trigger(client, admin, job["id"])
    await _claimed_id(client, worker)
    await set_status(client, worker, build["id"], "running")
    response = await set_status(
        client, worker, build["id"], "error", error_message="build timed out after 1s"
    )
    assert response.json()["status"] == "error"


async def test_a_manual_retry_makes_a_new_build_linked_to_the_old_one(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    job = await create_job(client, admin)
    worker = await register_worker(client)
    build = await trigger(client, admin, job["id"], branch="main", env={"GREETING": "hi"})
    await _claimed_id(client, worker)
    await set_status(client, worker, build["id"], "running", commit_sha="abc1234")
    await set_status(client, worker, build["id"], "failure", exit_code=1)

    response = await client.post(f"{API}/builds/{build['id']}/retry", headers=admin)

    assert response.status_code == 201, response.text
    again = response.json()
    assert again["retry_of"] == build["id"]
    assert again["number"] == build["number"] + 1
    assert (again["status"], again["trigger"]) == ("queued", "retry")
    assert (again["branch"], again["commit_sha"]) == ("main", "abc1234")
    spec = (await claim_build(client, worker))["env"]
    assert spec["GREETING"] == "hi"


async def test_retrying_an_unfinished_build_is_a_conflict(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    job = await create_job(client, admin)
    build = await trigger(client, admin, job["id"])
    response = await client.post(f"{API}/builds/{build['id']}/retry", headers=admin)
    assert_error(response, 409, "conflict")


# --- the server's own build timeout ---


async def test_the_server_ends_a_build_its_agent_left_running_past_its_timeout(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    job = await create_job(client, admin, timeout_seconds=1, max_retries=2)
    worker = await register_worker(client)
    build = await trigger(client, admin, job["id"])
    await _claimed_id(client, worker)
    await set_status(client, worker, build["id"], "running")
    watcher = asyncio.create_task(
        client.get(
            f"{API}/builds/{build['id']}/cancel-wait", headers=worker.headers, params={"wait": 10}
        )
    )

    ended = await _wait_for(client, admin, build["id"], lambda b: b["status"] in FINISHED)

    assert ended["status"] == "error"
    assert ended["error_message"].startswith("timed out after 1s")
    # The agent, if it still lives, is told to stop the build.
    response = await asyncio.wait_for(watcher, 10)
    assert response.json() == {"cancelled": True}
