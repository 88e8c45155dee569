"""A build rides out a fault of the things around it, with no log line lost or doubled:
the server SIGKILLed and restarted, its PostgreSQL stopped and started, the network between
agent and server cut and restored. Real processes throughout; every wait is bounded.

Each build prints numbered lines in paced chunks so that it spans the outage. The fault is
struck once the first chunk is stored (so the build is running and shipping logs), and the
build must end `success`, on its first attempt, with exactly `line-1` .. `line-N` in order.
"""

import contextlib
import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.conftest import IN_CI
from tests.e2e.helpers import UserApi, one_step, wait_for_step_pid
from tests.support.pg_cluster import PgCluster, postgres_bindir
from tests.support.processes import (
    Process,
    ServerProcess,
    spawn,
    start_agent,
    start_server,
    wait_until_healthy,
)
from tests.support.tcp_proxy import TcpProxy

pytestmark = pytest.mark.e2e

LINES = 10_000
FINISHED = {"success", "failure", "cancelled", "error"}
# What the agent logs when a call to the server fails and will be retried.
AGENT_RETRY_MARKERS = ("server unavailable", "heartbeat failed", "claim failed")


def numbered_lines(count: int, chunk: int, pause: float) -> str:
    """A step printing `line-1` .. `line-<count>`, `chunk` lines at a time, `pause` s apart."""
    return (
        f"for i in $(seq 1 {count}); do echo line-$i; "
        f"if [ $((i % {chunk})) -eq 0 ]; then sleep {pause}; fi; done"
    )


def numbered(log: str) -> list[str]:
    return [line for line in log.splitlines() if line.startswith("line-")]


def wait_for_line(api: UserApi, build_id: str, line: str, timeout: float = 20.0) -> list[str]:
    """Wait until `line` is stored in the build's log; answers the numbered lines so far."""
    deadline = time.monotonic() + timeout
    while True:
        lines = numbered(api.log_text(build_id))
        if line in lines:
            return lines
        assert time.monotonic() < deadline, f"{line} not stored within {timeout}s"
        time.sleep(0.05)


