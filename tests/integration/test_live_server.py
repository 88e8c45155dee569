"""Against a real `solvyd server` process over loopback HTTP."""

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.integration.api_helpers import (
    API,
    claim,
    create_job,
    login,
    register_worker,
    trigger,
)
from tests.support.processes import ServerProcess

SEED_ENDPOINTS = [
    ("post", f"{API}/workers/register"),
    ("post", f"{API}/workers/{{worker_id}}/heartbeat"),
    ("get", f"{API}/workers/{{worker_id}}/builds"),
    ("put", f"{API}/builds/{{build_id}}/status"),
    ("post", f"{API}/builds/{{build_id}}/logs"),
    ("post", f"{API}/jobs/{{job_id}}/trigger"),
    ("post", f"{API}/builds/{{build_id}}/cancel"),
]


@pytest.fixture
async def http(server: ServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=15) as client:
        yield client


async def test_live_server_wakes_a_waiting_claim_and_documents_its_api(
    server: ServerProcess, http: httpx.AsyncClient
) -> None:
    admin = await login(http)
    job = await create_job(http, admin)
    worker = await register_worker(http)

    waiting = asyncio.create_task(claim(http, worker, wait=10))
    await asyncio.sleep(0.3)
    assert not waiting.done()
    started = time.monotonic()
    build = await trigger(http, admin, job["id"])
    response = await asyncio.wait_for(waiting, 5)
    elapsed = time.monotonic() - started

    assert response.status_code == 200, response.text
    assert response.json()["build_id"] == build["id"]
    assert elapsed < 1.0

    assert (await http.get("/healthz")).json()["status"] == "ok"
    assert (await http.get("/readyz")).json() == {"status": "ready"}

    # The OpenAPI document is the reference, and the seed's endpoints are in it. (Checked here
    # rather than in a test of its own: a server process takes seconds to start.)
    document = await http.get(f"{API}/openapi.json")
    assert document.status_code == 200
    paths = document.json()["paths"]
    missing = [(m, p) for m, p in SEED_ENDPOINTS if m not in paths.get(p, {})]
    assert missing == []
