"""Fault test 4: fifty real agents race for a thousand queued builds on PostgreSQL, and every
build runs exactly once: counted by the executions themselves, not by the status column."""

import collections
import os
import signal
import time
import uuid
from pathlib import Path

import pytest

from tests.e2e.helpers import UserApi, one_step
from tests.support.processes import Process, start_agent, start_server

# Fifty agents hold both cores for minutes: run alone (make test).
pytestmark = [pytest.mark.e2e, pytest.mark.serial]

AGENTS = 50
BUILDS = 1000
JOBS = 4


@pytest.mark.timeout(600)
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_fifty_agents_run_a_thousand_builds_each_exactly_once(
    database_url: str, tmp_path: Path, log_dir: Path
) -> None:
    executions = tmp_path / "executions"
    executions.touch()
    server = start_server(database_url, tmp_path / "data", log_dir)
    agents: list[Process] = []
    api = UserApi(server)
    try:
        # Each execution appends its build id: one short O_APPEND write, atomic on Linux.
        pipeline = one_step(f'echo "$SOLVYD_BUILD_ID" >> {executions}')
        jobs = [api.create_job(f"scale-{i}-{uuid.uuid4().hex[:6]}", pipeline) for i in range(JOBS)]
        triggered = {api.trigger(jobs[i % JOBS]["id"])["id"] for i in range(BUILDS)}
        assert len(triggered) == BUILDS

        for i in range(AGENTS):
            agents.append(
                start_agent(
                    server.url,
                    log_dir,
                    tmp_path / "work" / f"a{i}",
                    name=f"racer-{i}",
                    # The steps count themselves in a file of the test's, which a sandboxed
                    # step can neither see nor write (its /tmp is its own).
                    extra_args=["--isolation", "none"],
                )
            )

        deadline = time.monotonic() + 420
        while _any_build(api, "queued") or _any_build(api, "running"):
            assert time.monotonic() < deadline, "builds still queued or running after 420 s"
            time.sleep(1)

        finished = _build_statuses(api, "success")
        assert finished.keys() == triggered, "some builds did not end in success"
        counts = collections.Counter(executions.read_text().split())
        assert set(counts) == triggered
        doubled = {build_id: n for build_id, n in counts.items() if n != 1}
        assert not doubled, f"builds executed more than once: {doubled}"
        ran_on = {w["name"] for w in api.http.get("/workers").json()["items"]}
        assert len(ran_on) == AGENTS
    finally:
        api.http.close()
        for agent in agents:  # all at once: each stops within a second or so
            if agent.popen.poll() is None:
                os.kill(agent.pid, signal.SIGTERM)
        for agent in agents:
            agent.stop()
        server.process.stop()


def _any_build(api: UserApi, status: str) -> bool:
    page = api.http.get("/builds", params={"status": status, "limit": 1}).json()
    return bool(page["items"])


def _build_statuses(api: UserApi, status: str) -> dict[str, str]:
    """Every build with `status`, paging through the keyset cursor."""
    found: dict[str, str] = {}
    cursor: str | None = None
    while True:
        params: dict[str, str | int] = {"status": status, "limit": 200}
        if cursor:
            params["cursor"] = cursor
        page = api.http.get("/builds", params=params).json()
        found.update({build["id"]: build["status"] for build in page["items"]})
        cursor = page["next_cursor"]
        if cursor is None:
            return found
