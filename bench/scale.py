"""Scheduling at scale: 50 agents on PostgreSQL, a 1,000-build backlog, and fairness.

Starts `solvyd server` on a fresh PostgreSQL database and 50 `solvyd agent` processes
(concurrency 1, local executor) on loopback, then
1. idle fan-out: builds of `true` triggered one at a time while all 50 agents wait in a long
   poll; per build, the time from just before the trigger request to its `started_at`;
2. backlog: with the agents drained, 1,000 builds of job A are triggered with bounded
   concurrency (while agents claim, builds run as fast as they are triggered and no backlog
   forms); then the agents are resumed and the run is timed until its last build has finished
   (builds/s, from the resume and from the first trigger). Once about 200, 500 and 800 of A
   have finished, one build of job B (priority 0) and then one of job C (priority 10) are
   triggered, each once the previous has started: both should start at the next free slot,
   where plain FIFO would make them wait until every build of A has started. The agents' slot
   turnaround (a build's `completed_at` to its agent's next `started_at`: final report, claim,
   start) is the claim latency under load.
The API is polled about once a second during the backlog, so polling costs the server little.
Prints one JSON line on stdout, progress on stderr. Usage: python bench/scale.py [-k 50]
"""

import argparse
import asyncio
import contextlib
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import httpx
import psutil

from common import (
    PG_ADMIN,
    Build,
    collect_log_problems,
    cpu_seconds,
    create_job,
    drop_pg_database,
    free_port,
    latency_summary,
    load_average,
    login,
    machine_description,
    make_pg_database,
    percentile,
    rss_mb,
    server_env,
    spawn_agent,
    start_server,
    stop_all,
    timestamp,
    trigger,
    trigger_to_running_ms,
    wait_finished,
    wait_for_agents,
    wait_started,
)


def progress(message: str) -> None:
    print(f"[scale {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class PostgresBackendsCpu:
    """CPU seconds spent by the PostgreSQL backends serving one database (PostgreSQL runs on
    this machine), sampled every half second between `start` and `stop`. A backend that exits
    between two samples loses up to half a second of CPU (all of it if it lived less), so the
    figure is a lower bound. Also counts the connections opened to the database meanwhile
    (PostgreSQL's own statistics, which may lag by about a second)."""

    SAMPLE_EVERY_SECONDS = 0.5

    def __init__(self, database: str) -> None:
        self.database = database
        self.baseline: dict[int, float] = {}
        self.latest: dict[int, float] = {}

    async def start(self) -> None:
        self.connection = await asyncpg.connect(PG_ADMIN)
        self.baseline = await self._backend_cpu()
        self.latest = dict(self.baseline)
        self.sessions_before = await self._sessions()
        self.sampler = asyncio.create_task(self._sample_forever())

    async def stop(self) -> None:
        self.sampler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.sampler
        await self._sample()
        self.connections_opened = await self._sessions() - self.sessions_before
        await self.connection.close()

    def seconds(self) -> float:
        return sum(self.latest[pid] - self.baseline[pid] for pid in self.latest)

    async def _sample_forever(self) -> None:
        while True:
            await asyncio.sleep(self.SAMPLE_EVERY_SECONDS)
            await self._sample()

    async def _sample(self) -> None:
        for pid, seconds in (await self._backend_cpu()).items():
            self.baseline.setdefault(pid, 0.0)  # started during the measurement
            self.latest[pid] = seconds

    async def _sessions(self) -> int:
        query = "SELECT sessions FROM pg_stat_database WHERE datname = $1"
        return int(await self.connection.fetchval(query, self.database))

    async def _backend_cpu(self) -> dict[int, float]:
        rows = await self.connection.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1", self.database
        )
        found = {}
        for row in rows:
            try:
                times = psutil.Process(row["pid"]).cpu_times()
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            found[row["pid"]] = times.user + times.system
        return found


async def trigger_many(http: httpx.AsyncClient, job_id: str, count: int, in_flight: int) -> None:
    """Trigger `count` builds of the job, at most `in_flight` requests at a time."""
    remaining = iter(range(count))  # shared: each sender takes the next one

    async def sender() -> None:
        for _ in remaining:
            await trigger(http, job_id)

    await asyncio.gather(*(sender() for _ in range(in_flight)))


