"""Buildbot peer benchmark: what bench/dispatch.py measures of Solvyd, measured of Buildbot 4.

Installs Buildbot (master, worker, www; pinned in requirements.txt next to this file) into its
own virtual environment under .bench-cache/buildbot/ (reused while the pins are unchanged),
writes a master with 4 workers (one build each), one builder whose only step runs `true`, a
ForceScheduler and the REST API on a free loopback port, starts the master and 4 worker
processes and measures on loopback:
1. cold start: from `buildbot start` to the master answering and all 4 workers connected (the
   master's directory and SQLite database are created before, by `buildbot create-master`,
   timed apart);
2. idle latency: forces builds one at a time, each after the previous has finished, and per
   build takes the time from just before the force request until the client first sees the
   `true` step started, then the build complete, by polling the REST API;
3. throughput: forces N builds at once and measures until all have finished;
4. RSS of the master and of the workers at rest and after the load.

Buildbot's data API gives times as whole epoch seconds, too coarse for milliseconds, so the
latencies are the client's: `bench/dispatch.py --peer-figures` measures Solvyd's the same way.
Run with the project's Python: python bench/peers/buildbot/run.py. Prints one JSON line.

REST shapes used (Buildbot 4.3):
- control (JSON-RPC 2.0 POST on a resource): https://docs.buildbot.net/latest/developer/rest.html
- POST /api/v2/forceschedulers/{schedulername}, method "force":
  https://docs.buildbot.net/latest/developer/raml/forcescheduler.html
- GET /api/v2/builders: https://docs.buildbot.net/latest/developer/raml/builder.html
- GET /api/v2/workers (`connected_to`): https://docs.buildbot.net/latest/developer/raml/worker.html
- GET /api/v2/buildrequests/{id} (`complete`, `results`), /buildrequests/{id}/builds:
  https://docs.buildbot.net/latest/developer/raml/buildrequest.html
- GET /api/v2/builds/{id} (`complete`), /builds/{id}/steps (`name`, `started_at`):
  https://docs.buildbot.net/latest/developer/raml/build.html and .../raml/step.html
"""

import argparse
import asyncio
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

# The benchmarks' shared helpers live two directories up (bench/common.py).
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from common import (
    cpu_seconds,
    free_port,
    latency_summary,
    load_average,
    machine_description,
    rss_mb,
    stop_all,
)

HERE = Path(__file__).resolve().parent
REQUIREMENTS = HERE / "requirements.txt"
CACHE = HERE.parents[2] / ".bench-cache" / "buildbot"
WORKERS = 4
BUILDER = "bench"
SCHEDULER = "force"
STEP = "true"
WORKER_PASSWORD = "bench-worker-password"
# Buildbot's `results` code for a successful build request.
SUCCESS = 0


def master_config(pb_port: int, www_port: int, workers: int) -> str:
    """master.cfg: `workers` workers with one build each, one builder running `true`, a
    ForceScheduler, the www/REST API on loopback and the default SQLite database."""
    names = [f"worker-{index}" for index in range(workers)]
    return f"""\
from buildbot.plugins import schedulers, steps, util, worker

c = BuildmasterConfig = {{}}
c["title"] = "Solvyd peer benchmark"
c["buildbotURL"] = "http://127.0.0.1:{www_port}/"
c["buildbotNetUsageData"] = None
c["db"] = {{"db_url": "sqlite:///state.sqlite"}}
c["protocols"] = {{"pb": {{"port": "tcp:{pb_port}:interface=127.0.0.1"}}}}
c["www"] = {{"port": "tcp:{www_port}:interface=127.0.0.1", "plugins": {{}}}}
c["workers"] = [
    worker.Worker(name, {WORKER_PASSWORD!r}, max_builds=1) for name in {names!r}
]
# Buildbot merges queued requests of the same source stamp by default: every forced build
# must run, as every Solvyd trigger does.
c["collapseRequests"] = False
c["builders"] = [
    util.BuilderConfig(
        name={BUILDER!r},
        workernames={names!r},
        factory=util.BuildFactory([steps.ShellCommand(name={STEP!r}, command=["true"])]),
    )
]
c["schedulers"] = [schedulers.ForceScheduler(name={SCHEDULER!r}, builderNames=[{BUILDER!r}])]
"""


# The virtual environment


def buildbot_venv(progress: Any) -> Path:
    """Buildbot's own virtual environment, made once per set of pins and reused after."""
    venv = CACHE / "venv"
    stamp = venv / "requirements.sha256"
    wanted = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == wanted:
        return venv
    progress(f"installing Buildbot into {venv}")
    shutil.rmtree(venv, ignore_errors=True)
    venv.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "-r", str(REQUIREMENTS)],
        check=True,
    )
    stamp.write_text(wanted)
    return venv


