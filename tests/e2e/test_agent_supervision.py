"""A real agent whose heartbeat or claim loop dies of an answer it cannot parse stops: exit
code 1, one log line naming the loop and the error, its running build stopped and reported
(`error`, agent stopped, which the server retries). The answers come from a relay in front of
a real server, so nothing of the agent is mocked."""

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.helpers import UserApi, one_step
from tests.support.http_relay import HttpRelay
from tests.support.processes import AGENT_TOKEN, Process, ServerProcess, start_agent, start_server

HEARTBEATS = {
    "SOLVYD_HEARTBEAT_INTERVAL_SECONDS": "0.5",
    # The worker must not be reaped as lost while the test has its heartbeats cut: what ends
    # the build is the agent's own report.
    "SOLVYD_HEARTBEAT_TTL_INTERVALS": "60",
}
HEARTBEAT_PATH = r"/api/v1/workers/[^/]+/heartbeat"
CLAIM_PATH = r"/api/v1/workers/[^/]+/claim"
EXIT_SECONDS = 20.0


@pytest.fixture
def server(tmp_path: Path, log_dir: Path) -> Iterator[ServerProcess]:
    # One database is enough: what is tested is the agent process.
    process = start_server(
        f"sqlite:///{tmp_path / 'solvyd.db'}", tmp_path / "data", log_dir, **HEARTBEATS
    )
    try:
        yield process
    finally:
        process.process.stop()


@pytest.fixture
def relay(server: ServerProcess) -> Iterator[HttpRelay]:
    relay = HttpRelay(server.url)
    try:
        yield relay
    finally:
        relay.close()


def _agent(relay: HttpRelay, log_dir: Path, tmp_path: Path, name: str) -> Process:
    return start_agent(relay.url, log_dir, tmp_path / "work" / name, name=name)


def _exit_code(agent: Process) -> int:
    return agent.popen.wait(EXIT_SECONDS)


def _died_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if "stopping the agent: a loop died" in line]


def test_a_heartbeat_loop_that_dies_stops_the_agent_and_its_build(
    server: ServerProcess, relay: HttpRelay, log_dir: Path, tmp_path: Path
) -> None:
    api = UserApi(server)
    agent = _agent(relay, log_dir, tmp_path, "deaf")
    try:
        job = api.create_job(
            f"j-{uuid.uuid4().hex[:6]}", one_step("echo started", "sleep 120"), max_retries=1
        )
        build = api.trigger(job["id"])
        api.wait_for_status(build["id"], {"running"})

        # `has_work` must be a boolean: the agent cannot read this answer.
        relay.answer("POST", HEARTBEAT_PATH, 200, b'{"has_work": "perhaps"}')

        assert _exit_code(agent) == 1
        output = agent.output()
        died = _died_lines(output)
        assert len(died) == 1, output
        assert "loop=heartbeat" in died[0]
        assert re.search(r"HeartbeatReply is not valid \(has_work: .*boolean", died[0]), died[0]
        assert "perhaps" not in died[0]  # the answer's values stay out of the log
        assert AGENT_TOKEN not in output
        assert "Traceback" not in output
        # Its build was stopped as on any stop and reported `error` (agent stopped), which the
        # server retries: the next attempt waits in the queue.
        assert re.search(r"build finished.*reported=True.*status=error", output), output
        again = api.build(build["id"])
        assert (again["status"], again["attempt"], again["worker_id"]) == ("queued", 2, None)
    finally:
        agent.stop()
        api.http.close()


def test_a_claim_loop_that_dies_stops_the_agent(
    server: ServerProcess, relay: HttpRelay, log_dir: Path, tmp_path: Path
) -> None:
    relay.answer("POST", CLAIM_PATH, 200, b'{"build_id": "not-a-uuid", "steps": "none"}')
    agent = _agent(relay, log_dir, tmp_path, "confused")
    try:
        assert _exit_code(agent) == 1
        output = agent.output()
        died = _died_lines(output)
        assert len(died) == 1, output
        assert "loop=claim" in died[0]
        assert "JobSpec is not valid (build_id: " in died[0]
        assert "not-a-uuid" not in died[0]
        assert "Traceback" not in output
    finally:
        agent.stop()


def test_a_build_s_cancel_watcher_that_dies_stops_the_build_and_the_agent(
    server: ServerProcess, relay: HttpRelay, log_dir: Path, tmp_path: Path
) -> None:
    # The watcher's first long poll, as the build starts, gets an answer it cannot read.
    relay.answer("GET", r"/api/v1/builds/[^/]+/cancel-wait", 200, b'{"cancelled": []}')
    api = UserApi(server)
    agent = _agent(relay, log_dir, tmp_path, "unwatched")
    try:
        job = api.create_job(f"j-{uuid.uuid4().hex[:6]}", one_step("sleep 120"), max_retries=1)
        build = api.trigger(job["id"])

        assert _exit_code(agent) == 1
        output = agent.output()
        died = _died_lines(output)
        assert len(died) == 1, output
        assert "loop='cancel watcher'" in died[0], died[0]
        assert "CancelState is not valid (cancelled: " in died[0]
        assert re.search(r"build finished.*reported=True.*status=error", output), output
        again = api.build(build["id"])
        assert (again["status"], again["attempt"]) == ("queued", 2)
    finally:
        agent.stop()
        api.http.close()
