"""Live logs: ingest throughput of one server, and the latency of a line to a viewer.

Starts `solvyd server` on a fresh PostgreSQL database (or SQLite), then
1. ingest: 20 builds are claimed by 20 workers that the benchmark registers itself (it speaks
   the agents' HTTP protocol: register, claim, `running`, heartbeats); a sender process then
   POSTs log batches for all 20 at once, one sender per build, each sending its next batch
   (seq + 1) as soon as the previous one was answered, for a fixed time. Request bodies are
   pre-encoded bytes, so the client costs little; its CPU is measured next to the server's.
   Lines and bytes stored are counted in the database afterwards (`build_logs.line_count`,
   `builds.log_bytes`), not taken from the sender. Two runs: 1,000-line batches of 80-char
   lines (81 KB of text, a little more than the 64 KiB at which an agent seals a batch; the
   body is ~115 KB with the timestamps) and 100-line batches (the per-request cost).
2. latency: a real `solvyd agent` (local executor) runs a build whose step prints one line
   every 10 ms; viewers follow `GET /builds/{id}/logs/stream` (SSE) and, per line, take the
   time it was received minus the line's `ts` (when the agent read it; same clock). Cases:
   1 viewer, 10 viewers, 1 viewer on a second server process on the same database while the
   agent reports to the first (cross-replica, via LISTEN/NOTIFY; PostgreSQL only), and
   1 viewer while the 20 builds of part 1 flood the server with 1,000-line batches.
Only lines read after a viewer was connected count (the step's first line, `$ command`,
usually comes before). CPU: the server processes, the benchmark's database backends
(PostgreSQL), the sender process, the whole machine (psutil).
`--py-spy PATH` also profiles the server during the main ingest run (`--profile FILE`).
Prints one JSON line on stdout, progress on stderr (about 2 minutes with the defaults).
Usage: python bench/logs.py [--database postgresql|sqlite] [--duration 30] [--keep-logs]
"""

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import multiprocessing.connection
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import httpx
import psutil
from httpx_sse import aconnect_sse

from common import (
    AGENT_TOKEN,
    PASSWORD,
    collect_log_problems,
    cpu_seconds,
    create_job,
    drop_pg_database,
    free_port,
    latency_summary,
    load_average,
    machine_description,
    make_pg_database,
    rss_mb,
    server_env,
    spawn_agent,
    start_server,
    stop_all,
    timestamp,
    trigger,
    wait_finished,
    wait_for_agents,
)
from scale import PostgresBackendsCpu

LINE_CHARS = 80
STEP = "t"
HEARTBEAT_EVERY_SECONDS = 5.0
REQUEST_TIMEOUT_SECONDS = 60.0


