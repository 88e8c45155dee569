"""Big-log downloads: does the server stay responsive and small while it serves them?

Starts `solvyd server` on a fresh PostgreSQL database (or SQLite), gives one build a log of
`--lines` lines (1,000,000 of 14 characters by default, 1,000 to a batch, as a real agent
seals them: inserted straight into `build_logs`, the ingest is measured by bench/logs.py),
then:
1. `/healthz` latency at rest: one request every 20 ms for 3 s;
2. the same while `--downloads` (4) clients download the log at once with
   `GET /builds/{id}/logs?format=text`, each a `curl --compressed` process (as a browser
   asks, gzip; `--no-gzip` for plain text), so the clients cost the benchmark's Python
   nothing; the server's RSS is sampled every 20 ms;
3. one JSON page (`GET /builds/{id}/logs`, the default page): its size and time.
Prints one JSON line on stdout, progress on stderr.
Usage: python bench/log_downloads.py [--database postgresql|sqlite] [--lines 1000000]
Run it with another checkout's Python (`/path/to/base/.venv/bin/python bench/...`) to measure
that checkout's server: the server is `python -m solvyd.cli` of the interpreter running this.
"""

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psutil
import sqlalchemy as sa

from common import (
    PASSWORD,
    TRUE_PIPELINE,
    drop_pg_database,
    free_port,
    latency_summary,
    load_average,
    machine_description,
    make_pg_database,
    percentile,
    server_env,
    start_server,
    stop,
)
from solvyd.server.db.models import BuildLog
from solvyd.server.db.session import create_database

PROBE_EVERY_SECONDS = 0.02
BATCHES_PER_INSERT = 50


