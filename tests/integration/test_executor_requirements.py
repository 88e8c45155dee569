"""A build goes only to a worker that can run it, on both databases (the in-process app over
ASGI): a step that names no image needs a worker that runs such steps (local, or docker with
a default image). Both claim paths and the heartbeat's `has_work` honour it, and a build no
online worker can run says why."""

from typing import Any

import httpx
import pytest

from tests.integration.api_helpers import (
    API,
    Headers,
    Worker,
    admin_headers,
    assert_error,
    bearer,
    claim,
    claim_build,
    create_job,
    get_build,
    register_worker,
    trigger,
    unique,
)
from tests.support.processes import AGENT_TOKEN

IMAGELESS = "steps:\n  - name: lint\n    commands: [echo lint]\n"
WITH_IMAGE = "steps:\n  - name: lint\n    image: busybox\n    commands: [echo lint]\n"
# One step with an image is not enough: every step runs on the same agent.
MIXED = WITH_IMAGE + "  - name: wheel\n    commands: [echo wheel]\n"
NO_RUNNER = "no online worker can run steps without an image"


@pytest.fixture
async def admin(client: httpx.AsyncClient) -> Headers:
    return await admin_headers(client)


async def _docker_worker(client: httpx.AsyncClient, **capabilities: Any) -> Worker:
    capabilities.setdefault("runs_steps_without_image", False)
    return await register_worker(client, executors=["docker"], **capabilities)


async def _queued(client: httpx.AsyncClient, admin: Headers, pipeline: str) -> dict[str, Any]:
    job = await create_job(client, admin, pipeline=pipeline)
    return await trigger(client, admin, job["id"])


async def _has_work(client: httpx.AsyncClient, worker: Worker) -> bool:
    response = await client.post(
        f"{API}/workers/{worker.id}/heartbeat", headers=worker.headers, json={}
    )
    assert response.status_code == 200, response.text
    return bool(response.json()["has_work"])


async def test_a_docker_worker_without_a_default_image_claims_only_builds_it_can_run(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    # Queued first, so the oldest-first order would hand them out before the runnable one.
    imageless = await _queued(client, admin, IMAGELESS)
    mixed = await _queued(client, admin, MIXED)
    docker = await _docker_worker(client, concurrency=4)
    assert not await _has_work(client, docker)
    runnable = await _queued(client, admin, WITH_IMAGE)
    assert await _has_work(client, docker)

    assert (await claim_build(client, docker))["build_id"] == runnable["id"]
    assert (await claim(client, docker)).status_code == 204

    local = await register_worker(client, concurrency=4)
    assert await _has_work(client, local)
    claimed = {(await claim_build(client, local))["build_id"] for _ in range(2)}
    assert claimed == {imageless["id"], mixed["id"]}


async def test_the_polling_path_assigns_a_docker_worker_only_builds_it_can_run(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    await _queued(client, admin, IMAGELESS)
    runnable = await _queued(client, admin, WITH_IMAGE)
    docker = await _docker_worker(client, concurrency=4)

    response = await client.get(f"{API}/workers/{docker.id}/builds", headers=docker.headers)
    assert response.status_code == 200, response.text
    assert [b["id"] for b in response.json()["builds"]] == [runnable["id"]]


async def test_a_docker_worker_with_a_default_image_claims_a_step_without_an_image(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    build = await _queued(client, admin, IMAGELESS)
    docker = await _docker_worker(client, runs_steps_without_image=True)
    assert await _has_work(client, docker)
    assert (await claim_build(client, docker))["build_id"] == build["id"]


async def test_an_older_docker_agent_that_does_not_say_is_judged_by_its_executor(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    build = await _queued(client, admin, IMAGELESS)
    older = await register_worker(client, executors=["docker"])
    assert (await claim(client, older)).status_code == 204
    workers = (await client.get(f"{API}/workers", headers=admin)).json()["items"]
    [row] = [w for w in workers if w["id"] == older.id]
    assert row["runs_steps_without_image"] is False
    assert (await get_build(client, admin, build["id"]))["waiting_reason"] == NO_RUNNER + (
        " (a local agent, or a docker agent started with --default-image)"
    )


async def test_a_build_no_online_worker_can_run_says_why_until_one_can(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    build = await _queued(client, admin, MIXED)
    assert build["waiting_reason"] == "no worker is online"
    await _docker_worker(client)
    reason = (await get_build(client, admin, build["id"]))["waiting_reason"]
    assert reason.startswith(NO_RUNNER) and "--default-image" in reason
    listed = (await client.get(f"{API}/builds", headers=admin)).json()["items"]
    assert [b["waiting_reason"] for b in listed if b["id"] == build["id"]] == [reason]

    # A build whose every step names an image waits for nothing but a free worker.
    runnable = await _queued(client, admin, WITH_IMAGE)
    assert (await get_build(client, admin, runnable["id"]))["waiting_reason"] is None

    await register_worker(client)
    assert (await get_build(client, admin, build["id"]))["waiting_reason"] is None


@pytest.mark.parametrize("value", ["yes", "true", 1, 0, [], {}, [True]])
async def test_a_registration_with_a_hostile_capability_is_refused_and_saves_nothing(
    client: httpx.AsyncClient, admin: Headers, value: Any
) -> None:
    name = unique("hostile")
    response = await client.post(
        f"{API}/workers/register",
        headers=bearer(AGENT_TOKEN),
        json={
            "name": name,
            "capabilities": {"executors": ["docker"], "runs_steps_without_image": value},
        },
    )
    message = assert_error(response, 422)
    assert "runs_steps_without_image" in message
    workers = (await client.get(f"{API}/workers", headers=admin)).json()["items"]
    assert name not in [w["name"] for w in workers]
