"""Two real `solvyd server` processes on one PostgreSQL database, an agent connected to only
one of them: what users do through the other server reaches that agent at once, because the
servers wake each other's long polls through LISTEN/NOTIFY.

The servers hold long polls for up to 60 s and agents heartbeat every 30 s, so only a
cross-server wake-up explains anything that happens within a couple of seconds.
"""

import contextlib
import os
import signal
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.helpers import UserApi, one_step, pid_alive, wait_for_step_pid
from tests.support.processes import Process, ServerProcess, start_agent, start_server

pytestmark = [
    pytest.mark.e2e,
    # LISTEN/NOTIFY is PostgreSQL's; SQLite is single-server.
    pytest.mark.parametrize("database_url", ["postgresql"], indirect=True),
]

SLOW_WITHOUT_WAKE_UPS = {
    "SOLVYD_MAX_CLAIM_WAIT_SECONDS": "60",
    "SOLVYD_HEARTBEAT_INTERVAL_SECONDS": "30",
}
# Far below the 30 s the agent's claim and cancel long polls would otherwise take.
WAKE_UP_BOUND_SECONDS = 2.0


@dataclass
class TwoServers:
    api_a: UserApi  # the user's server
    agent: Process  # connected to server B only


@pytest.fixture
def two_servers(database_url: str, tmp_path: Path, log_dir: Path) -> Iterator[TwoServers]:
    started: list[Process] = []
    apis: list[UserApi] = []
    try:
        server_a = _start_server(database_url, tmp_path / "a", log_dir, started)
        server_b = _start_server(database_url, tmp_path / "b", log_dir, started)
        agent = start_agent(server_b.url, log_dir, tmp_path / "work", name="on-b")
        started.append(agent)
        api_a = UserApi(server_a)
        apis.append(api_a)
        # The worker list lives in the database, so server A sees the agent register on B.
        api_a.wait_for_worker("on-b")
        time.sleep(1)  # the agent's claim long poll is open on B by now
        yield TwoServers(api_a, agent)
    finally:
        for api in apis:
            api.http.close()
        for process in reversed(started):
            process.stop()


def _start_server(
    database_url: str, data_dir: Path, log_dir: Path, started: list[Process]
) -> ServerProcess:
    server = start_server(database_url, data_dir, log_dir, **SLOW_WITHOUT_WAKE_UPS)
    started.append(server.process)
    return server


def _job(api: UserApi, *commands: str) -> dict[str, object]:
    return api.create_job(f"multi-{uuid.uuid4().hex[:8]}", one_step(*commands))


def test_build_triggered_through_one_server_starts_at_once_on_an_agent_of_another(
    two_servers: TwoServers,
) -> None:
    api = two_servers.api_a
    job = _job(api, "echo hello")
    triggered_at = time.monotonic()
    build = api.trigger(str(job["id"]))
    api.wait_for_status(build["id"], {"running", "success"}, timeout=30)
    assert time.monotonic() - triggered_at < WAKE_UP_BOUND_SECONDS
    assert api.wait_for_finish(build["id"])["status"] == "success"


def test_log_follower_and_cancel_through_one_server_reach_an_agent_of_another(
    two_servers: TwoServers,
) -> None:
    api = two_servers.api_a
    job = _job(api, "echo pid=$$", "sleep 3", "echo later-line", "sleep 60")
    build = api.trigger(str(job["id"]))
    build_id = build["id"]
    pid = wait_for_step_pid(api, build_id)
    try:
        # A follower on A, long polling past what is stored, hears the agent's next batch
        # (sent to B) as soon as B stores it.
        after = api.http.get(f"/builds/{build_id}/logs").json()["next_after"]
        follow_started = time.monotonic()
        texts: list[str] = []
        while "later-line" not in texts:
            assert time.monotonic() - follow_started < 3 + WAKE_UP_BOUND_SECONDS, texts
            page = api.http.get(
                f"/builds/{build_id}/logs", params={"after": after, "wait": 30}
            ).json()
            texts += [line["text"] for line in page["lines"]]
            after = page["next_after"]
        assert time.monotonic() - follow_started < 3 + WAKE_UP_BOUND_SECONDS

        # Cancelled through A: the agent's cancel watcher, long polling B, stops the step.
        cancelled_at = time.monotonic()
        assert api.cancel(build_id)["status"] == "cancelled"
        while pid_alive(pid):
            assert time.monotonic() - cancelled_at < WAKE_UP_BOUND_SECONDS, "step still runs"
            time.sleep(0.02)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)  # the step's processes, if the cancel missed them