def buildbot_env() -> dict[str, str]:
    # Not the project's import path nor its virtual environment: Buildbot runs on its own.
    return {
        key: value
        for key, value in os.environ.items()
        if key not in {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"}
    }


def run_tool(venv: Path, args: list[str], log: Path) -> None:
    with log.open("ab") as handle:
        subprocess.run(
            [str(venv / "bin" / args[0]), *args[1:]],
            env=buildbot_env(),
            stdout=handle,
            stderr=subprocess.STDOUT,
            check=True,
        )


def spawn_tool(venv: Path, args: list[str], log: Path) -> subprocess.Popen[bytes]:
    """A Buildbot program in the foreground (`--nodaemon`): the process we measure is the one
    we started, not a daemon it forked."""
    with log.open("wb") as handle:
        return subprocess.Popen(
            [str(venv / "bin" / args[0]), *args[1:]],
            env=buildbot_env(),
            stdout=handle,
            stderr=subprocess.STDOUT,
        )


# The REST API


def api_client(www_port: int) -> httpx.AsyncClient:
    # Uncompressed: under load Buildbot 4.3 (Twisted 26) now and then sent a body its
    # Content-Encoding did not match (httpx: "incorrect header check"), which ended a run.
    return httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{www_port}/api/v2",
        headers={"Accept-Encoding": "identity"},
        timeout=60,
    )


async def wait_master(http: httpx.AsyncClient, master: subprocess.Popen[bytes]) -> int:
    """Until the master answers with its builder; returns the builder's id."""
    deadline = time.monotonic() + 120
    while True:
        try:
            response = await http.get("/builders", params={"name": BUILDER})
            if response.status_code == 200 and response.json()["builders"]:
                return int(response.json()["builders"][0]["builderid"])
        except httpx.TransportError:
            pass
        if master.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the Buildbot master did not come up (see its twistd.log)")
        await asyncio.sleep(0.02)


async def wait_workers_connected(http: httpx.AsyncClient, count: int) -> None:
    deadline = time.monotonic() + 120
    while True:
        workers = (await http.get("/workers")).json()["workers"]
        if sum(1 for w in workers if w["connected_to"]) >= count:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{count} Buildbot workers did not connect within 120s")
        await asyncio.sleep(0.02)


async def force(http: httpx.AsyncClient, builderid: int) -> int:
    """Force one build through the ForceScheduler's JSON-RPC control; its build request id."""
    response = await http.post(
        f"/forceschedulers/{SCHEDULER}",
        json={"jsonrpc": "2.0", "method": "force", "id": 1, "params": {"builderid": builderid}},
    )
    response.raise_for_status()
    body = response.json()
    if "error" in body:
        raise RuntimeError(f"force failed: {body['error']}")
    # result: [buildsetid, {builderid: buildrequestid}]
    _buildset, request_ids = body["result"]
    return int(next(iter(request_ids.values())))


async def idle_build(http: httpx.AsyncClient, builderid: int, poll: float) -> tuple[float, float]:
    """Force one build and poll until its `true` step is seen started, then its request
    complete; both as milliseconds after just before the force request."""
    before = time.monotonic()
    request_id = await force(http, builderid)
    deadline = before + 120
    build_id = None
    polls = 0
    while True:
        if build_id is None:
            builds = (await http.get(f"/buildrequests/{request_id}/builds")).json()["builds"]
            # The newest: a build Buildbot gave up on (its worker lost, RETRY) is followed
            # by another of the same request.
            unfinished = [b["buildid"] for b in builds if not b["complete"]]
            build_id = max(unfinished) if unfinished else None
        if build_id is not None:
            steps = (await http.get(f"/builds/{build_id}/steps")).json()["steps"]
            if any(s["name"] == STEP and s["started_at"] is not None for s in steps):
                step_started = (time.monotonic() - before) * 1000
                break
            # Now and then (not at every poll, which would load the master more than the
            # other side's single request does): has Buildbot given up on this build?
            polls += 1
            if (
                polls % 20 == 0
                and (await http.get(f"/builds/{build_id}")).json()["builds"][0]["complete"]
            ):
                build_id = None
        if time.monotonic() > deadline:
            raise TimeoutError(f"build request {request_id} did not start within 120s")
        await asyncio.sleep(poll)
    while not (await http.get(f"/buildrequests/{request_id}")).json()["buildrequests"][0][
        "complete"
    ]:
        if time.monotonic() > deadline:
            raise TimeoutError(f"build request {request_id} did not finish within 120s")
        await asyncio.sleep(poll)
    return step_started, (time.monotonic() - before) * 1000


async def wait_requests_finished(
    http: httpx.AsyncClient, request_ids: list[int], timeout: float
) -> list[int]:
    """Their `results`, polling the oldest unfinished one at a time (as dispatch.py does)."""
    deadline = time.monotonic() + timeout
    results = []
    for request_id in request_ids:
        while True:
            request = (await http.get(f"/buildrequests/{request_id}")).json()["buildrequests"][0]
            if request["complete"]:
                results.append(request["results"])
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"build request {request_id} did not finish in {timeout}s")
            await asyncio.sleep(0.02)
    return results


