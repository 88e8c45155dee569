"""`solvyd server --workers 2` for real, on PostgreSQL: both processes serve on the one port, a
build runs on a real agent, a claim waiting in one process is woken by a trigger the other
handled, one scrape counts both processes' requests, a process that dies is replaced, and
stopping the parent stops them all.

Which process serves a request is the kernel's choice (both accept on the port's socket): the
tests find out, for each connection they open, which process holds its other end."""

import os
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.helpers import UserApi, one_step
from tests.support.databases import PostgresDatabases
from tests.support.processes import (
    AGENT_TOKEN,
    ServerProcess,
    spawn,
    start_agent,
    start_server,
)

pytestmark = pytest.mark.e2e

# Without a wake-up, a claim would wait this long, and a lost agent be noticed this late.
SLOW_WITHOUT_WAKE_UPS = {
    "SOLVYD_MAX_CLAIM_WAIT_SECONDS": "60",
    "SOLVYD_HEARTBEAT_INTERVAL_SECONDS": "30",
}
WAKE_UP_BOUND_SECONDS = 2.0
# Connections opened to find one served by each process: the kernel hands each to either.
ATTEMPTS = 40


@dataclass
class Pinned:
    """A client whose one keep-alive connection is served by the process `pid`."""

    http: httpx.Client
    pid: int
    port: int  # the connection's local port


@dataclass
class Workers:
    server: ServerProcess
    api: UserApi

    @property
    def port(self) -> int:
        return int(self.server.url.rsplit(":", 1)[1])

    def children(self) -> list[int]:
        return sorted(p.pid for p in psutil.Process(self.server.process.pid).children())

    def serving_process(self, client_port: int) -> int:
        """The pid of the process at the other end of the connection from `client_port`."""
        for pid in self.children():
            for c in psutil.Process(pid).net_connections("tcp"):
                if c.laddr.port == self.port and c.raddr and c.raddr.port == client_port:
                    return pid
        raise AssertionError(f"no server process holds the connection from {client_port}")

    def client_of_each_process(self, headers: dict[str, str] | None = None) -> dict[int, Pinned]:
        found: dict[int, Pinned] = {}
        for _ in range(ATTEMPTS):
            client = httpx.Client(
                base_url=f"{self.server.url}/api/v1",
                headers=headers,
                timeout=30,
                limits=httpx.Limits(max_connections=1),
            )
            response = client.get(f"{self.server.url}/healthz")
            response.raise_for_status()
            port = _client_port(response)
            pid = self.serving_process(port)
            if pid in found:
                client.close()
                continue
            found[pid] = Pinned(client, pid, port)
            if len(found) == 2:
                return found
        for pinned in found.values():
            pinned.http.close()
        raise AssertionError(f"all {ATTEMPTS} connections went to one process")


def _client_port(response: httpx.Response) -> int:
    """The local port of the (kept-alive) connection that carried `response`."""
    return int(response.extensions["network_stream"].get_extra_info("client_addr")[1])


@pytest.fixture(scope="module")
def workers(
    postgres_databases: PostgresDatabases, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Workers]:
    # An empty database: the first process migrates it, and only then do the others start.
    database_url = postgres_databases.require(empty=True)
    root = tmp_path_factory.mktemp("workers")
    log_dir = root / "logs"
    log_dir.mkdir()
    server = start_server(database_url, root / "data", log_dir, workers=2, **SLOW_WITHOUT_WAKE_UPS)
    agent = None
    try:
        agent = start_agent(server.url, log_dir, root / "work", name="workers-agent")
        api = UserApi(server)
        api.wait_for_worker("workers-agent")
        yield Workers(server, api)
        api.http.close()
    finally:
        if agent is not None:
            agent.stop()
        server.process.stop()


def test_both_processes_serve_and_a_build_runs_on_a_real_agent(workers: Workers) -> None:
    assert len(workers.children()) == 2
    for pinned in workers.client_of_each_process().values():
        pinned.http.close()
    job = workers.api.create_job(f"w-{uuid.uuid4().hex[:8]}", one_step("echo from-a-worker"))
    build = workers.api.trigger(str(job["id"]))
    assert workers.api.wait_for_finish(build["id"])["status"] == "success"
    assert "from-a-worker" in workers.api.log_text(build["id"])