def progress(message: str) -> None:
    print(f"[logs {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# The ingest sender: a child process, so its CPU is its own and the viewers' event loop (in
# the parent) is not slowed down by it.


@dataclass
class Held:
    """A build held by one of the benchmark's workers."""

    worker_id: str
    worker_token: str
    build_id: str
    attempt: int
    next_seq: int = 0


def line_text(index: int) -> str:
    text = (
        f"[{index:07d}] compiling src/solvyd/module_{index % 997:03d}.py ... ok ({index % 89}ms) "
    )
    return (text + "=" * LINE_CHARS)[:LINE_CHARS]


def batch_tail(lines: int, ts: str, attempt: int) -> bytes:
    """Everything of a batch's JSON body after its seq (the lines do not change per seq)."""
    body = {
        "step": STEP,
        "attempt": attempt,
        "lines": [{"text": line_text(i), "ts": ts} for i in range(lines)],
    }
    return b", " + json.dumps(body).encode()[1:]


async def flood(url: str, held: list[Held], batch_lines: int, duration: float) -> dict[str, Any]:
    """One sender per build, each POSTing its next batch as soon as the last one was
    answered, until `duration` is over."""
    ts = datetime.now(UTC).isoformat()
    tails = {h.build_id: batch_tail(batch_lines, ts, h.attempt) for h in held}
    latencies: list[float] = []
    counts = {"requests": 0, "lines_acknowledged": 0, "not_stored": 0}
    errors: list[str] = []
    limits = httpx.Limits(max_connections=len(held) + 5, max_keepalive_connections=len(held) + 5)
    async with httpx.AsyncClient(
        base_url=f"{url}/api/v1", timeout=REQUEST_TIMEOUT_SECONDS, limits=limits
    ) as http:
        deadline = time.monotonic() + duration

        async def sender(h: Held) -> None:
            path = f"/builds/{h.build_id}/logs"
            headers = {
                "Authorization": f"Bearer {h.worker_token}",
                "Content-Type": "application/json",
            }
            tail = tails[h.build_id]
            while time.monotonic() < deadline:
                body = b'{"seq": ' + str(h.next_seq).encode() + tail
                sent = time.perf_counter()
                try:
                    response = await http.post(path, content=body, headers=headers)
                except httpx.HTTPError as exc:
                    errors.append(f"{type(exc).__name__}: {exc}")
                    return
                latencies.append((time.perf_counter() - sent) * 1000)
                if response.status_code != 200:
                    errors.append(f"{response.status_code}: {response.text[:200]}")
                    return
                counts["requests"] += 1
                if b'"stored":true' in response.content:
                    counts["lines_acknowledged"] += batch_lines
                else:
                    counts["not_stored"] += 1
                h.next_seq += 1

        started = time.monotonic()
        await asyncio.gather(*(sender(h) for h in held))
        elapsed = time.monotonic() - started
    return {
        **counts,
        "seconds": elapsed,
        "latencies_ms": latencies,
        "errors": errors,
        "next_seq": {h.build_id: h.next_seq for h in held},
    }


def sender_main(
    conn: multiprocessing.connection.Connection,
    url: str,
    held: list[Held],
    batch_lines: int,
    duration: float,
) -> None:
    """The child's entry point: say ready, wait for go, flood, send the result back."""
    conn.send("ready")
    if not conn.poll(120) or conn.recv() != "go":
        return
    me = psutil.Process()
    before = me.cpu_times()
    result = asyncio.run(flood(url, held, batch_lines, duration))
    after = me.cpu_times()
    result["cpu_seconds"] = (after.user + after.system) - (before.user + before.system)
    conn.send(result)


class SenderProcesses:
    """`count` sender processes sharing the held builds; started, then `go`, then `results`."""

    def __init__(self, url: str, held: list[Held], batch_lines: int, duration: float, count: int):
        context = multiprocessing.get_context("spawn")
        self.duration = duration
        self.processes: list[Any] = []
        self.pipes: list[multiprocessing.connection.Connection] = []
        for index in range(count):
            mine = held[index::count]
            parent_end, child_end = context.Pipe()
            process = context.Process(
                target=sender_main,
                args=(child_end, url, mine, batch_lines, duration),
                name=f"log-sender-{index}",
            )
            process.start()
            self.processes.append(process)
            self.pipes.append(parent_end)

    async def ready(self, timeout: float = 60) -> None:
        for pipe in self.pipes:
            if not await asyncio.to_thread(pipe.poll, timeout) or pipe.recv() != "ready":
                raise RuntimeError("a sender process did not start")

    def go(self) -> None:
        for pipe in self.pipes:
            pipe.send("go")

    async def results(self) -> list[dict[str, Any]]:
        found = []
        for pipe in self.pipes:
            if not await asyncio.to_thread(pipe.poll, self.duration + 2 * REQUEST_TIMEOUT_SECONDS):
                raise TimeoutError("a sender process did not report")
            found.append(pipe.recv())
        return found

    def stop(self) -> None:
        for process in self.processes:
            process.join(5)
            if process.is_alive():
                process.terminate()
                process.join(5)
            if process.is_alive():
                process.kill()
                process.join(5)


# Measuring


def idle_seconds(times: Any) -> float:
    return float(times.idle + times.iowait)


def busy_percent(before: Any, after: Any) -> float:
    """How busy the whole machine was between two psutil.cpu_times()."""
    total = sum(after) - sum(before)
    return round(100 * (1 - (idle_seconds(after) - idle_seconds(before)) / total), 1)


class Meter:
    """CPU seconds of the servers, the database's backends and the machine, and the size of
    what was stored, between `start` and `stop`."""

    def __init__(self, bench: "Bench") -> None:
        self.bench = bench
        self.backends = PostgresBackendsCpu(bench.pg_name) if bench.pg_name else None

    async def start(self) -> None:
        if self.backends:
            await self.backends.start()
        self.stored_before = await self.bench.stored()
        self.started_at = time.monotonic()
        self.servers_before = [cpu_seconds(pid) for pid in self.bench.server_pids]
        self.machine_before = psutil.cpu_times()

    async def stop(self) -> dict[str, Any]:
        elapsed = time.monotonic() - self.started_at
        servers = [
            cpu_seconds(pid) - before
            for pid, before in zip(self.bench.server_pids, self.servers_before, strict=True)
        ]
        machine = psutil.cpu_times()
        if self.backends:
            await self.backends.stop()
        stored_after = await self.bench.stored()
        total = sum(machine) - sum(self.machine_before)
        idle = idle_seconds(machine) - idle_seconds(self.machine_before)
        return {
            "elapsed": elapsed,
            "servers_seconds": servers,
            "postgres_backends_seconds": self.backends.seconds() if self.backends else None,
            "machine_busy_percent": busy_percent(self.machine_before, machine),
            "machine_busy_seconds": total - idle,
            "stored": {key: stored_after[key] - self.stored_before[key] for key in stored_after},
        }


@dataclass
class Bench:
    url: str
    second_url: str | None
    database: str
    pg_name: str | None
    database_url: str
    sqlite_path: Path | None
    server_pids: list[int]
    admin_token: str = ""
    held: list[Held] = field(default_factory=list)

    async def stored(self) -> dict[str, int]:
        """Lines, batches and bytes stored in the whole database (nothing else writes logs
        while an ingest run is measured)."""
        lines_sql = "SELECT COALESCE(SUM(line_count), 0), COUNT(*) FROM build_logs"
        bytes_sql = "SELECT COALESCE(SUM(log_bytes), 0) FROM builds"
        if self.sqlite_path is not None:
            with contextlib.closing(
                sqlite3.connect(f"file:{self.sqlite_path}?mode=ro", uri=True)
            ) as db:
                lines, batches = db.execute(lines_sql).fetchone()
                (size,) = db.execute(bytes_sql).fetchone()
        else:
            connection = await asyncpg.connect(self.database_url)
            try:
                lines, batches = await connection.fetchrow(lines_sql)
                size = await connection.fetchval(bytes_sql)
            finally:
                await connection.close()
        return {"lines": int(lines), "batches": int(batches), "bytes": int(size)}


async def admin_client(url: str) -> httpx.AsyncClient:
    http = httpx.AsyncClient(base_url=f"{url}/api/v1", timeout=REQUEST_TIMEOUT_SECONDS)
    response = await http.post("/auth/login", json={"username": "admin", "password": PASSWORD})
    response.raise_for_status()
    http.headers["Authorization"] = f"Bearer {response.json()['access_token']}"
    return http


async def hold_builds(http: httpx.AsyncClient, count: int, timeout: float = 60) -> list[Held]:
    """Trigger `count` builds and have `count` registered workers claim one each and report
    it running, as agents would."""
    job_id = await create_job(http, "ingest")
    for _ in range(count):
        await trigger(http, job_id)
    held = []
    deadline = time.monotonic() + timeout
    for index in range(count):
        registration = {
            "name": f"ingest-{index}",
            "capabilities": {"executors": ["local"], "concurrency": 1},
        }
        response = await http.post(
            "/workers/register",
            json=registration,
            headers={"Authorization": f"Bearer {AGENT_TOKEN}"},
        )
        response.raise_for_status()
        worker = response.json()
        auth = {"Authorization": f"Bearer {worker['token']}"}
        while True:
            response = await http.post(
                f"/workers/{worker['id']}/claim", json={"wait": 5}, headers=auth
            )
            response.raise_for_status()
            if response.status_code == 200:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"worker {index} claimed nothing within {timeout}s")
        spec = response.json()
        attempt = int(spec.get("attempt") or 1)
        running = {"status": "running", "attempt": attempt}
        response = await http.put(f"/builds/{spec['build_id']}/status", json=running, headers=auth)
        response.raise_for_status()
        held.append(Held(worker["id"], worker["token"], str(spec["build_id"]), attempt))
    return held