async def run_bench(
    http: httpx.AsyncClient, builderid: int, latency_builds: int, burst: int, poll: float
) -> dict[str, Any]:
    await idle_build(http, builderid, poll)  # warm up every path once
    to_step, to_finished = [], []
    for _ in range(latency_builds):
        step_ms, finished_ms = await idle_build(http, builderid, poll)
        to_step.append(step_ms)
        to_finished.append(finished_ms)

    started = time.monotonic()
    request_ids = list(await asyncio.gather(*(force(http, builderid) for _ in range(burst))))
    results = await wait_requests_finished(http, sorted(request_ids), 600)
    elapsed = time.monotonic() - started
    return {
        "trigger_to_step_start_ms": latency_summary(to_step),
        "trigger_to_finished_ms": latency_summary(to_finished),
        "throughput": {
            "builds": burst,
            "seconds": round(elapsed, 2),
            "builds_per_second": round(burst / elapsed, 1),
            "not_success": sum(1 for r in results if r != SUCCESS),
        },
    }


def buildbot_version(venv: Path) -> str:
    return subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import buildbot; print(buildbot.version)"],
        env=buildbot_env(),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--latency-builds", type=int, default=100)
    parser.add_argument("-n", "--builds", type=int, default=100, help="the burst's builds")
    parser.add_argument("--poll-ms", type=float, default=5, help="idle builds' poll interval")
    parser.add_argument("--keep-logs", action="store_true")
    args = parser.parse_args()

    def progress(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    venv = buildbot_venv(progress)
    workdir = Path(tempfile.mkdtemp(prefix="buildbot-bench-"))
    master_dir = workdir / "master"
    pb_port, www_port = free_port(), free_port()
    setup_log = workdir / "setup.log"
    master: subprocess.Popen[bytes] | None = None
    workers: list[subprocess.Popen[bytes]] = []
    keep_logs = args.keep_logs
    try:
        created = time.monotonic()
        run_tool(venv, ["buildbot", "create-master", "-r", str(master_dir)], setup_log)
        create_master_seconds = time.monotonic() - created
        (master_dir / "master.cfg").write_text(master_config(pb_port, www_port, WORKERS))
        for index in range(WORKERS):
            run_tool(
                venv,
                [
                    "buildbot-worker",
                    "create-worker",
                    "-r",
                    str(workdir / f"worker-{index}"),
                    f"127.0.0.1:{pb_port}",
                    f"worker-{index}",
                    WORKER_PASSWORD,
                ],
                setup_log,
            )

        async def cold_start() -> int:
            """As dispatch.py starts Solvyd: the master, once it answers the workers."""
            nonlocal master
            async with api_client(www_port) as http:
                master = spawn_tool(
                    venv, ["buildbot", "start", "--nodaemon", str(master_dir)], workdir / "m.log"
                )
                builderid = await wait_master(http, master)
                for index in range(WORKERS):
                    workers.append(
                        spawn_tool(
                            venv,
                            [
                                "buildbot-worker",
                                "start",
                                "--nodaemon",
                                str(workdir / f"worker-{index}"),
                            ],
                            workdir / f"worker-{index}.log",
                        )
                    )
                await wait_workers_connected(http, WORKERS)
                return builderid

        started = time.monotonic()
        builderid = asyncio.run(cold_start())
        cold_start_seconds = time.monotonic() - started
        assert master is not None
        time.sleep(2)
        idle = {
            "master_rss_mb": rss_mb(master.pid),
            "worker_rss_mb": max(rss_mb(w.pid) for w in workers),
        }
        cpu_before = cpu_seconds(master.pid), sum(cpu_seconds(w.pid) for w in workers)

        async def bench() -> dict[str, Any]:
            async with api_client(www_port) as http:
                return await run_bench(
                    http, builderid, args.latency_builds, args.builds, args.poll_ms / 1000
                )

        result = asyncio.run(bench())
        cpu = {
            "master_cpu_seconds": round(cpu_seconds(master.pid) - cpu_before[0], 1),
            "workers_cpu_seconds": round(
                sum(cpu_seconds(w.pid) for w in workers) - cpu_before[1], 1
            ),
        }
        loaded = {
            "master_rss_mb": rss_mb(master.pid),
            "worker_rss_mb": max(rss_mb(w.pid) for w in workers),
        }
    except BaseException:
        keep_logs = True
        raise
    finally:
        stop_all(workers)
        if master is not None:
            stop_all([master])
        if keep_logs:
            progress(f"logs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print(
        json.dumps(
            {
                "bench": "peers-buildbot",
                "buildbot_version": buildbot_version(venv),
                "database": "sqlite",
                "workers": WORKERS,
                "builds_per_worker": 1,
                "poll_ms": args.poll_ms,
                "cold_start_to_ready_seconds": round(cold_start_seconds, 2),
                "create_master_seconds": round(create_master_seconds, 2),
                **result,
                "rss_idle": idle,
                "rss_after_load": loaded,
                "cpu_during_bench": cpu,
                "load_average": load_average(),
                "machine": machine_description(),
            }
        )
    )


if __name__ == "__main__":
    main()
