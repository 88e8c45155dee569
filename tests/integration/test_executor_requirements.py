"""A build goes only to a worker that can run it, on both databases (the in-process app over
ASGI): a step that names no image needs a worker that runs such steps (local, or docker with
a default image). Both claim paths and the heartbeat's `has_work` honour it, and a build no
online worker can run says why."""

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from httpx_sse import aconnect_sse

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
    post_logs,
    register_worker,
    set_status,
    trigger,
    unique,
)
from tests.support.asgi_streaming import StreamingASGITransport
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


# --- a plan read from the repository, handed back after the checkout ---


async def _started_repository_build(
    client: httpx.AsyncClient, admin: Headers, worker: Worker
) -> dict[str, Any]:
    """A build of a job whose pipeline lives in its repository (unknown at trigger time, so
    any worker may claim it), claimed and started by `worker`, its checkout logged."""
    job = await create_job(client, admin, pipeline=None, scm_url="https://example.com/app.git")
    build = await trigger(client, admin, job["id"])
    assert (await claim_build(client, worker))["build_id"] == build["id"]
    assert (await set_status(client, worker, build["id"], "running")).status_code == 200
    step = await client.put(
        f"{API}/builds/{build['id']}/steps/checkout",
        headers=worker.headers,
        json={"status": "running"},
    )
    assert step.status_code == 200, step.text
    logged = await post_logs(client, worker, build["id"], 0, ["cloned"], step="checkout")
    assert logged.status_code in (200, 201, 202), logged.text
    return build


async def _hand_back(
    client: httpx.AsyncClient, worker: Worker, build_id: str, **fields: Any
) -> httpx.Response:
    fields.setdefault("needs_step_without_image", True)
    fields.setdefault("error_message", ".solvyd.yml: the steps lint name no image")
    return await set_status(client, worker, build_id, "queued", attempt=1, **fields)


