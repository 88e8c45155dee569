"""The build loop under faults: a lost agent, a stopped agent, a server that goes away."""

import contextlib
import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.helpers import UserApi, one_step, wait_for_step_pid
from tests.support.processes import (
    Process,
    ServerProcess,
    spawn,
    start_agent,
    start_server,
    wait_until_healthy,
)

pytestmark = pytest.mark.e2e

FAST_HEARTBEATS = {
    "SOLVYD_HEARTBEAT_INTERVAL_SECONDS": "0.5",
    "SOLVYD_HEARTBEAT_TTL_INTERVALS": "3",
    "SOLVYD_REAPER_INTERVAL_SECONDS": "0.5",
}


@pytest.fixture
def fast_server(database_url: str, tmp_path: Path, log_dir: Path) -> Iterator[ServerProcess]:
    """A server that declares an agent lost after 1.5 s of silence."""
    process = start_server(database_url, tmp_path / "data", log_dir, **FAST_HEARTBEATS)
    try:
        yield process
    finally:
        process.process.stop()


@pytest.fixture
def processes() -> Iterator[list[Process]]:
    started: list[Process] = []
    yield started
    for process in started:
        process.stop()


def _agent(
    server: ServerProcess, log_dir: Path, tmp_path: Path, name: str, **kwargs: object
) -> Process:
    return start_agent(server.url, log_dir, tmp_path / "work" / name, name=name, **kwargs)  # type: ignore[arg-type]


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def test_killed_agent_without_retries_ends_error_worker_lost(
    fast_server: ServerProcess, log_dir: Path, tmp_path: Path, processes: list[Process]
) -> None:
    api = UserApi(fast_server)
    agent = _agent(fast_server, log_dir, tmp_path, "lost")
    processes.append(agent)
    job = api.create_job(
        f"j-{uuid.uuid4().hex[:6]}",
        one_step("echo pid=$$", "sleep 30"),
    )
    build = api.trigger(job["id"])
    api.wait_for_status(build["id"], {"running"})
    pid = wait_for_step_pid(api, build["id"])
    try:
        agent.kill()
        killed_at = time.monotonic()
        finished = api.wait_for_finish(build["id"], timeout=1.5 + 5)
        assert time.monotonic() - killed_at < 1.5 + 5
        assert finished["status"] == "error"
        assert finished["error_message"] == "worker lost"
    finally:
        _kill_group(pid)
        api.http.close()


def test_killed_agent_with_retries_left_is_requeued_and_run_by_another(
    fast_server: ServerProcess, log_dir: Path, tmp_path: Path, processes: list[Process]
) -> None:
    api = UserApi(fast_server)
    first = _agent(fast_server, log_dir, tmp_path, "first")
    processes.append(first)
    api.wait_for_worker("first")
    job = api.create_job(
        f"j-{uuid.uuid4().hex[:6]}",
        one_step("echo pid=$$ attempt on $(hostname)", "sleep 3", "echo finished"),
        max_retries=1,
    )
    build = api.trigger(job["id"])
    api.wait_for_status(build["id"], {"running"})
    pid = wait_for_step_pid(api, build["id"])
    try:
        first.kill()
        processes.append(_agent(fast_server, log_dir, tmp_path, "second"))
        finished = api.wait_for_finish(build["id"], timeout=30)
        assert finished["status"] == "success"
        assert finished["attempt"] == 2
        log = api.log_text(build["id"])
        assert log.splitlines().count("finished") == 1
    finally:
        _kill_group(pid)
        api.http.close()


def test_sigterm_lets_a_running_build_finish(
    server: ServerProcess, log_dir: Path, tmp_path: Path
) -> None:
    api = UserApi(server)
    agent = _agent(server, log_dir, tmp_path, "graceful")
    try:
        job = api.create_job(
            f"j-{uuid.uuid4().hex[:6]}",
            one_step("sleep 1.5", "echo made it"),
        )
        build = api.trigger(job["id"])
        api.wait_for_status(build["id"], {"running"})
        os.kill(agent.pid, signal.SIGTERM)
        assert agent.popen.wait(30) == 0
        finished = api.build(build["id"])
        assert finished["status"] == "success"
        assert "made it" in api.log_text(build["id"])
    finally:
        agent.stop()
        api.http.close()


def test_sigterm_past_the_grace_period_cancels_and_reports(
    server: ServerProcess, log_dir: Path, tmp_path: Path
) -> None:
    api = UserApi(server)
    agent = _agent(server, log_dir, tmp_path, "impatient", extra_args=["--stop-grace", "0.5"])
    try:
        job = api.create_job(f"j-{uuid.uuid4().hex[:6]}", one_step("sleep 60"))
        build = api.trigger(job["id"])
        api.wait_for_status(build["id"], {"running"})
        os.kill(agent.pid, signal.SIGTERM)
        assert agent.popen.wait(20) == 0
        finished = api.build(build["id"])
        assert finished["status"] == "error"
        assert "agent stopped" in finished["error_message"]
    finally:
        agent.stop()
        api.http.close()


def test_agent_rides_out_a_server_restart_without_losing_or_doubling_lines(
    database_url: str, tmp_path: Path, log_dir: Path
) -> None:
    server = start_server(database_url, tmp_path / "data", log_dir)
    agent = _agent(server, log_dir, tmp_path, "steady")
    restarted: Process | None = None
    api = UserApi(server)
    try:
        job = api.create_job(
            f"j-{uuid.uuid4().hex[:6]}",
            one_step("for i in $(seq 1 60); do echo line-$i; sleep 0.05; done"),
        )
        build = api.trigger(job["id"])
        api.wait_for_status(build["id"], {"running"})
        api.http.close()
        assert server.process.stop() == 0
        time.sleep(2)  # the build goes on printing while nobody listens
        port = server.url.rsplit(":", 1)[1]
        restarted = spawn(
            "server-again", ["server", "--host", "127.0.0.1", "--port", port], server.env, log_dir
        )
        wait_until_healthy(restarted, server.url)
        api = UserApi(server)
        finished = api.wait_for_finish(build["id"], timeout=60)
        assert finished["status"] == "success", finished
        lines = [
            line for line in api.log_text(build["id"]).splitlines() if line.startswith("line-")
        ]
        assert lines == [f"line-{i}" for i in range(1, 61)]
    finally:
        api.http.close()
        agent.stop()
        if restarted is not None:
            restarted.stop()
        server.process.stop()
