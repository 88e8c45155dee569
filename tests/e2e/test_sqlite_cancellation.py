"""A request cancelled mid-flight never leaves the embedded database (SQLite) locked.

A real `solvyd server` on a SQLite file and real agents run builds while the test abandons
hundreds of requests mid-flight: long-poll claims, log long polls and log streams, which the
server cancels when their client goes (the agents give up on their own cancel-waits as each
build ends). Afterwards writes must go through within a second, every build must end
`success`, and the server must never have logged "database is locked" (issue 14, item 0).
"""

import asyncio
import random
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.helpers import UserApi, one_step
from tests.support.databases import SqliteDatabases
from tests.support.processes import AGENT_TOKEN, Process, ServerProcess, start_agent

pytestmark = pytest.mark.e2e

STORM_SECONDS = 10.0
CLAIMS_PER_ROUND = 16
STREAMS_PER_ROUND = 4
FINISHED = {"success", "failure", "cancelled", "error"}


@pytest.fixture
def database_url(sqlite_databases: SqliteDatabases) -> str:
    """SQLite only: the lock this test is about is SQLite's."""
    return asyncio.run(sqlite_databases.create())


@pytest.fixture
def real_agents(server: ServerProcess, log_dir: Path, tmp_path: Path) -> Iterator[list[Process]]:
    agents = [
        start_agent(
            server.url,
            log_dir,
            tmp_path / "work" / f"real-{index}",
            name=f"real-{index}",
            labels="real",
            concurrency=2,
        )
        for index in range(2)
    ]
    yield agents
    for agent in agents:
        agent.stop()


async def _register_storm_worker(http: httpx.AsyncClient, index: int) -> tuple[str, str]:
    """A worker whose labels match no build: its claims search the queue, never win."""
    response = await http.post(
        "/workers/register",
        headers={"Authorization": f"Bearer {AGENT_TOKEN}"},
        json={
            "name": f"storm-{index}-{uuid.uuid4().hex[:6]}",
            "capabilities": {"labels": ["storm"], "executors": ["local"], "concurrency": 1},
        },
    )
    response.raise_for_status()
    body = response.json()
    return str(body["id"]), str(body["token"])


async def _abandon(tasks: list[asyncio.Task[Any]]) -> int:
    """Give up on the requests still in flight, as a client that times out or goes away does:
    their connections close, and the server cancels whatever it was doing for them."""
    in_flight = [task for task in tasks if not task.done()]
    for task in in_flight:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return len(in_flight)


async def test_cancelled_requests_and_long_polls_never_leave_sqlite_locked(
    server: ServerProcess, api: UserApi, real_agents: list[Process]
) -> None:
    for agent in real_agents:
        api.wait_for_worker(agent.name.removeprefix("agent-"))
    job = api.create_job(
        f"storm-{uuid.uuid4().hex[:6]}",
        one_step("for i in 1 2 3 4 5; do echo line $i; sleep 0.05; done"),
        labels=["real"],
    )
    # Triggers that wake the storm's claims make builds of a job no agent can run.
    parked = api.create_job(f"parked-{uuid.uuid4().hex[:6]}", one_step("true"), labels=["none"])
    user = {"Authorization": api.http.headers["Authorization"]}
    # No keep-alive: each request has its own connection, which giving up on it closes.
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=0)
    async with httpx.AsyncClient(
        base_url=f"{server.url}/api/v1", timeout=30, limits=limits
    ) as http:
        storm_workers = [await _register_storm_worker(http, i) for i in range(4)]
        builds: list[str] = []
        deadline = time.monotonic() + STORM_SECONDS

        async def trigger_real_builds() -> None:
            while time.monotonic() < deadline:
                response = await http.post(f"/jobs/{job['id']}/trigger", json={}, headers=user)
                response.raise_for_status()
                builds.append(response.json()["id"])
                await asyncio.sleep(0.3)

        async def claim(worker_id: str, token: str) -> None:
            await http.post(
                f"/workers/{worker_id}/claim",
                json={"wait": 20},
                headers={"Authorization": f"Bearer {token}"},
            )

        async def follow_log(build_id: str) -> None:
            async with http.stream("GET", f"/builds/{build_id}/logs/stream", headers=user) as r:
                async for _ in r.aiter_bytes():
                    pass

        async def log_long_poll(build_id: str) -> None:
            await http.get(f"/builds/{build_id}/logs", params={"wait": 20}, headers=user)

        async def storm() -> int:
            """Rounds of long polls given up just as the server wakes them: every trigger
            wakes every waiting claim, whose transactions then queue for the write lock, and
            the real builds' new lines wake their log readers."""
            abandoned = 0
            while time.monotonic() < deadline:
                tasks = [
                    asyncio.create_task(claim(*storm_workers[i % len(storm_workers)]))
                    for i in range(CLAIMS_PER_ROUND)
                ]
                for build_id in builds[-STREAMS_PER_ROUND:]:
                    tasks.append(asyncio.create_task(follow_log(build_id)))
                    tasks.append(asyncio.create_task(log_long_poll(build_id)))
                await asyncio.sleep(random.uniform(0.2, 0.5))
                woken = await http.post(f"/jobs/{parked['id']}/trigger", json={}, headers=user)
                woken.raise_for_status()
                await asyncio.sleep(random.uniform(0, 0.03))
                abandoned += await _abandon(tasks)
            return abandoned

        _, abandoned = await asyncio.gather(trigger_real_builds(), storm())
        assert abandoned >= 200, f"only {abandoned} requests were given up mid-flight"

        # The requirement: writes go through within a second once the storm is over.
        worker_id, token = storm_workers[0]
        heartbeat = await http.post(
            f"/workers/{worker_id}/heartbeat",
            json={"current_builds": 0, "health_status": "healthy"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=1.0,
        )
        assert heartbeat.status_code == 200, heartbeat.text
        triggered = await http.post(
            f"/jobs/{job['id']}/trigger", json={}, headers=user, timeout=1.0
        )
        assert triggered.status_code == 201, triggered.text
        builds.append(triggered.json()["id"])

    # Every build runs to success: the agents' claims, log batches and status reports (and
    # the cancel-waits they give up on when a build ends) all went through.
    for build_id in builds:
        finished = api.wait_for_status(build_id, FINISHED, timeout=120)
        assert finished["status"] == "success", finished

    log = server.process.output()
    assert "database is locked" not in log
    assert "database unavailable" not in log