async def test_a_handed_back_build_waits_for_a_worker_that_runs_steps_without_an_image(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    docker = await _docker_worker(client)
    build = await _started_repository_build(client, admin, docker)

    response = await _hand_back(client, docker, build["id"])
    assert response.status_code == 200, response.text
    waiting = await get_build(client, admin, build["id"])
    assert waiting["status"] == "queued" and waiting["worker_id"] is None
    # A new attempt (its log starts over, and followers are told), but no retry used up.
    assert waiting["attempt"] == 2
    assert docker.name in waiting["error_message"] and "lint" in waiting["error_message"]
    assert waiting["waiting_reason"].startswith(NO_RUNNER)
    assert {s["name"]: s["status"] for s in waiting["steps"]} == {"checkout": "pending"}
    assert (
        await client.get(f"{API}/builds/{build['id']}/logs?format=text", headers=admin)
    ).text == ""

    # The worker that gave it back holds it no more, and never claims it again.
    late = await post_logs(client, docker, build["id"], 1, ["late"], step="checkout")
    assert_error(late, 403)
    assert (await claim(client, docker)).status_code == 204
    assert not await _has_work(client, docker)

    local = await register_worker(client)
    spec = await claim_build(client, local)
    assert spec["build_id"] == build["id"] and spec["attempt"] == 2
    assert (await set_status(client, local, build["id"], "running", attempt=2)).status_code == 200
    running = await get_build(client, admin, build["id"])
    assert running["status"] == "running" and running["error_message"] is None


async def test_a_worker_that_runs_steps_without_an_image_cannot_hand_a_build_back_for_it(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    local = await register_worker(client)
    build = await _started_repository_build(client, admin, local)
    message = assert_error(await _hand_back(client, local, build["id"]), 409)
    assert "runs steps without an image" in message
    unchanged = await get_build(client, admin, build["id"])
    assert unchanged["status"] == "running" and unchanged["worker_id"] == local.id


@pytest.mark.parametrize("value", ["yes", 1, None])
async def test_a_hand_back_with_a_hostile_flag_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, admin: Headers, value: Any
) -> None:
    docker = await _docker_worker(client)
    build = await _started_repository_build(client, admin, docker)
    response = await _hand_back(client, docker, build["id"], needs_step_without_image=value)
    assert "needs_step_without_image" in assert_error(response, 422)
    unchanged = await get_build(client, admin, build["id"])
    assert unchanged["status"] == "running" and unchanged["worker_id"] == docker.id


async def test_a_hand_back_uses_up_no_retry_and_restarts_the_log_stream(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    """A follower of the log sees the handed-back run's lines, then a `reset`, then the next
    run's lines from seq 0; and the job's one retry is still there after the hand-back."""
    docker = await _docker_worker(client)
    job = await create_job(
        client, admin, pipeline=None, scm_url="https://example.com/app.git", max_retries=1
    )
    build = await trigger(client, admin, job["id"])
    assert (await claim_build(client, docker))["build_id"] == build["id"]
    assert (await set_status(client, docker, build["id"], "running")).status_code == 200
    await post_logs(client, docker, build["id"], 0, ["docker-0"], step="checkout")
    await post_logs(client, docker, build["id"], 1, ["docker-1"], step="checkout")

    transport = StreamingASGITransport(client.app)  # type: ignore[attr-defined]
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://test") as http,
        aconnect_sse(http, "GET", f"{API}/builds/{build['id']}/logs/stream", headers=admin) as sse,
    ):
        events = sse.aiter_sse()

        async def text_until(kind: str) -> str:
            seen = ""
            while True:
                event = await asyncio.wait_for(anext(events), timeout=10)
                if event.event in ("lines", "reset"):
                    seen += f"{event.event}:{event.data}\n"
                if event.event == kind:
                    return seen

        assert "docker-1" in await text_until("lines") + await _more_lines(text_until)
        assert (await _hand_back(client, docker, build["id"])).status_code == 200
        assert "docker" not in (await text_until("reset")).split("reset:")[-1]
        local = await register_worker(client)
        assert (await claim_build(client, local))["attempt"] == 2
        running = await set_status(client, local, build["id"], "running", attempt=2)
        assert running.status_code == 200, running.text
        await post_logs(client, local, build["id"], 0, ["local-0"], step="checkout")
        after_reset = await text_until("lines")
        assert "local-0" in after_reset and "docker" not in after_reset

    # An infrastructure error now is the first retry the job allows, not beyond its budget.
    failed = await set_status(
        client, local, build["id"], "error", attempt=2, error_message="executor fault"
    )
    assert failed.status_code == 200, failed.text
    again = await get_build(client, admin, build["id"])
    assert again["status"] == "queued" and again["attempt"] == 3


async def _more_lines(text_until: Callable[[str], Awaitable[str]]) -> str:
    """The two batches may come as one event or two."""
    try:
        return await asyncio.wait_for(text_until("lines"), timeout=0.5)
    except TimeoutError:
        return ""


async def test_the_hand_back_flag_goes_only_with_queued(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    docker = await _docker_worker(client)
    build = await _started_repository_build(client, admin, docker)
    refused = await set_status(
        client, docker, build["id"], "success", attempt=1, needs_step_without_image=True
    )
    assert "needs_step_without_image" in assert_error(refused, 422)
    unchanged = await get_build(client, admin, build["id"])
    assert unchanged["status"] == "running" and unchanged["worker_id"] == docker.id


async def test_a_retry_of_a_handed_back_build_waits_for_a_worker_that_can_run_it(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    docker = await _docker_worker(client)
    build = await _started_repository_build(client, admin, docker)
    assert (await _hand_back(client, docker, build["id"])).status_code == 200
    local = await register_worker(client)
    assert (await claim_build(client, local))["build_id"] == build["id"]
    for status in ("running", "success"):
        done = await set_status(client, local, build["id"], status, attempt=2)
        assert done.status_code == 200, done.text

    retried = await client.post(f"{API}/builds/{build['id']}/retry", headers=admin)
    assert retried.status_code == 201, retried.text
    # The same commit's plan: the docker worker is not handed it only to give it back.
    assert (await claim(client, docker)).status_code == 204
    assert (await claim_build(client, local))["build_id"] == retried.json()["id"]
