"""Dispatch benchmark: trigger -> running latency and builds/s through a real server and agents.

Starts `solvyd server` and K `solvyd agent` processes on loopback (local executor), then
1. latency: triggers builds of `true` one at a time with idle agents and measures, per build,
   the time from just before the trigger request to the build's `started_at` (same clock);
2. throughput: triggers N builds at once and measures until all have finished.
It also times the cold start: from spawning the server to every agent registered.
With --peer-figures (bench/peers/compare.py), the idle builds are also timed as a client sees
them, the way bench/peers/buildbot/run.py times Buildbot's (whose API has whole seconds only):
from just before the trigger until polling the API first shows the step started, then the
build finished.
Prints one JSON line. Usage: python bench/dispatch.py [--database sqlite|postgresql] [-k 4]
[--server-workers N] (the server's figures are then summed over its processes)
"""

import argparse
import asyncio
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from common import (
    FINISHED,
    cpu_seconds,
    create_job,
    drop_pg_database,
    free_port,
    latency_summary,
    load_average,
    login,
    machine_description,
    make_pg_database,
    process_tree,
    rss_mb,
    server_env,
    spawn_agent,
    start_server,
    stop_all,
    timestamp,
    tree_cpu_seconds,
    tree_rss_mb,
    trigger,
    wait_finished,
    wait_for_agents,
    wait_started,
)


async def wait_ready(url: str, agents: int) -> None:
    """Until the server answers and every agent has registered."""
    async with httpx.AsyncClient(base_url=f"{url}/api/v1", timeout=60) as http:
        await login(http)
        await wait_for_agents(http, agents, timeout=60, poll=0.02)


async def idle_build(
    http: httpx.AsyncClient, job_id: str, poll: float | None
) -> tuple[float, float | None, float | None]:
    """Trigger one build and wait until it has finished. Returns the time from just before
    the trigger to its `started_at` (the server's clock) and, when `poll` is given, to when
    polling every `poll` seconds first shows its step started, then the build finished."""
    before_wall, before = time.time(), time.monotonic()
    build = await trigger(http, job_id)
    if poll is None:
        started = await wait_started(http, build["id"])
        await wait_finished(http, [build["id"]], 30)
        return (timestamp(started["started_at"]) - before_wall) * 1000, None, None
    deadline = before + 60
    step_seen = None
    while True:
        build = (await http.get(f"/builds/{build['id']}")).json()
        if step_seen is None and any(s["started_at"] for s in build["steps"]):
            step_seen = (time.monotonic() - before) * 1000
        if build["status"] in FINISHED:
            finished_seen = (time.monotonic() - before) * 1000
            # A step too quick to be seen running was seen started when its build finished.
            step_seen = finished_seen if step_seen is None else step_seen
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"build {build['id']} did not finish within 60s")
        await asyncio.sleep(poll)
    return (timestamp(build["started_at"]) - before_wall) * 1000, step_seen, finished_seen