async def heartbeats(url: str, held: list[Held]) -> None:
    """Keep the benchmark's workers alive (a silent worker loses its builds)."""
    async with httpx.AsyncClient(base_url=f"{url}/api/v1", timeout=REQUEST_TIMEOUT_SECONDS) as http:
        while True:
            for h in held:
                with contextlib.suppress(httpx.HTTPError):
                    await http.post(
                        f"/workers/{h.worker_id}/heartbeat",
                        json={"current_builds": 1, "build_ids": [h.build_id]},
                        headers={"Authorization": f"Bearer {h.worker_token}"},
                    )
            await asyncio.sleep(HEARTBEAT_EVERY_SECONDS)


def summarise_ingest(
    batch_lines: int, processes: int, results: list[dict[str, Any]], measured: dict[str, Any]
) -> dict[str, Any]:
    seconds = max(r["seconds"] for r in results)
    stored = measured["stored"]
    server = measured["servers_seconds"][0]
    servers = sum(measured["servers_seconds"])
    client = sum(r["cpu_seconds"] for r in results)
    latencies = [ms for r in results for ms in r["latencies_ms"]]
    backends = measured["postgres_backends_seconds"]
    lines = stored["lines"]
    return {
        "batch_lines": batch_lines,
        "line_chars": LINE_CHARS,
        "builds": sum(len(r["next_seq"]) for r in results),
        "sender_processes": processes,
        "seconds": round(seconds, 2),
        "requests": sum(r["requests"] for r in results),
        "lines_acknowledged": sum(r["lines_acknowledged"] for r in results),
        "lines_stored": lines,
        "batches_stored": stored["batches"],
        "bytes_stored": stored["bytes"],
        "lines_per_second": round(lines / seconds),
        "mb_per_second": round(stored["bytes"] / seconds / 1e6, 2),
        "requests_per_second": round(stored["batches"] / seconds, 1),
        "post_ms": latency_summary(latencies) if latencies else None,
        "errors": [e for r in results for e in r["errors"]][:5],
        "not_stored": sum(r["not_stored"] for r in results),
        "cpu": {
            "server_seconds": round(server, 1),
            "server_cores_busy": round(server / measured["elapsed"], 2),
            "server_seconds_per_100k_lines": round(server / lines * 1e5, 2) if lines else None,
            "server_ms_per_request": round(server / stored["batches"] * 1000, 2)
            if stored["batches"]
            else None,
            "second_server_seconds": round(servers - server, 1),
            "postgres_backends_seconds": round(backends, 1) if backends is not None else None,
            "sender_seconds": round(client, 1),
            "sender_cores_busy": round(client / seconds, 2),
            "machine_busy_percent": measured["machine_busy_percent"],
            # Everything else on the machine (another job, PostgreSQL's own processes, the
            # benchmark's parent, the agent): what competed with the server for the 2 cores.
            "other_cores_busy": round(
                (measured["machine_busy_seconds"] - servers - (backends or 0) - client)
                / measured["elapsed"],
                2,
            ),
        },
    }