async def set_all_draining(http: httpx.AsyncClient, draining: bool) -> None:
    action = "drain" if draining else "resume"
    workers = (await http.get("/workers")).json()["items"]
    responses = await asyncio.gather(*(http.post(f"/workers/{w['id']}/{action}") for w in workers))
    for response in responses:
        response.raise_for_status()


async def newest_success_number(http: httpx.AsyncClient, job_id: str) -> int:
    """The number of the job's most recently queued successful build: a job's builds run in
    the order they were queued, so this is about how many have finished."""
    page = await http.get("/builds", params={"job_id": job_id, "status": "success", "limit": 1})
    items = page.json()["items"]
    return int(items[0]["number"]) if items else 0


async def anything_unfinished(http: httpx.AsyncClient) -> bool:
    for status in ("queued", "running"):
        page = await http.get("/builds", params={"status": status, "limit": 1})
        if page.json()["items"]:
            return True
    return False


async def all_builds_of(http: httpx.AsyncClient, job_id: str) -> list[Build]:
    builds: list[Build] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"job_id": job_id, "limit": 200}
        if cursor:
            params["cursor"] = cursor
        page = (await http.get("/builds", params=params)).json()
        builds.extend(page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            return builds


@dataclass
class LoneBuild:
    """One build of a job that has nothing else queued, triggered during A's backlog."""

    a_finished: int  # about how many of A's builds had finished when it was triggered
    before_trigger: float  # time.time()
    queued_at: float
    started_at: float

    def report(self, last_a_started_at: float) -> dict[str, float]:
        return {
            "a_finished": self.a_finished,
            "queued_to_started_ms": round((self.started_at - self.queued_at) * 1000, 1),
            "trigger_to_running_ms": round((self.started_at - self.before_trigger) * 1000, 1),
            # Under plain FIFO it would have waited for every build of A to start.
            "fifo_would_wait_ms": round(max(0.0, last_a_started_at - self.queued_at) * 1000, 1),
        }


async def lone_build_start(
    http: httpx.AsyncClient, job_id: str, a_finished: int, timeout: float
) -> LoneBuild:
    """Trigger one build and wait until it runs."""
    before = time.time()
    build = await trigger(http, job_id)
    started = await wait_started(http, build["id"], timeout)
    return LoneBuild(
        a_finished, before, timestamp(started["queued_at"]), timestamp(started["started_at"])
    )


def slot_turnaround_ms(builds: list[Build]) -> list[float]:
    """Per agent, from a build's `completed_at` to the `started_at` of its next build."""
    by_worker: dict[str, list[Build]] = defaultdict(list)
    for build in builds:
        if build["started_at"] and build["completed_at"]:
            by_worker[build["worker_id"]].append(build)
    gaps = []
    for runs in by_worker.values():
        runs.sort(key=lambda b: timestamp(b["started_at"]))
        for previous, following in pairwise(runs):
            gap = timestamp(following["started_at"]) - timestamp(previous["completed_at"])
            gaps.append(gap * 1000)
    return gaps


def summary_p50_max(milliseconds: list[float]) -> dict[str, float]:
    return {
        "p50": round(percentile(milliseconds, 50), 1),
        "max": round(max(milliseconds), 1),
        "samples": len(milliseconds),
    }


@dataclass
class CpuSnapshot:
    server: float
    agents: float
    client: float
    machine: Any  # psutil.cpu_times() of the whole machine


class CpuMeter:
    """CPU seconds of the server, the agents, the database's backends, this client and the
    whole machine, between `start` and `stop`."""

    def __init__(self, server_pid: int, agent_pids: list[int], database: str) -> None:
        self.server_pid, self.agent_pids = server_pid, agent_pids
        self.backends = PostgresBackendsCpu(database)

    def _snapshot(self) -> CpuSnapshot:
        own = psutil.Process().cpu_times()
        return CpuSnapshot(
            server=cpu_seconds(self.server_pid),
            agents=sum(cpu_seconds(pid) for pid in self.agent_pids),
            client=own.user + own.system,
            machine=psutil.cpu_times(),
        )

    async def start(self) -> None:
        await self.backends.start()
        self.started_at = time.monotonic()
        self.before = self._snapshot()

    async def stop(self, builds: int) -> dict[str, float]:
        await self.backends.stop()
        elapsed = time.monotonic() - self.started_at
        before, after = self.before, self._snapshot()
        server = after.server - before.server
        machine_total = sum(after.machine) - sum(before.machine)
        machine_idle = (after.machine.idle + after.machine.iowait) - (
            before.machine.idle + before.machine.iowait
        )
        return {
            "server_seconds": round(server, 1),
            "server_ms_per_build": round(server / builds * 1000, 1),
            # One process, one event loop: at 1.0 the server is saturated.
            "server_cores_busy": round(server / elapsed, 2),
            "agents_seconds": round(after.agents - before.agents, 1),
            "postgres_backends_seconds": round(self.backends.seconds(), 1),
            "postgres_connections_opened": self.backends.connections_opened,
            "bench_client_seconds": round(after.client - before.client, 1),
            "machine_busy_percent": round(100 * (1 - machine_idle / machine_total), 1),
        }


async def run_scale(
    url: str, args: argparse.Namespace, pg_name: str, server_pid: int, agent_pids: list[int]
) -> dict[str, Any]:
    result: dict[str, Any] = {}
    async with httpx.AsyncClient(base_url=f"{url}/api/v1", timeout=60) as http:
        await login(http)
        started = time.monotonic()
        await wait_for_agents(http, args.agents, timeout=300)
        result["agents_registered_seconds"] = round(time.monotonic() - started, 1)
        progress(f"{args.agents} agents registered")
        await asyncio.sleep(2)
        result["rss_idle"] = {
            "server_mb": rss_mb(server_pid),
            "agent_max_mb": max(rss_mb(pid) for pid in agent_pids),
        }

        # 1. Idle fan-out: every trigger wakes every agent's waiting claim.
        latency_job = await create_job(http, "latency")
        warm = await trigger(http, latency_job)
        await wait_finished(http, [warm["id"]], 60)
        cpu = CpuMeter(server_pid, agent_pids, pg_name)
        await cpu.start()
        latencies = await trigger_to_running_ms(http, latency_job, args.latency_builds)
        result["idle_fanout"] = {
            "trigger_to_running_ms": latency_summary(latencies),
            "cpu": await cpu.stop(args.latency_builds),
        }
        progress(f"idle fan-out: p50 {result['idle_fanout']['trigger_to_running_ms']['p50']} ms")

        # 2. Backlog of A, queued while the agents are drained (while they claim, builds run
        # as fast as they are triggered and no backlog forms), with lone builds of B and C.
        job_a = await create_job(http, "backlog-a")
        job_b = await create_job(http, "lone-b")
        job_c = await create_job(http, "urgent-c", priority=10)
        cpu = CpuMeter(server_pid, agent_pids, pg_name)
        await cpu.start()
        await set_all_draining(http, True)
        first_trigger_at = time.time()
        await trigger_many(http, job_a, args.builds, args.in_flight)
        resumed_at = time.time()
        progress(f"{args.builds} builds of A queued in {resumed_at - first_trigger_at:.1f}s")
        await set_all_draining(http, False)
        marks = sorted(args.sample_at)
        lone_b: list[LoneBuild] = []
        urgent_c: list[LoneBuild] = []
        deadline = time.monotonic() + args.timeout
        while True:
            a_finished = await newest_success_number(http, job_a)
            if marks and a_finished >= marks[0]:
                marks.pop(0)
                progress(f"A: ~{a_finished} finished; sampling B and C")
                lone_b.append(await lone_build_start(http, job_b, a_finished, args.timeout))
                urgent_c.append(await lone_build_start(http, job_c, a_finished, args.timeout))
                continue
            if not await anything_unfinished(http):
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"the backlog did not finish within {args.timeout}s")
            await asyncio.sleep(1)
        builds_a = await all_builds_of(http, job_a)
        builds_b = await all_builds_of(http, job_b)
        builds_c = await all_builds_of(http, job_c)
        backlog_builds = builds_a + builds_b + builds_c
        last_completed = max(timestamp(b["completed_at"]) for b in backlog_builds)
        backlog_cpu = await cpu.stop(len(backlog_builds))
        last_a_started = max(timestamp(b["started_at"]) for b in builds_a)
        running_seconds = last_completed - resumed_at
        from_first_trigger = last_completed - first_trigger_at
        result["backlog"] = {
            "builds": len(backlog_builds),
            "triggers_per_second": round(args.builds / (resumed_at - first_trigger_at), 1),
            "trigger_in_flight": args.in_flight,
            "running_seconds": round(running_seconds, 2),
            "builds_per_second": round(len(backlog_builds) / running_seconds, 1),
            "seconds_from_first_trigger": round(from_first_trigger, 2),
            "builds_per_second_from_first_trigger": round(
                len(backlog_builds) / from_first_trigger, 1
            ),
            "statuses": dict(Counter(b["status"] for b in backlog_builds)),
            "slot_turnaround_ms": latency_summary(slot_turnaround_ms(backlog_builds)),
            "cpu": backlog_cpu,
        }
        b_reports = [sample.report(last_a_started) for sample in lone_b]
        c_reports = [sample.report(last_a_started) for sample in urgent_c]
        result["fairness"] = {
            "lone_b_queued_to_started_ms": summary_p50_max(
                [r["queued_to_started_ms"] for r in b_reports]
            ),
            "lone_b_trigger_to_running_ms": summary_p50_max(
                [r["trigger_to_running_ms"] for r in b_reports]
            ),
            "priority_c_trigger_to_running_ms": summary_p50_max(
                [r["trigger_to_running_ms"] for r in c_reports]
            ),
            "fifo_would_wait_ms": summary_p50_max([r["fifo_would_wait_ms"] for r in b_reports]),
            "lone_b": b_reports,
            "priority_c": c_reports,
        }
        progress(
            f"backlog: {result['backlog']['builds_per_second']} builds/s, "
            f"B waited {result['fairness']['lone_b_queued_to_started_ms']['p50']} ms (p50)"
        )
        result["rss_after_load"] = {
            "server_mb": rss_mb(server_pid),
            "agent_max_mb": max(rss_mb(pid) for pid in agent_pids),
        }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-k", "--agents", type=int, default=50)
    parser.add_argument("--latency-builds", type=int, default=100)
    parser.add_argument("-n", "--builds", type=int, default=1000, help="job A's backlog")
    parser.add_argument("--in-flight", type=int, default=20, help="concurrent trigger requests")
    parser.add_argument(
        "--sample-at",
        type=lambda text: [int(n) for n in text.split(",")],
        default=[200, 500, 800],
        help="trigger B and C once about this many of A have finished",
    )
    parser.add_argument("--timeout", type=float, default=1800, help="seconds for the backlog")
    parser.add_argument("--keep-logs", action="store_true", help="keep the temp dir (logs)")
    args = parser.parse_args()

    wall_started = time.monotonic()
    load_at_start = load_average()
    pg_name, database_url = asyncio.run(make_pg_database())
    workdir = Path(tempfile.mkdtemp(prefix="solvyd-bench-scale-"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server: subprocess.Popen[bytes] | None = None
    agents: list[subprocess.Popen[bytes]] = []
    try:
        server = start_server(port, server_env(database_url, workdir), workdir / "server.log")
        progress(f"server on {url}, database {pg_name}; starting {args.agents} agents")
        for index in range(args.agents):
            agents.append(
                spawn_agent(
                    url,
                    f"scale-{index}",
                    1,
                    workdir / f"work-{index}",
                    workdir / f"agent-{index}.log",
                )
            )
        result = asyncio.run(
            run_scale(url, args, pg_name, server.pid, [agent.pid for agent in agents])
        )
    finally:
        progress("stopping agents and server")
        stop_all(agents)
        if server is not None:
            stop_all([server])
        asyncio.run(drop_pg_database(pg_name))
        problems = collect_log_problems(workdir, args.keep_logs, progress)
    print(
        json.dumps(
            {
                "bench": "scale",
                "database": "postgresql",
                "agents": args.agents,
                "concurrency_per_agent": 1,
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