async def run_bench(
    url: str, latency_builds: int, throughput_builds: int, agents: int, poll: float | None
) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=f"{url}/api/v1", timeout=60) as http:
        await login(http)
        await wait_for_agents(http, agents, timeout=30)
        job_id = await create_job(http, "bench")

        # Warm up every path once.
        warm = await trigger(http, job_id)
        await wait_finished(http, [warm["id"]], 30)

        latencies, to_step, to_finished = [], [], []
        for _ in range(latency_builds):
            running_ms, step_ms, finished_ms = await idle_build(http, job_id, poll)
            latencies.append(running_ms)
            if step_ms is not None and finished_ms is not None:
                to_step.append(step_ms)
                to_finished.append(finished_ms)

        started = time.monotonic()
        triggers = [trigger(http, job_id) for _ in range(throughput_builds)]
        ids = [(await t)["id"] for t in asyncio.as_completed(triggers)]
        results = await wait_finished(http, ids, 600)
        elapsed = time.monotonic() - started
        failed = sum(1 for b in results if b["status"] != "success")
    peer_figures = (
        {
            "trigger_to_step_start_ms": latency_summary(to_step),
            "trigger_to_finished_ms": latency_summary(to_finished),
            "poll_ms": poll * 1000,
        }
        if poll is not None
        else None
    )
    return {
        "trigger_to_running_ms": latency_summary(latencies),
        "throughput": {
            "builds": throughput_builds,
            "seconds": round(elapsed, 2),
            "builds_per_second": round(throughput_builds / elapsed, 1),
            "not_success": failed,
        },
        **({"client_polled": peer_figures} if peer_figures else {}),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("-k", "--agents", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=4, help="builds per agent")
    parser.add_argument("--latency-builds", type=int, default=100)
    parser.add_argument("-n", "--builds", type=int, default=300)
    parser.add_argument(
        "--peer-figures",
        action="store_true",
        help="also time the idle builds by polling, as the Buildbot benchmark does",
    )
    parser.add_argument("--poll-ms", type=float, default=5, help="--peer-figures' poll interval")
    parser.add_argument(
        "--server-workers",
        type=int,
        default=1,
        help="`solvyd server --workers N` (above 1: PostgreSQL only)",
    )
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="solvyd-bench-"))
    pg_name = None
    if args.database == "postgresql":
        pg_name, database_url = asyncio.run(make_pg_database())
    else:
        database_url = f"sqlite:///{workdir / 'bench.db'}"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server: subprocess.Popen[bytes] | None = None
    agent_processes: list[subprocess.Popen[bytes]] = []
    try:
        spawned = time.monotonic()
        server = start_server(
            port,
            server_env(database_url, workdir),
            workdir / "server.log",
            timeout=120,
            workers=args.server_workers,
        )
        for index in range(args.agents):
            agent_processes.append(
                spawn_agent(
                    url,
                    f"bench-{index}",
                    args.concurrency,
                    workdir / f"work-{index}",
                    workdir / f"agent-{index}.log",
                )
            )
        asyncio.run(wait_ready(url, args.agents))
        cold_start_seconds = time.monotonic() - spawned
        time.sleep(2)
        # The server's figures are summed over its processes (--server-workers N: the parent
        # and its N); the per-process ones follow them.
        idle = {
            "server_rss_mb": tree_rss_mb(server.pid),
            "server_rss_mb_by_process": [rss_mb(pid) for pid in process_tree(server.pid)],
            "agent_rss_mb": max(rss_mb(p.pid) for p in agent_processes),
        }
        cpu_before = (
            tree_cpu_seconds(server.pid),
            sum(cpu_seconds(p.pid) for p in agent_processes),
        )
        poll = args.poll_ms / 1000 if args.peer_figures else None
        result = asyncio.run(run_bench(url, args.latency_builds, args.builds, args.agents, poll))
        cpu = {
            "server_cpu_seconds": round(tree_cpu_seconds(server.pid) - cpu_before[0], 1),
            "agents_cpu_seconds": round(
                sum(cpu_seconds(p.pid) for p in agent_processes) - cpu_before[1], 1
            ),
        }
        loaded = {
            "server_rss_mb": tree_rss_mb(server.pid),
            "server_rss_mb_by_process": [rss_mb(pid) for pid in process_tree(server.pid)],
            "agent_rss_mb": max(rss_mb(p.pid) for p in agent_processes),
        }
    finally:
        stop_all(agent_processes)
        if server is not None:
            stop_all([server])
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
                "server_workers": args.server_workers,
                **result,
                "rss_idle": idle,
                "rss_after_load": loaded,
                "cpu_during_bench": cpu,
                "cold_start_to_ready_seconds": round(cold_start_seconds, 2),
                "load_average": load_average(),
                "machine": machine_description(),
            }
        )
    )


if __name__ == "__main__":
    main()
