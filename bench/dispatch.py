"""Dispatch benchmark: trigger -> running latency and builds/s through a real server and agents.

Starts `solvyd server` and K `solvyd agent` processes on loopback (local executor), then
1. latency: triggers builds of `true` one at a time with idle agents and measures, per build,
   the time from just before the trigger request to the build's `started_at` (same clock);
2. throughput: triggers N builds at once and measures until all have finished.
Prints one JSON line. Usage: python bench/dispatch.py [--database sqlite|postgresql] [-k 4]
"""

import argparse
import asyncio
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path

import asyncpg
import httpx
import psutil

PG_ADMIN = os.environ.get(
    "SOLVYD_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
PASSWORD = "bench-password"
AGENT_TOKEN = "bench-agent-token"
FINISHED = {"success", "failure", "cancelled", "error"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as handle:
        return subprocess.Popen(
            [sys.executable, "-m", "solvyd.cli", *args],
            env={**os.environ, **env},
            stdout=handle,
            stderr=subprocess.STDOUT,
        )


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def rss_mb(pid: int) -> float:
    return round(psutil.Process(pid).memory_info().rss / 2**20, 1)


def cpu_seconds(pid: int) -> float:
    """User + system time of the process and of the children it has waited for."""
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system + times.children_user + times.children_system


def machine_description() -> str:
    memory_gib = round(psutil.virtual_memory().total / 2**30)
    return (
        f"{platform.machine()}, {os.cpu_count()} cores, {memory_gib} GiB, "
        f"Python {platform.python_version()}"
    )


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))
    return ordered[index]


async def make_pg_database() -> tuple[str, str]:
    name = f"solvyd_bench_{uuid.uuid4().hex[:8]}"
    connection = await asyncpg.connect(PG_ADMIN)
    await connection.execute(f'CREATE DATABASE "{name}"')
    await connection.close()
    return name, PG_ADMIN.rpartition("/")[0] + "/" + name


async def drop_pg_database(name: str) -> None:
    connection = await asyncpg.connect(PG_ADMIN)
    await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await connection.close()


async def wait_finished(
    http: httpx.AsyncClient, build_ids: list[str], timeout: float
) -> list[dict]:
    """Builds finish roughly in trigger order, so poll the oldest unfinished one at a time."""
    deadline = time.monotonic() + timeout
    done: dict[str, dict] = {}
    for build_id in build_ids:
        while True:
            build = (await http.get(f"/builds/{build_id}")).json()
            if build["status"] in FINISHED:
                done[build_id] = build
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"build {build_id} did not finish within {timeout}s")
            await asyncio.sleep(0.02)
    return [done[b] for b in build_ids]


async def run_bench(url: str, latency_builds: int, throughput_builds: int, agents: int) -> dict:
    async with httpx.AsyncClient(base_url=f"{url}/api/v1", timeout=60) as http:
        login = await http.post("/auth/login", json={"username": "admin", "password": PASSWORD})
        http.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
        deadline = time.monotonic() + 30
        while len((await http.get("/workers")).json()["items"]) < agents:
            if time.monotonic() > deadline:
                raise TimeoutError("agents did not register")
            await asyncio.sleep(0.1)
        job = (
            await http.post(
                "/jobs",
                json={"name": "bench", "pipeline": "steps:\n  - name: t\n    commands: ['true']\n"},
            )
        ).json()

        # Warm up every path once.
        warm = (await http.post(f"/jobs/{job['id']}/trigger", json={})).json()
        await wait_finished(http, [warm["id"]], 30)

        latencies = []
        for _ in range(latency_builds):
            before = time.time()
            build = (await http.post(f"/jobs/{job['id']}/trigger", json={})).json()
            while True:
                current = (await http.get(f"/builds/{build['id']}")).json()
                if current["started_at"]:
                    started = datetime.fromisoformat(current["started_at"]).timestamp()
                    latencies.append((started - before) * 1000)
                    break
                await asyncio.sleep(0.02)
            await wait_finished(http, [build["id"]], 30)

        started = time.monotonic()
        triggers = [
            http.post(f"/jobs/{job['id']}/trigger", json={}) for _ in range(throughput_builds)
        ]
        ids = [(await r).json()["id"] for r in asyncio.as_completed(triggers)]
        results = await wait_finished(http, ids, 600)
        elapsed = time.monotonic() - started
        failed = sum(1 for b in results if b["status"] != "success")
    return {
        "trigger_to_running_ms": {
            "p50": round(statistics.median(latencies), 2),
            "p95": round(percentile(latencies, 95), 2),
            "max": round(max(latencies), 2),
            "samples": len(latencies),
        },
        "throughput": {
            "builds": throughput_builds,
            "seconds": round(elapsed, 2),
            "builds_per_second": round(throughput_builds / elapsed, 1),
            "not_success": failed,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("-k", "--agents", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=4, help="builds per agent")
    parser.add_argument("--latency-builds", type=int, default=100)
    parser.add_argument("-n", "--builds", type=int, default=300)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="solvyd-bench-"))
    pg_name = None
    if args.database == "postgresql":
        pg_name, database_url = asyncio.run(make_pg_database())
    else:
        database_url = f"sqlite:///{workdir / 'bench.db'}"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        "SOLVYD_DATABASE_URL": database_url,
        "SOLVYD_DATA_DIR": str(workdir / "data"),
        "SOLVYD_ADMIN_PASSWORD": PASSWORD,
        "SOLVYD_AGENT_TOKEN": AGENT_TOKEN,
        "SOLVYD_LOG_LEVEL": "warning",
    }
    server = spawn(["server", "--port", str(port)], env, workdir / "server.log")
    agent_processes: list[subprocess.Popen[bytes]] = []
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError((workdir / "server.log").read_text())
            time.sleep(0.1)
        for index in range(args.agents):
            agent_processes.append(
                spawn(
                    [
                        "agent",
                        "--server",
                        url,
                        "--token",
                        AGENT_TOKEN,
                        "--name",
                        f"bench-{index}",
                        "--concurrency",
                        str(args.concurrency),
                        "--work-dir",
                        str(workdir / f"work-{index}"),
                    ],
                    {"SOLVYD_LOG_FORMAT": "json"},
                    workdir / f"agent-{index}.log",
                )
            )
        time.sleep(2)
        idle = {
            "server_rss_mb": rss_mb(server.pid),
            "agent_rss_mb": max(rss_mb(p.pid) for p in agent_processes),
        }
        cpu_before = cpu_seconds(server.pid), sum(cpu_seconds(p.pid) for p in agent_processes)
        result = asyncio.run(run_bench(url, args.latency_builds, args.builds, args.agents))
        cpu = {
            "server_cpu_seconds": round(cpu_seconds(server.pid) - cpu_before[0], 1),
            "agents_cpu_seconds": round(
                sum(cpu_seconds(p.pid) for p in agent_processes) - cpu_before[1], 1
            ),
        }
        loaded = {
            "server_rss_mb": rss_mb(server.pid),
            "agent_rss_mb": max(rss_mb(p.pid) for p in agent_processes),
        }
    finally:
        for process in agent_processes:
            stop(process)
        stop(server)
        if pg_name:
            asyncio.run(drop_pg_database(pg_name))
        shutil.rmtree(workdir, ignore_errors=True)
    print(
        json.dumps(
            {
                "bench": "dispatch",
                "database": args.database,
                "agents": args.agents,
                "concurrency_per_agent": args.concurrency,
                **result,
                "rss_idle": idle,
                "rss_after_load": loaded,
                "cpu_during_bench": cpu,
                "machine": machine_description(),
            }
        )
    )


if __name__ == "__main__":
    main()