def start_py_spy(py_spy: str, output: Path, pid: int, duration: float) -> subprocess.Popen[bytes]:
    """Sample `pid` for `duration` seconds, C frames included (the garbage collector shows
    as `gc_collect_main`); collapsed stacks (one line per stack and its sample count), which
    `flamegraph.pl` and speedscope read. Each sample pauses the server for a moment, so the
    figures of a profiled run are a little lower."""
    command = [py_spy, "record", "--pid", str(pid), "--format", "raw", "--native"]
    command += ["--duration", str(round(duration)), "--output", str(output)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL)


async def ingest_run(
    bench: Bench,
    batch_lines: int,
    duration: float,
    processes: int,
    profile: tuple[str, Path] | None = None,
) -> dict[str, Any]:
    """One flood of the held builds; with `profile` (py-spy's path, an output file), the
    first server is sampled by py-spy meanwhile."""
    senders = SenderProcesses(bench.url, bench.held, batch_lines, duration, processes)
    recorder: subprocess.Popen[bytes] | None = None
    try:
        await senders.ready()
        meter = Meter(bench)
        await meter.start()
        if profile:
            recorder = start_py_spy(*profile, bench.server_pids[0], duration)
        senders.go()
        results = await senders.results()
        measured = await meter.stop()
    finally:
        senders.stop()
        if recorder is not None:
            try:
                await asyncio.to_thread(recorder.wait, 30)
            except subprocess.TimeoutExpired:
                stop_all([recorder])
    for h in bench.held:
        for result in results:
            h.next_seq = result["next_seq"].get(h.build_id, h.next_seq)
    summary = summarise_ingest(batch_lines, processes, results, measured)
    progress(
        f"ingest, {batch_lines}-line batches: {summary['lines_per_second']} lines/s stored, "
        f"server {summary['cpu']['server_cores_busy']} core, "
        f"sender {summary['cpu']['sender_cores_busy']} core"
    )
    return summary