def test_a_claim_waiting_in_one_process_is_woken_by_a_trigger_through_the_other(
    workers: Workers,
) -> None:
    label = f"pinned-{uuid.uuid4().hex[:8]}"
    registered = httpx.post(
        f"{workers.server.url}/api/v1/workers/register",
        headers={"Authorization": f"Bearer {AGENT_TOKEN}"},
        json={
            "name": label,
            "capabilities": {"labels": [label], "executors": ["local"], "concurrency": 1},
        },
        timeout=30,
    )
    registered.raise_for_status()
    worker = registered.json()
    job = workers.api.create_job(label, one_step("true"), labels=[label])
    claimers = workers.client_of_each_process({"Authorization": f"Bearer {worker['token']}"})
    users = workers.client_of_each_process(
        {"Authorization": workers.api.http.headers["Authorization"]}
    )
    claim_pid, other_pid = sorted(claimers)
    claimer, user = claimers[claim_pid], users[other_pid]
    claimed: list[httpx.Response] = []
    waiting = threading.Thread(
        target=lambda: claimed.append(
            claimer.http.post(f"/workers/{worker['id']}/claim", json={"wait": 30})
        )
    )
    try:
        waiting.start()
        time.sleep(1)  # the claim waits in its process by now
        assert not claimed
        triggered_at = time.monotonic()
        triggered = user.http.post(f"/jobs/{job['id']}/trigger", json={})
        triggered.raise_for_status()
        waiting.join(WAKE_UP_BOUND_SECONDS)
        assert time.monotonic() - triggered_at < WAKE_UP_BOUND_SECONDS
        assert claimed and claimed[0].status_code == 200, claimed
        assert claimed[0].json()["build_id"] == triggered.json()["id"]
        # Each went over its pinned connection, so through its process.
        assert _client_port(claimed[0]) == claimer.port
        assert _client_port(triggered) == user.port
    finally:
        waiting.join(35)
        for pinned in (*claimers.values(), *users.values()):
            pinned.http.close()


def _healthz_requests(workers: Workers) -> float:
    text = httpx.get(f"{workers.server.url}/metrics", timeout=10).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "solvyd_http_requests_total" and sample.labels["route"] == "/healthz":
                return sample.value
    return 0.0


def test_one_scrape_counts_the_requests_of_every_process(workers: Workers) -> None:
    clients = workers.client_of_each_process()
    try:
        before = _healthz_requests(workers)
        for pinned in clients.values():
            for _ in range(5):
                pinned.http.get(f"{workers.server.url}/healthz").raise_for_status()
        # Whichever process answers the scrape.
        for _ in range(3):
            assert _healthz_requests(workers) - before == 10
        text = httpx.get(f"{workers.server.url}/metrics", timeout=10).text
        # One family each, never one per process (Prometheus refuses a name typed twice).
        assert text.count("# TYPE solvyd_db_pool_connections gauge") == 1
        assert text.count("# TYPE solvyd_server_info gauge") == 1
        pool = {
            sample.labels["state"]: sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == "solvyd_db_pool_connections"
        }
        # Both processes' pools: each holds connections for its background loops by now.
        assert set(pool) == {"in_use", "idle", "overflow"}
        assert pool["in_use"] + pool["idle"] >= 2, pool
    finally:
        for pinned in clients.values():
            pinned.http.close()


def test_a_process_that_dies_is_replaced(workers: Workers) -> None:
    before = workers.children()
    os.kill(before[0], signal.SIGKILL)
    deadline = time.monotonic() + 60
    while "the new server process serves" not in workers.server.process.output():
        assert time.monotonic() < deadline, workers.server.process.output()
        time.sleep(0.1)
    lines = workers.server.process.output().splitlines()
    (ended,) = [line for line in lines if "a server process ended; starting another" in line]
    assert f"ended='killed by SIGKILL' pid={before[0]}" in ended
    (new,) = set(workers.children()) - set(before)
    (serves,) = [line for line in lines if "the new server process serves" in line]
    assert f"pid={new}" in serves
    for pinned in workers.client_of_each_process().values():
        pinned.http.close()


def test_stopping_the_parent_stops_every_process(
    postgres_databases: PostgresDatabases, tmp_path: Path, log_dir: Path
) -> None:
    server = start_server(postgres_databases.require(), tmp_path / "data", log_dir, workers=2)
    parent = psutil.Process(server.process.pid)
    children = parent.children()
    metrics_dirs = {Path(child.environ()["PROMETHEUS_MULTIPROC_DIR"]) for child in children}
    assert len(children) == 2 and len(metrics_dirs) == 1
    started = time.monotonic()
    assert server.process.stop() == 0
    # Within the children's own shutdown budget (5 s for their requests, 3 s for the events).
    assert time.monotonic() - started < 10
    assert not [child for child in children if child.is_running()]
    assert not metrics_dirs.pop().exists()


def test_sqlite_with_several_workers_is_refused(tmp_path: Path, log_dir: Path) -> None:
    process = spawn(
        "server",
        ["server", "--port", "1", "--workers", "2"],
        {"SOLVYD_DATA_DIR": str(tmp_path / "data"), "SOLVYD_DATABASE_URL": ""},
        log_dir,
    )
    assert process.popen.wait(30) == 1
    assert "--workers 2 needs PostgreSQL" in process.output()
    assert not (tmp_path / "data").exists()


def test_a_first_process_that_cannot_start_stops_the_server(tmp_path: Path, log_dir: Path) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        nobody = closed.getsockname()[1]
    process = spawn(
        "server",
        ["server", "--port", "0", "--workers", "2"],
        {
            "SOLVYD_DATA_DIR": str(tmp_path / "data"),
            "SOLVYD_DATABASE_URL": f"postgresql://solvyd@127.0.0.1:{nobody}/solvyd",
        },
        log_dir,
    )
    try:
        assert process.popen.wait(60) == 1
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    assert "server process 1 of 2" in process.output()
    assert "could not start (exit code 3)" in process.output()
