"""Helpers shared by the benchmarks: processes, PostgreSQL databases, the API client's chores.

The benchmarks run as `python bench/<name>.py`, which puts this directory first on sys.path,
so they import this module as `common`.
"""

import asyncio
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import httpx
import psutil

PG_ADMIN = os.environ.get(
    "SOLVYD_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
PASSWORD = "bench-password"
AGENT_TOKEN = "bench-agent-token"
FINISHED = {"success", "failure", "cancelled", "error"}
TRUE_PIPELINE = "steps:\n  - name: t\n    commands: ['true']\n"

Build = dict[str, Any]


def log_problems(workdir: Path) -> dict[str, list[str]]:
    """Lines worth a look: anything the server logged after its banner (it logs warnings and
    worse), and the agents' warnings and errors."""
    server_log = workdir / "server.log"
    server_lines = (
        server_log.read_text(errors="replace").splitlines() if server_log.exists() else []
    )
    agent_lines = []
    for log in sorted(workdir.glob("agent-*.log")):
        for line in log.read_text(errors="replace").splitlines():
            if '"level": "info"' not in line and '"level":"info"' not in line:
                agent_lines.append(f"{log.name}: {line}")
    return {
        "server": [line for line in server_lines if not line.startswith("Solvyd server on")],
        "agents": agent_lines,
    }


def collect_log_problems(
    workdir: Path, keep_logs: bool, progress: Callable[[str], None]
) -> dict[str, list[str]]:
    """After a run: show the first lines worth a look, then remove the run's directory unless
    asked to keep it. Returns every such line, by source, for the result."""
    problems = log_problems(workdir)
    for source, lines in problems.items():
        for line in lines[:10]:
            progress(f"{source} log: {line}")
    if keep_logs:
        progress(f"logs kept in {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return problems


def load_average() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


# Processes


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


def server_env(database_url: str, workdir: Path) -> dict[str, str]:
    return {
        "SOLVYD_DATABASE_URL": database_url,
        "SOLVYD_DATA_DIR": str(workdir / "data"),
        "SOLVYD_ADMIN_PASSWORD": PASSWORD,
        "SOLVYD_AGENT_TOKEN": AGENT_TOKEN,
        "SOLVYD_LOG_LEVEL": "warning",
    }


def start_server(
    port: int, env: dict[str, str], log: Path, timeout: float = 30, workers: int = 1
) -> subprocess.Popen[bytes]:
    """Spawn `solvyd server` (`--workers`) and wait until it answers /healthz and, with
    several workers, until every process serves (its log is the error)."""
    args = ["server", "--port", str(port)]
    if workers > 1:
        args += ["--workers", str(workers)]
    server = spawn(args, env, log)
    deadline = time.monotonic() + timeout
    while True:
        try:
            healthy = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
            if healthy and _all_connected(server.pid, workers):
                return server
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline or server.poll() is not None:
            stop(server)
            raise RuntimeError(log.read_text())
        time.sleep(0.1)


def _all_connected(pid: int, workers: int) -> bool:
    """Whether each of the `workers` processes of a `--workers` server has reached PostgreSQL
    (its start is then a few milliseconds from serving; at the warning level the benchmarks
    set, the server does not log it)."""
    if workers == 1:
        return True
    children = psutil.Process(pid).children()
    return len(children) == workers and all(
        any(c.raddr and c.raddr.port == 5432 for c in child.net_connections("tcp"))
        for child in children
    )


def spawn_agent(
    url: str, name: str, concurrency: int, work_dir: Path, log: Path
) -> subprocess.Popen[bytes]:
    """A `solvyd agent` with the local executor. It logs at info whatever the environment says
    (only the format is configurable), so its log is JSON, one line per build at most."""
    return spawn(
        [
            "agent",
            "--server",
            url,
            "--name",
            name,
            "--concurrency",
            str(concurrency),
            "--work-dir",
            str(work_dir),
        ],
        # The token in the environment, never on a command line every process can read.
        {"SOLVYD_LOG_FORMAT": "json", "SOLVYD_AGENT_TOKEN": AGENT_TOKEN},
        log,
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    stop_all([process])


def stop_all(processes: list[subprocess.Popen[bytes]], timeout: float = 15) -> None:
    """SIGTERM every process first (so they shut down in parallel), then wait for each within
    one shared deadline, and kill whatever is still running after it."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for process in processes:
        try:
            process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def rss_mb(pid: int) -> float:
    return round(psutil.Process(pid).memory_info().rss / 2**20, 1)


def cpu_seconds(pid: int) -> float:
    """User + system time of the process and of the children it has waited for."""
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system + times.children_user + times.children_system


def process_tree(pid: int) -> list[int]:
    """The process and its running descendants (`solvyd server --workers N`'s processes)."""
    return [pid, *(child.pid for child in psutil.Process(pid).children(recursive=True))]


def tree_rss_mb(pid: int) -> float:
    return round(sum(rss_mb(member) for member in process_tree(pid)), 1)


def tree_cpu_seconds(pid: int) -> float:
    return sum(cpu_seconds(member) for member in process_tree(pid))


def machine_description() -> str:
    memory_gib = round(psutil.virtual_memory().total / 2**30)
    return (
        f"{platform.machine()}, {os.cpu_count()} cores, {memory_gib} GiB, "
        f"Python {platform.python_version()}"
    )


# Statistics


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))
    return ordered[index]


def latency_summary(milliseconds: list[float]) -> dict[str, float]:
    return {
        "p50": round(statistics.median(milliseconds), 2),
        "p95": round(percentile(milliseconds, 95), 2),
        "max": round(max(milliseconds), 2),
        "samples": len(milliseconds),
    }


def timestamp(value: str) -> float:
    """An API datetime as seconds since the epoch (the same clock as time.time())."""
    return datetime.fromisoformat(value).timestamp()


# PostgreSQL


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


# The API


async def login(http: httpx.AsyncClient) -> None:
    """Log in as the admin; the client's later requests carry the token."""
    response = await http.post("/auth/login", json={"username": "admin", "password": PASSWORD})
    response.raise_for_status()
    http.headers["Authorization"] = f"Bearer {response.json()['access_token']}"


async def wait_for_agents(
    http: httpx.AsyncClient, count: int, timeout: float, poll: float = 0.2
) -> None:
    deadline = time.monotonic() + timeout
    while len((await http.get("/workers")).json()["items"]) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{count} agents did not register within {timeout}s")
        await asyncio.sleep(poll)


async def create_job(http: httpx.AsyncClient, name: str, priority: int = 0) -> str:
    response = await http.post(
        "/jobs", json={"name": name, "pipeline": TRUE_PIPELINE, "priority": priority}
    )
    response.raise_for_status()
    return str(response.json()["id"])


async def trigger(http: httpx.AsyncClient, job_id: str) -> Build:
    response = await http.post(f"/jobs/{job_id}/trigger", json={})
    response.raise_for_status()
    build: Build = response.json()
    return build


async def wait_started(http: httpx.AsyncClient, build_id: str, timeout: float = 60) -> Build:
    deadline = time.monotonic() + timeout
    while True:
        build: Build = (await http.get(f"/builds/{build_id}")).json()
        if build["started_at"]:
            return build
        if time.monotonic() > deadline:
            raise TimeoutError(f"build {build_id} did not start within {timeout}s")
        await asyncio.sleep(0.02)


async def wait_finished(
    http: httpx.AsyncClient, build_ids: list[str], timeout: float
) -> list[Build]:
    """Builds finish roughly in trigger order, so poll the oldest unfinished one at a time."""
    deadline = time.monotonic() + timeout
    done: dict[str, Build] = {}
    for build_id in build_ids:
        while True:
            build: Build = (await http.get(f"/builds/{build_id}")).json()
            if build["status"] in FINISHED:
                done[build_id] = build
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"build {build_id} did not finish within {timeout}s")
            await asyncio.sleep(0.02)
    return [done[b] for b in build_ids]


async def trigger_to_running_ms(http: httpx.AsyncClient, job_id: str, builds: int) -> list[float]:
    """Trigger `builds` builds one at a time, each after the previous has finished; per build,
    the time from just before the trigger request to the build's `started_at`."""
    latencies = []
    for _ in range(builds):
        before = time.time()
        build = await trigger(http, job_id)
        started = await wait_started(http, build["id"])
        latencies.append((timestamp(started["started_at"]) - before) * 1000)
        await wait_finished(http, [build["id"]], 30)
    return latencies