# Latency


def printing_pipeline(lines: int, interval_ms: float, head_start: float) -> str:
    """One step printing `lines` lines, one per `interval_ms`, after `head_start` seconds
    (time for the viewers to connect). JSON is YAML."""
    script = (
        f"import time; time.sleep({head_start}); "
        f"[(print('line %05d ' % i + '-' * 60, flush=True), time.sleep({interval_ms / 1000}))"
        f" for i in range({lines})]"
    )
    command = f'{sys.executable} -c "{script}"'
    return json.dumps({"steps": [{"name": "print", "commands": [command]}]})


@dataclass
class Viewer:
    connected_at: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    before_connect: int = 0
    events: int = 0
    ended: bool = False


async def view(url: str, token: str, build_id: str, viewer: Viewer, timeout: float) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        httpx.AsyncClient(
            base_url=f"{url}/api/v1", timeout=httpx.Timeout(timeout), headers=headers
        ) as http,
        aconnect_sse(http, "GET", f"/builds/{build_id}/logs/stream") as source,
    ):
        source.response.raise_for_status()
        viewer.connected_at = time.time()
        async for event in source.aiter_sse():
            received = time.time()
            if event.event == "end":
                viewer.ended = True
                return
            if event.event != "lines":
                continue
            viewer.events += 1
            for line in json.loads(event.data)["lines"]:
                read_at = timestamp(line["ts"])
                if read_at < viewer.connected_at:
                    viewer.before_connect += 1
                else:
                    viewer.latencies_ms.append((received - read_at) * 1000)