def progress(message: str) -> None:
    print(f"[log_downloads {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


async def fill_log(database_url: str, build_id: str, lines: int, batch_lines: int) -> None:
    db = create_database(database_url)
    now = datetime.now(UTC)
    try:
        batches = -(-lines // batch_lines)
        for start in range(0, batches, BATCHES_PER_INSERT):
            rows = []
            for seq in range(start, min(start + BATCHES_PER_INSERT, batches)):
                count = min(batch_lines, lines - seq * batch_lines)
                texts = [f"l{seq:06d}.{i:05d}ok" for i in range(count)]
                rows.append(
                    {
                        "build_id": uuid.UUID(build_id),
                        "seq": seq,
                        "step": "t",
                        "lines": [{"text": text, "ts": None} for text in texts],
                        "line_count": count,
                        "created_at": now,
                    }
                )
            async with db.transaction() as session:
                await session.execute(sa.insert(BuildLog), rows)
    finally:
        await db.dispose()


class Probe:
    """`/healthz` once every PROBE_EVERY_SECONDS (or as soon as the last answer came), and the
    server's RSS at the same pace."""

    def __init__(self, url: str, pid: int) -> None:
        self.url = url
        self.process = psutil.Process(pid)
        self.latencies_ms: list[float] = []
        self.rss_peak = 0
        self.stopped = asyncio.Event()

    async def run(self) -> None:
        async with httpx.AsyncClient(base_url=self.url, timeout=30) as http:
            while not self.stopped.is_set():
                began = time.perf_counter()
                response = await http.get("/healthz")
                response.raise_for_status()
                self.latencies_ms.append((time.perf_counter() - began) * 1000)
                self.rss_peak = max(self.rss_peak, self.process.memory_info().rss)
                rest = PROBE_EVERY_SECONDS - (time.perf_counter() - began)
                if rest > 0:
                    await asyncio.sleep(rest)


async def probe_for(url: str, pid: int, seconds: float) -> Probe:
    probe = Probe(url, pid)
    task = asyncio.create_task(probe.run())
    await asyncio.sleep(seconds)
    probe.stopped.set()
    await task
    return probe


def summary(latencies_ms: list[float]) -> dict[str, float]:
    result = latency_summary(latencies_ms)
    result["p99"] = round(percentile(latencies_ms, 99), 2)
    result["over_100ms"] = sum(1 for value in latencies_ms if value > 100)
    return result


async def downloads(
    url: str, token: str, build_id: str, count: int, gzip: bool, pid: int
) -> dict[str, Any]:
    command = [
        "curl",
        "--silent",
        "--show-error",
        "--fail",
        "--output",
        "/dev/null",
        "--write-out",
        "%{time_total} %{size_download}",
        "--header",
        f"Authorization: Bearer {token}",
        *(["--compressed"] if gzip else []),
        f"{url}/api/v1/builds/{build_id}/logs?format=text",
    ]
    probe = Probe(url, pid)
    prober = asyncio.create_task(probe.run())
    began = time.perf_counter()
    clients = [
        await asyncio.create_subprocess_exec(*command, stdout=subprocess.PIPE) for _ in range(count)
    ]
    outputs = [(await client.communicate())[0].decode().split() for client in clients]
    wall = time.perf_counter() - began
    probe.stopped.set()
    await prober
    if any(client.returncode for client in clients):
        raise RuntimeError(f"a download failed: {[client.returncode for client in clients]}")
    return {
        "healthz_ms": summary(probe.latencies_ms),
        "download_seconds": [round(float(seconds), 2) for seconds, _ in outputs],
        "all_downloads_seconds": round(wall, 2),
        "bytes_each": int(outputs[0][1]),
        "server_rss_peak_mb": round(probe.rss_peak / 2**20, 1),
    }


async def json_page(http: httpx.AsyncClient, build_id: str) -> dict[str, Any]:
    began = time.perf_counter()
    response = await http.get(f"/api/v1/builds/{build_id}/logs")
    response.raise_for_status()
    page = response.json()
    return {
        "seconds": round(time.perf_counter() - began, 3),
        "bytes": len(response.content),
        "lines": len(page["lines"]),
    }


async def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    pg_name = None
    if args.database == "postgresql":
        pg_name, database_url = await make_pg_database()
    else:
        database_url = f"sqlite:///{workdir / 'solvyd.db'}"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    # A long start-up allowance: on a loaded 2-core machine migrations alone took 30 s.
    env = server_env(database_url, workdir)
    server = start_server(port, env, workdir / "server.log", timeout=120)
    try:
        async with httpx.AsyncClient(base_url=url, timeout=600) as http:
            login = await http.post(
                "/api/v1/auth/login", json={"username": "admin", "password": PASSWORD}
            )
            login.raise_for_status()
            token = login.json()["access_token"]
            http.headers["Authorization"] = f"Bearer {token}"
            job = await http.post(
                "/api/v1/jobs", json={"name": "big-log", "pipeline": TRUE_PIPELINE}
            )
            job.raise_for_status()
            build = await http.post(f"/api/v1/jobs/{job.json()['id']}/trigger", json={})
            build.raise_for_status()
            build_id = build.json()["id"]
            progress(f"inserting {args.lines:,} lines")
            await fill_log(database_url, build_id, args.lines, args.batch_lines)
            # One small read first: what a first read of a log loads is not the download's.
            (
                await http.get(f"/api/v1/builds/{build_id}/logs", params={"limit": 1})
            ).raise_for_status()
            rss_before = psutil.Process(server.pid).memory_info().rss
            progress("healthz at rest")
            idle = await probe_for(url, server.pid, 3.0)
            progress(f"{args.downloads} parallel downloads")
            during = await downloads(
                url, token, build_id, args.downloads, not args.no_gzip, server.pid
            )
            progress("one JSON page")
            page = await json_page(http, build_id)
            rss_after = psutil.Process(server.pid).memory_info().rss
    finally:
        stop(server)
        if pg_name is not None:
            await drop_pg_database(pg_name)
    return {
        "benchmark": "log_downloads",
        "database": args.database,
        "lines": args.lines,
        "batch_lines": args.batch_lines,
        "downloads": args.downloads,
        "gzip": not args.no_gzip,
        "healthz_idle_ms": summary(idle.latencies_ms),
        **during,
        "server_rss_before_mb": round(rss_before / 2**20, 1),
        "server_rss_after_mb": round(rss_after / 2**20, 1),
        "json_page": page,
        "load_average": load_average(),
        "machine": machine_description(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--batch-lines", type=int, default=1000)
    parser.add_argument("--downloads", type=int, default=4)
    parser.add_argument("--no-gzip", action="store_true", help="download plain text")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="solvyd-bench-downloads-") as workdir:
        result = asyncio.run(run(args, Path(workdir)))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
