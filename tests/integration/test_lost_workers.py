"""A worker that falls silent loses its build to another; when it comes back it is told to
stop, and nothing it still sends about that build is taken."""

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from solvyd.server.settings import ServerSettings
from tests.integration.api_helpers import (
    API,
    Headers,
    Worker,
    admin_headers,
    claim,
    claim_build,
    create_job,
    get_build,
    post_logs,
    register_worker,
    set_status,
    trigger,
)
from tests.support.processes import ADMIN_PASSWORD, AGENT_TOKEN


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> ServerSettings:
    """A worker silent for 0.6 s is lost; retries wait 0.2 s."""
    return ServerSettings(
        database_url=database_url,
        data_dir=tmp_path / "data",
        admin_password=ADMIN_PASSWORD,
        agent_token=AGENT_TOKEN,
        secret_key="test-secret-key-0123456789abcdef0123456789",
        heartbeat_interval_seconds=0.2,
        heartbeat_ttl_intervals=3,
        reaper_interval_seconds=0.1,
        retry_backoff_seconds=0.2,
    )


async def test_a_worker_back_from_silence_is_told_to_stop_the_build_another_now_runs(
    client: httpx.AsyncClient,
) -> None:
    admin: Headers = await admin_headers(client)
    job = await create_job(client, admin, max_retries=1)
    silent = await register_worker(client)
    build = await trigger(client, admin, job["id"])
    assert (await claim_build(client, silent))["build_id"] == build["id"]
    assert (await set_status(client, silent, build["id"], "running")).status_code == 200

    # Nobody heartbeats for `silent`: the reaper requeues its build for a second attempt.
    # The reaper looks every 0.1 s and the worker is lost after 0.6 s; the rest of the bound
    # is for a machine that stalls (a CI run once took over 10 s here).
    deadline = time.monotonic() + 30
    while (await get_build(client, admin, build["id"]))["attempt"] != 2:
        assert time.monotonic() < deadline, "the silent worker's build was never requeued"
        await asyncio.sleep(0.05)
    other = await register_worker(client)
    stop = asyncio.Event()
    alive = asyncio.create_task(_keep_alive(client, other, stop))
    try:
        await _take_over(client, admin, silent, other, build["id"])
    finally:
        # Not cancelled: a request cancelled inside its transaction would hold SQLite's lock.
        stop.set()
        await asyncio.wait_for(alive, 10)


async def _keep_alive(client: httpx.AsyncClient, worker: Worker, stop: asyncio.Event) -> None:
    while not stop.is_set():
        await client.post(f"{API}/workers/{worker.id}/heartbeat", headers=worker.headers, json={})
        await asyncio.sleep(0.1)


async def _take_over(
    client: httpx.AsyncClient, admin: Headers, silent: Worker, other: Worker, build_id: str
) -> None:
    response = await claim(client, other, wait=5)
    assert response.json()["build_id"] == build_id
    assert (await set_status(client, other, build_id, "running")).status_code == 200

    heartbeat = await client.post(
        f"{API}/workers/{silent.id}/heartbeat",
        headers=silent.headers,
        json={"current_builds": 1, "build_ids": [build_id]},
    )
    assert heartbeat.json()["cancelled_builds"] == [build_id]
    assert (await post_logs(client, silent, build_id, 0, ["stale"])).status_code == 403
    assert (await set_status(client, silent, build_id, "success")).status_code == 403

    assert (await post_logs(client, other, build_id, 0, ["fresh"])).status_code == 200
    assert (await set_status(client, other, build_id, "success")).status_code == 200
    text = await client.get(
        f"{API}/builds/{build_id}/logs", headers=admin, params={"format": "text"}
    )
    assert text.text == "fresh\n"
    assert (await get_build(client, admin, build_id))["status"] == "success"


async def test_reports_of_an_earlier_attempt_are_refused_even_from_the_same_worker(
    client: httpx.AsyncClient,
) -> None:
    admin: Headers = await admin_headers(client)
    job = await create_job(client, admin, max_retries=1)
    worker = await register_worker(client)
    build = await trigger(client, admin, job["id"])
    spec = await claim_build(client, worker)
    assert spec["attempt"] == 1
    assert (await set_status(client, worker, build["id"], "running", attempt=1)).status_code == 200

    # The reaper looks every 0.1 s and the worker is lost after 0.6 s; the rest of the bound
    # is for a machine that stalls (a CI run once took over 10 s here).
    deadline = time.monotonic() + 30
    while (await get_build(client, admin, build["id"]))["attempt"] != 2:
        assert time.monotonic() < deadline, "the silent worker's build was never requeued"
        await asyncio.sleep(0.05)
    again = await register_worker(
        client, worker.name, worker_token=worker.token
    )  # it comes back and claims it again
    response = await claim(client, again, wait=5)
    assert response.json()["attempt"] == 2

    stale = await client.post(
        f"{API}/builds/{build['id']}/logs",
        headers=again.headers,
        json={"seq": 5, "lines": [{"text": "old run"}], "attempt": 1},
    )
    assert stale.status_code == 409, stale.text
    assert (await set_status(client, again, build["id"], "success", attempt=1)).status_code == 409
    current = await client.post(
        f"{API}/builds/{build['id']}/logs",
        headers=again.headers,
        json={"seq": 0, "lines": [{"text": "new run"}], "attempt": 2},
    )
    assert current.status_code == 200, current.text