async def latency_case(
    bench: Bench,
    http: httpx.AsyncClient,
    job_id: str,
    viewer_url: str,
    viewers: int,
    timeout: float,
) -> dict[str, Any]:
    servers_before = [cpu_seconds(pid) for pid in bench.server_pids]
    machine_before = psutil.cpu_times()
    started = time.monotonic()
    build = await trigger(http, job_id)
    found = [Viewer() for _ in range(viewers)]
    async with asyncio.timeout(timeout):
        await asyncio.gather(
            *(view(viewer_url, bench.admin_token, build["id"], v, timeout) for v in found)
        )
    elapsed = time.monotonic() - started
    servers = [
        (cpu_seconds(pid) - before) / elapsed
        for pid, before in zip(bench.server_pids, servers_before, strict=True)
    ]
    machine = psutil.cpu_times()
    (finished,) = await wait_finished(http, [build["id"]], 30)
    latencies = [ms for v in found for ms in v.latencies_ms]
    if not latencies:
        raise RuntimeError(f"no live line reached the viewers (build {finished['status']})")
    return {
        "viewers": viewers,
        "build_status": finished["status"],
        "all_ended": all(v.ended for v in found),
        "lines_per_viewer": round(len(latencies) / viewers),
        "lines_before_connect": sum(v.before_connect for v in found),
        # Batches the agent sent (one `lines` event each): about one per line when it keeps up.
        "lines_per_event": round(len(latencies) / max(1, sum(v.events for v in found)), 2),
        "read_to_viewer_ms": latency_summary(latencies),
        "servers_cores_busy": [round(busy, 2) for busy in servers],
        "machine_busy_percent": busy_percent(machine_before, machine),
    }


async def run_latency(
    bench: Bench, args: argparse.Namespace, http: httpx.AsyncClient
) -> dict[str, Any]:
    pipeline = printing_pipeline(args.latency_lines, args.interval_ms, args.head_start)
    response = await http.post("/jobs", json={"name": "printer", "pipeline": pipeline})
    response.raise_for_status()
    job_id = response.json()["id"]
    timeout = args.head_start + args.latency_lines * args.interval_ms / 1000 * 2 + 60
    # Warm up: the agent's first build, the step's python start-up.
    warm = await trigger(http, job_id)
    await wait_finished(http, [warm["id"]], timeout)
    result: dict[str, Any] = {
        "lines": args.latency_lines,
        "interval_ms": args.interval_ms,
    }
    cases: list[tuple[str, str, int]] = [
        ("one_viewer", bench.url, 1),
        ("ten_viewers", bench.url, 10),
    ]
    if bench.second_url:
        cases.append(("cross_replica_one_viewer", bench.second_url, 1))
    for name, viewer_url, viewers in cases:
        result[name] = await latency_case(bench, http, job_id, viewer_url, viewers, timeout)
        progress(f"latency, {name}: {result[name]['read_to_viewer_ms']}")

    # Under load: the 20 held builds flood the server while one viewer follows the printer.
    flood_seconds = args.head_start + args.latency_lines * args.interval_ms / 1000 + 4
    senders = SenderProcesses(bench.url, bench.held, args.batch_lines, flood_seconds, 1)
    try:
        await senders.ready()
        meter = Meter(bench)
        await meter.start()
        senders.go()
        await asyncio.sleep(1)  # the flood is on before the build starts
        case = await latency_case(bench, http, job_id, bench.url, 1, timeout)
        results = await senders.results()
        measured = await meter.stop()
    finally:
        senders.stop()
    for h in bench.held:
        h.next_seq = results[0]["next_seq"].get(h.build_id, h.next_seq)
    ingest = summarise_ingest(args.batch_lines, 1, results, measured)
    case["meanwhile_ingest"] = {
        key: ingest[key]
        for key in ("batch_lines", "seconds", "lines_per_second", "post_ms", "errors")
    } | {
        key: ingest["cpu"][key]
        for key in ("server_cores_busy", "sender_cores_busy", "machine_busy_percent")
    }
    result["one_viewer_under_ingest_load"] = case
    progress(f"latency under ingest load: {case['read_to_viewer_ms']}")
    return result