def wait_for_finish_through_faults(api: UserApi, build_id: str, timeout: float) -> dict[str, Any]:
    """Poll the build until it is finished, tolerating a server that still fails (5xx, refused
    connections) while it recovers from the fault."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            response = api.http.get(f"/builds/{build_id}")
        except httpx.TransportError as exc:
            last = exc
        else:
            last = f"{response.status_code}: {response.text[:500]}"
            if response.status_code < 500:
                response.raise_for_status()
                build = dict(response.json())
                if build["status"] in FINISHED:
                    return build
        time.sleep(0.1)
    raise AssertionError(f"build {build_id} not finished within {timeout}s; last: {last}")


def kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def agent_retried(agent: Process) -> bool:
    output = agent.output()
    return any(marker in output for marker in AGENT_RETRY_MARKERS)


def assert_complete(api: UserApi, build: dict[str, Any], count: int, *logs: Process) -> None:
    evidence = "\n".join(f"--- {p.name} ({p.log_path}):\n{p.output()[-4000:]}" for p in logs)
    assert build["status"] == "success", f"{build}\n{evidence}"
    assert build["attempt"] == 1, f"the build was requeued: {build}\n{evidence}"
    lines = numbered(api.log_text(build["id"]))
    expected = [f"line-{i}" for i in range(1, count + 1)]
    if lines != expected:
        seen = set(lines)
        missing = [line for line in expected if line not in seen]
        doubled = sorted({line for line in lines if lines.count(line) > 1})
        raise AssertionError(
            f"{len(lines)} lines stored, {len(missing)} missing (first {missing[:5]}), "
            f"{len(doubled)} doubled (first {doubled[:5]}), in order: "
            f"{sorted(lines, key=lambda s: int(s[5:])) == lines}\n{evidence}"
        )


def _start_build(api: UserApi, count: int, chunk: int, pause: float) -> tuple[str, int]:
    job = api.create_job(
        f"j-{uuid.uuid4().hex[:6]}", one_step("echo pid=$$", numbered_lines(count, chunk, pause))
    )
    build_id = str(api.trigger(job["id"])["id"])
    api.wait_for_status(build_id, {"running"})
    return build_id, wait_for_step_pid(api, build_id)


@pytest.mark.timeout(60)
def test_build_survives_a_sigkilled_server_restarted_on_the_same_port(
    database_url: str, tmp_path: Path, log_dir: Path
) -> None:
    server = start_server(database_url, tmp_path / "data", log_dir)
    agent = start_agent(server.url, log_dir, tmp_path / "work", name="survivor")
    restarted: Process | None = None
    api = UserApi(server)
    step_pid: int | None = None
    try:
        # 40 chunks of 250 lines, 0.15 s apart: about 6 s, spanning the 2 s outage.
        build_id, step_pid = _start_build(api, LINES, 250, 0.15)
        before = wait_for_line(api, build_id, "line-250")
        server.process.kill()  # SIGKILL: no graceful shutdown, connections just drop
        assert server.process.popen.returncode == -signal.SIGKILL
        assert len(before) < LINES, "the build ended before the server was killed"
        time.sleep(2)  # the build goes on printing while no server listens
        port = server.url.rsplit(":", 1)[1]
        restarted = spawn(
            "server-again", ["server", "--host", "127.0.0.1", "--port", port], server.env, log_dir
        )
        wait_until_healthy(restarted, server.url)
        api.http.close()
        api = UserApi(server)
        finished = wait_for_finish_through_faults(api, build_id, timeout=40)
        assert_complete(api, finished, LINES, agent, server.process, restarted)
        assert agent_retried(agent), f"the agent never saw the server gone:\n{agent.output()}"
    finally:
        api.http.close()
        if step_pid is not None:
            kill_group(step_pid)
        agent.stop()
        if restarted is not None:
            restarted.stop()
        server.process.stop()


@pytest.fixture
def pg_cluster() -> Iterator[PgCluster]:
    """A private PostgreSQL the test may stop (initdb takes about 0.5 s, so one per test)."""
    bindir = postgres_bindir()
    if bindir is None:
        problem = "no PostgreSQL binaries under /usr/lib/postgresql/*/bin"
        if IN_CI:
            pytest.fail(problem)
        pytest.skip(problem)
    cluster = PgCluster(bindir)
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        cluster.close()  # by its pid: SIGINT, bounded wait, SIGKILL


@pytest.mark.timeout(60)
def test_build_survives_postgresql_stopped_for_five_seconds(
    pg_cluster: PgCluster, tmp_path: Path, log_dir: Path
) -> None:
    server = start_server(pg_cluster.create_database(), tmp_path / "data", log_dir)
    agent = start_agent(server.url, log_dir, tmp_path / "work", name="patient")
    api = UserApi(server)
    step_pid: int | None = None
    try:
        # About 6 s of output around a 5 s outage.
        build_id, step_pid = _start_build(api, LINES, 250, 0.15)
        before = wait_for_line(api, build_id, "line-250")
        postmaster = pg_cluster.pid
        pg_cluster.stop()  # fast shutdown: the server's connections are terminated
        assert len(before) < LINES, "the build ended before PostgreSQL was stopped"
        time.sleep(5)  # the database is gone; the build goes on printing
        pg_cluster.start()
        assert pg_cluster.pid != postmaster
        finished = wait_for_finish_through_faults(api, build_id, timeout=40)
        assert_complete(api, finished, LINES, agent, server.process)
        assert agent_retried(agent), f"the agent never saw the outage:\n{agent.output()}"
        # The outage is answered 503 "unavailable" and logged in one line, not as a crash.
        server_log = server.process.output()
        assert "database unavailable" in server_log
        assert "Traceback" not in server_log, server_log[-4000:]
    finally:
        api.http.close()
        if step_pid is not None:
            kill_group(step_pid)
        agent.stop()
        server.process.stop()


@pytest.mark.timeout(60)
def test_build_survives_a_ten_second_network_cut_between_agent_and_server(
    server: ServerProcess, tmp_path: Path, log_dir: Path
) -> None:
    # `server` has the default heartbeats (10 s, TTL 3 intervals = 30 s): a 10 s cut stays
    # under the TTL, so the server must not declare the agent lost.
    target = urlsplit(server.url)
    assert target.hostname is not None and target.port is not None
    proxy = TcpProxy(target.hostname, target.port)
    agent = start_agent(proxy.url, log_dir, tmp_path / "work", name="cut-off")
    api = UserApi(server)  # the test itself talks to the server directly
    step_pid: int | None = None
    try:
        # 50 chunks of 200 lines, 0.3 s apart: about 15 s, spanning the 10 s cut.
        build_id, step_pid = _start_build(api, LINES, 200, 0.3)
        before = wait_for_line(api, build_id, "line-200")
        proxy.cut()
        assert len(before) < LINES, "the build ended before the network was cut"
        # 10 s in which no connection gets through while the build goes on printing; after
        # the first second (a request in flight at the cut may still land) the log is frozen.
        time.sleep(1)
        frozen = numbered(api.log_text(build_id))
        time.sleep(9)
        assert numbered(api.log_text(build_id)) == frozen, "lines got through the cut"
        assert len(frozen) < LINES
        proxy.restore()
        finished = wait_for_finish_through_faults(api, build_id, timeout=40)
        assert_complete(api, finished, LINES, agent, server.process)
        assert proxy.connections_reset > 0, "the cut reset no open connection"
        assert agent_retried(agent), f"the agent never saw the cut:\n{agent.output()}"
    finally:
        api.http.close()
        if step_pid is not None:
            kill_group(step_pid)
        agent.stop()
        proxy.close()
