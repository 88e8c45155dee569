"""The server's /metrics and request log, for real: two `solvyd server` processes on one
PostgreSQL database (A: token-protected metrics and JSON logs; B: metrics on a port of their
own) and a real agent on A, all started once for the module.

Counters are compared before and after what moves them; gauges against the database, read
here with SQL of our own, and between the two servers."""

import asyncio
import contextlib
import json
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.helpers import UserApi
from tests.support.databases import PostgresDatabases
from tests.support.processes import (
    AGENT_TOKEN,
    Process,
    ServerProcess,
    free_port,
    start_agent,
    start_server,
)

pytestmark = pytest.mark.e2e

METRICS_TOKEN = "metrics-token-d5a1c0ffee"
# Nothing here may be reaped as lost while the module runs.
QUIET = {"SOLVYD_HEARTBEAT_TTL_INTERVALS": "100"}

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
GAUGES = ("solvyd_builds_queued", "solvyd_builds_running", "solvyd_workers")


@dataclass
class Stack:
    database_url: str
    a: ServerProcess
    b: ServerProcess
    b_metrics_port: int
    agent: Process
    api: UserApi


@pytest.fixture(scope="module")
def stack(
    postgres_databases: PostgresDatabases, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    database_url = postgres_databases.require()
    root = tmp_path_factory.mktemp("metrics")
    log_dir = root / "logs"
    log_dir.mkdir()
    started: list[Process] = []
    try:
        a = start_server(
            database_url,
            root / "a",
            log_dir,
            SOLVYD_METRICS_TOKEN=METRICS_TOKEN,
            SOLVYD_LOG_FORMAT="json",
            **QUIET,
        )
        started.append(a.process)
        port = free_port()
        b = start_server(database_url, root / "b", log_dir, SOLVYD_METRICS_PORT=str(port), **QUIET)
        started.append(b.process)
        agent = start_agent(a.url, log_dir, root / "work", name="metrics-agent")
        started.append(agent)
        api = UserApi(a)
        api.wait_for_worker("metrics-agent")
        yield Stack(database_url, a, b, port, agent, api)
        api.http.close()
    finally:
        for process in reversed(started):
            process.stop()


def scrape(url: str, token: str | None = None) -> Samples:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = httpx.get(url, headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def scrape_a(stack: Stack) -> Samples:
    return scrape(f"{stack.a.url}/metrics", METRICS_TOKEN)


def scrape_b(stack: Stack) -> Samples:
    return scrape(f"http://127.0.0.1:{stack.b_metrics_port}/metrics")


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def by_label(samples: Samples, name: str, label: str) -> dict[str, float]:
    return {
        dict(labels)[label]: number
        for (sample, labels), number in samples.items()
        if sample == name and label in dict(labels)
    }


def json_log_lines(process: Process) -> list[dict[str, Any]]:
    lines = []
    for line in process.output().splitlines():
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines


def wait_for_json_lines(
    process: Process, wanted: Callable[[dict[str, Any]], bool], timeout: float = 10
) -> list[dict[str, Any]]:
    """The process's JSON log lines that are `wanted`, once there is one (or the time is up)."""
    deadline = time.monotonic() + timeout
    while True:
        lines = [line for line in json_log_lines(process) if wanted(line)]
        if lines or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


def test_a_build_through_the_agent_moves_the_counters(stack: Stack) -> None:
    job = stack.api.create_job(
        f"metrics-{uuid.uuid4().hex[:6]}",
        "steps:\n  - name: talk\n    commands: ['echo one', 'echo two', 'echo three']\n",
    )
    before = scrape_a(stack)
    build = stack.api.trigger(job["id"])
    finished = stack.api.wait_for_finish(build["id"])
    assert finished["status"] == "success", finished
    after = scrape_a(stack)

    labels = {"job": job["name"], "status": "success", "trigger": "manual"}
    assert value(after, "solvyd_builds_total", **labels) == 1
    assert value(before, "solvyd_builds_total", **labels) == 0
    duration = {"job": job["name"], "status": "success"}
    assert value(after, "solvyd_build_duration_seconds_count", **duration) == 1
    assert value(after, "solvyd_build_duration_seconds_sum", **duration) == pytest.approx(
        finished["duration_seconds"], abs=0.01
    )
    assert (
        value(after, "solvyd_build_queue_seconds_count")
        == value(before, "solvyd_build_queue_seconds_count") + 1
    )
    log_text = stack.api.log_text(build["id"])
    for word in ("one", "two", "three"):
        assert word in log_text
    lines = value(after, "solvyd_log_lines_total") - value(before, "solvyd_log_lines_total")
    size = value(after, "solvyd_log_bytes_total") - value(before, "solvyd_log_bytes_total")
    assert lines >= 3
    assert size >= len("one\ntwo\nthree\n")
    # B did nothing of it: each process counts its own work.
    assert value(scrape_b(stack), "solvyd_builds_total", **labels) == 0


async def _database_counts(database_url: str) -> dict[str, Any]:
    connection = await asyncpg.connect(database_url)
    try:
        queued = await connection.fetchval("SELECT count(*) FROM builds WHERE status = 'queued'")
        running = await connection.fetchval("SELECT count(*) FROM builds WHERE status = 'running'")
        workers = dict(
            await connection.fetch("SELECT status, count(*) FROM workers GROUP BY status")
        )
        busy = await connection.fetchval(
            "SELECT count(DISTINCT b.worker_id) FROM builds b JOIN workers w "
            "ON w.id = b.worker_id WHERE b.status = 'running' AND w.status = 'online'"
        )
        return {"queued": queued, "running": running, "workers": workers, "busy": busy}
    finally:
        await connection.close()


async def _set_offline(database_url: str, worker_id: str) -> None:
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute(
            "UPDATE workers SET status = 'offline' WHERE id = $1", uuid.UUID(worker_id)
        )
    finally:
        await connection.close()


def _register(stack: Stack, name: str) -> str:
    response = httpx.post(
        f"{stack.a.url}/api/v1/workers/register",
        headers={"Authorization": f"Bearer {AGENT_TOKEN}"},
        json={
            "name": name,
            "hostname": name,
            "ip": "127.0.0.1",
            "capabilities": {"labels": [], "executors": ["local"], "concurrency": 1},
        },
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def test_gauges_are_the_database_on_both_servers(stack: Stack) -> None:
    api = stack.api
    # Labels no worker has: these stay queued.
    trivial = "steps: [{name: a, commands: ['echo hi']}]"
    gpu = api.create_job(f"gpu-{uuid.uuid4().hex[:6]}", trivial, labels=["gpu"])
    arm = api.create_job(f"arm-{uuid.uuid4().hex[:6]}", trivial, labels=["linux", "arm"])
    queued = [api.trigger(gpu["id"]), api.trigger(gpu["id"]), api.trigger(arm["id"])]
    # One build running on the agent (so it is busy) while we look.
    sleeper = api.create_job(
        f"sleep-{uuid.uuid4().hex[:6]}", "steps: [{name: s, commands: [sleep 60]}]"
    )
    running = api.trigger(sleeper["id"])
    api.wait_for_status(running["id"], {"running"})
    draining = _register(stack, f"drained-{uuid.uuid4().hex[:6]}")
    api.http.post(f"/workers/{draining}/drain").raise_for_status()
    asyncio.run(_set_offline(stack.database_url, _register(stack, f"gone-{uuid.uuid4().hex[:6]}")))
    try:
        expected = asyncio.run(_database_counts(stack.database_url))
        a, b = scrape_a(stack), scrape_b(stack)
        for samples in (a, b):
            queued_by_labels = by_label(samples, "solvyd_builds_queued", "labels")
            assert queued_by_labels.get("gpu") == 2
            assert queued_by_labels.get("arm,linux") == 1
            assert sum(queued_by_labels.values()) == expected["queued"] == len(queued)
            running_by_labels = by_label(samples, "solvyd_builds_running", "labels")
            assert sum(running_by_labels.values()) == expected["running"] == 1
            assert running_by_labels.get("") == 1
            workers = by_label(samples, "solvyd_workers", "state")
            assert workers == {
                "online": expected["workers"].get("online", 0),
                "draining": expected["workers"].get("draining", 0),
                "offline": expected["workers"].get("offline", 0),
                "busy": expected["busy"],
            }
            assert workers["busy"] == 1
            assert workers["draining"] >= 1 and workers["offline"] >= 1
            pool = by_label(samples, "solvyd_db_pool_connections", "state")
            assert set(pool) == {"in_use", "idle", "overflow"}
            assert pool["in_use"] + pool["idle"] >= 1  # this scrape's own connection
        assert {k: v for k, v in a.items() if k[0] in GAUGES} == {
            k: v for k, v in b.items() if k[0] in GAUGES
        }
    finally:
        api.cancel(running["id"])


def test_routes_are_labelled_by_template(stack: Stack) -> None:
    build_id = str(uuid.uuid4())
    before = scrape_a(stack)
    assert stack.api.http.get(f"/builds/{build_id}").status_code == 404
    assert httpx.get(f"{stack.a.url}/api/v1/no/such/thing", timeout=10).status_code == 404
    assert httpx.get(f"{stack.a.url}/some/page/{build_id}", timeout=10).status_code in (200, 503)
    after = scrape_a(stack)

    template = {"method": "GET", "route": "/api/v1/builds/{build_id}", "status": "404"}
    unmatched = {"method": "GET", "route": "unmatched", "status": "404"}
    assert value(after, "solvyd_http_requests_total", **template) == (
        value(before, "solvyd_http_requests_total", **template) + 1
    )
    assert value(after, "solvyd_http_requests_total", **unmatched) == (
        value(before, "solvyd_http_requests_total", **unmatched) + 1
    )
    ui = by_label(after, "solvyd_http_requests_total", "route")
    assert "ui" in ui
    assert (
        value(
            after,
            "solvyd_http_request_duration_seconds_count",
            method="GET",
            route=template["route"],
        )
        >= 1
    )
    for _, labels in after:
        for label_value in dict(labels).values():
            assert build_id not in label_value


def test_the_metrics_token_is_required_and_never_logged(stack: Stack) -> None:
    url = f"{stack.a.url}/metrics"
    assert httpx.get(url, timeout=10).status_code == 401
    wrong = httpx.get(url, headers={"Authorization": "Bearer not-the-token"}, timeout=10)
    assert wrong.status_code == 401
    assert wrong.headers["www-authenticate"] == "Bearer"
    assert scrape_a(stack)  # 200 with it
    assert METRICS_TOKEN not in stack.a.process.output()
    assert "not-the-token" not in stack.a.process.output()


def test_metrics_on_their_own_port(stack: Stack) -> None:
    # B serves them on its own port, on its API's host, and not on the API port.
    api_port = httpx.get(f"{stack.b.url}/metrics", timeout=10)
    assert api_port.status_code == 404
    samples = scrape_b(stack)
    assert value(samples, "solvyd_server_info", version=_version(samples), database="postgresql")


def _version(samples: Samples) -> str:
    infos = by_label(samples, "solvyd_server_info", "version")
    assert len(infos) == 1
    return next(iter(infos))


def test_request_ids_are_echoed_made_and_logged(stack: Stack) -> None:
    http = stack.api.http
    build_id = str(uuid.uuid4())
    echoed = http.get(f"/builds/{build_id}", headers={"X-Request-ID": "trace-1.a_B"})
    assert echoed.headers["x-request-id"] == "trace-1.a_B"
    made = http.get("/workers")
    assert len(made.headers["x-request-id"]) == 32
    int(made.headers["x-request-id"], 16)
    for malformed in ("bad id", "x" * 129, "a/b", ""):
        answer = http.get("/workers", headers={"X-Request-ID": malformed})
        assert answer.status_code == 200
        assert answer.headers["x-request-id"] != malformed
        assert len(answer.headers["x-request-id"]) == 32

    lines = wait_for_json_lines(
        stack.a.process, lambda line: line.get("request_id") == "trace-1.a_B"
    )
    assert len(lines) == 1, lines
    access = lines[0]
    assert access["event"] == "request"
    assert access["level"] == "info"
    assert access["method"] == "GET"
    assert access["route"] == "/api/v1/builds/{build_id}"
    assert access["status"] == 404
    assert access["build_id"] == build_id
    assert isinstance(access["duration_ms"], float)
    # Never a header: tokens travel there.
    user_token = http.headers["Authorization"].removeprefix("Bearer ")
    assert user_token not in stack.a.process.output()


def test_live_log_viewers(stack: Stack) -> None:
    api = stack.api
    job = api.create_job(f"live-{uuid.uuid4().hex[:6]}", "steps: [{name: s, commands: [sleep 60]}]")
    build = api.trigger(job["id"])
    try:
        api.wait_for_status(build["id"], {"running"})
        with api.http.stream("GET", f"/builds/{build['id']}/logs/stream") as stream:
            assert stream.status_code == 200
            lines = stream.iter_lines()  # kept: dropping it closes the stream
            assert next(lines) == "event: status"
            assert value(scrape_a(stack), "solvyd_live_log_viewers") == 1
        deadline = time.monotonic() + 10
        while value(scrape_a(stack), "solvyd_live_log_viewers") != 0:
            assert time.monotonic() < deadline, "the viewer's stream was never counted closed"
            time.sleep(0.05)
    finally:
        api.cancel(build["id"])
    cancelled = {"job": job["name"], "status": "cancelled", "trigger": "manual"}
    assert value(scrape_a(stack), "solvyd_builds_total", **cancelled) == 1


def test_webhook_deliveries_are_counted(stack: Stack) -> None:
    before = scrape_a(stack)
    answer = httpx.post(
        f"{stack.a.url}/api/v1/hooks/github",
        headers={"X-GitHub-Event": "push", "X-GitHub-Delivery": str(uuid.uuid4())},
        content=b"not json",
        timeout=10,
    )
    assert answer.status_code == 400
    rejected = {"forge": "github", "result": "rejected"}
    assert value(scrape_a(stack), "solvyd_webhook_deliveries_total", **rejected) == (
        value(before, "solvyd_webhook_deliveries_total", **rejected) + 1
    )


def test_the_own_port_stops_with_the_server(stack: Stack) -> None:
    stack.b.process.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{stack.b_metrics_port}/metrics", timeout=5)


def test_the_libraries_log_lines_are_json_too(stack: Stack) -> None:
    """uvicorn's own warning about a request it cannot parse comes out as a JSON line, like
    ours, not in uvicorn's text format: a log collector reads one format."""
    parts = urlsplit(stack.a.url)
    with socket.create_connection((parts.hostname, parts.port), timeout=5) as raw:
        raw.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        with contextlib.suppress(OSError):
            raw.recv(1024)
    warnings = wait_for_json_lines(
        stack.a.process, lambda line: line.get("logger") == "uvicorn.error"
    )
    assert warnings, stack.a.process.output()[-2000:]
    assert warnings[0]["level"] == "warning"
    assert "Invalid HTTP request" in warnings[0]["event"]
    assert "Invalid HTTP request" not in "".join(
        line for line in stack.a.process.output().splitlines() if not line.startswith("{")
    )