async def run_bench(
    bench: Bench, args: argparse.Namespace, start_agent: Callable[[], None]
) -> dict[str, Any]:
    result: dict[str, Any] = {}
    http = await admin_client(bench.url)
    heart: asyncio.Task[None] | None = None
    try:
        bench.admin_token = http.headers["Authorization"].removeprefix("Bearer ")
        bench.held = await hold_builds(http, args.builds)
        heart = asyncio.create_task(heartbeats(bench.url, bench.held))
        progress(f"{args.builds} builds held by {args.builds} workers")
        if not args.skip_latency:
            start_agent()  # only now: it must not claim the ingest builds
        # Warm up the ingest path (first connections, first inserts).
        await ingest_run(bench, args.batch_lines, 2, args.sender_processes)
        result["ingest"] = [
            await ingest_run(
                bench,
                args.batch_lines,
                args.duration,
                args.sender_processes,
                (args.py_spy, args.profile) if args.py_spy else None,
            ),
            await ingest_run(
                bench, args.small_batch_lines, args.small_duration, args.sender_processes
            ),
        ]
        result["server_rss_mb_after_ingest"] = rss_mb(bench.server_pids[0])
        if not args.skip_latency:
            await wait_for_agents(http, args.builds + 1, timeout=60)
            result["latency"] = await run_latency(bench, args, http)
    finally:
        if heart is not None:
            heart.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heart
        await http.aclose()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--builds", type=int, default=20, help="concurrent builds flooding")
    parser.add_argument("--batch-lines", type=int, default=1000)
    parser.add_argument("--duration", type=float, default=30, help="seconds of the main run")
    parser.add_argument("--small-batch-lines", type=int, default=100)
    parser.add_argument("--small-duration", type=float, default=15)
    parser.add_argument(
        "--sender-processes", type=int, default=1, help="processes sharing the senders"
    )
    parser.add_argument("--latency-lines", type=int, default=1000)
    parser.add_argument("--interval-ms", type=float, default=10)
    parser.add_argument("--head-start", type=float, default=1.0, help="seconds before printing")
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--py-spy", help="py-spy's path: profile the server in the main run")
    parser.add_argument(
        "--profile", type=Path, default=Path("logs-ingest.pyspy.txt"), help="py-spy's output"
    )
    parser.add_argument("--keep-logs", action="store_true", help="keep the temp dir (logs)")
    args = parser.parse_args()

    wall_started = time.monotonic()
    load_at_start = load_average()
    workdir = Path(tempfile.mkdtemp(prefix="solvyd-bench-logs-"))
    pg_name = None
    sqlite_path = None
    if args.database == "postgresql":
        pg_name, database_url = asyncio.run(make_pg_database())
    else:
        sqlite_path = workdir / "bench.db"
        database_url = f"sqlite:///{sqlite_path}"
    processes: list[subprocess.Popen[bytes]] = []
    servers: list[subprocess.Popen[bytes]] = []
    try:
        env = server_env(database_url, workdir)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        servers.append(start_server(port, env, workdir / "server.log"))
        second_url = None
        if pg_name:
            second_port = free_port()
            second_url = f"http://127.0.0.1:{second_port}"
            servers.append(start_server(second_port, env, workdir / "server-2.log"))
        progress(f"server on {url} (and {second_url}), database {args.database}")
        bench = Bench(
            url=url,
            second_url=second_url,
            database=args.database,
            pg_name=pg_name,
            database_url=database_url,
            sqlite_path=sqlite_path,
            server_pids=[s.pid for s in servers],
        )

        def start_agent() -> None:
            processes.append(
                spawn_agent(url, "printer", 1, workdir / "work", workdir / "agent-0.log")
            )

        result = asyncio.run(run_bench(bench, args, start_agent))
    finally:
        progress("stopping the agent and the servers")
        stop_all(processes)
        stop_all(servers)
        if pg_name:
            asyncio.run(drop_pg_database(pg_name))
        problems = collect_log_problems(workdir, args.keep_logs, progress)
    print(
        json.dumps(
            {
                "bench": "logs",
                "database": args.database,
                **result,
                "log_problem_lines": {source: len(lines) for source, lines in problems.items()},
                "wall_seconds": round(time.monotonic() - wall_started, 1),
                "load_average": {"start": load_at_start, "end": load_average()},
                "machine": machine_description(),
            }
        )
    )


if __name__ == "__main__":
    main()
