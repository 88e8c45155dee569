"""Solvyd side by side with Buildbot 4 on this machine (`make bench-peers`).

Runs bench/peers/buildbot/run.py and `bench/dispatch.py --peer-figures` (SQLite, 4 agents of
one build each, local executor, 100 idle builds, a 100-build burst) interleaved: Buildbot,
Solvyd, Buildbot, Solvyd. Prints one JSON line: per figure, the median of each side's runs and
`buildbot_over_solvyd` (Buildbot's figure divided by Solvyd's), with which way is better.
The idle latencies are both the client's, polling each API every 5 ms (Buildbot's API has
whole seconds only).
"""

import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parents[1]
BUILDBOT_RUN = [sys.executable, str(BENCH / "peers" / "buildbot" / "run.py")]
SOLVYD_RUN = [
    sys.executable,
    str(BENCH / "dispatch.py"),
    *("--database", "sqlite", "-k", "4", "--concurrency", "1"),
    *("--latency-builds", "100", "-n", "100", "--peer-figures"),
]
RUNS = 2
# Each figure, and which way is better.
BETTER = {
    "trigger_to_step_start_p50_ms": "lower",
    "trigger_to_step_start_p95_ms": "lower",
    "trigger_to_finished_p50_ms": "lower",
    "trigger_to_finished_p95_ms": "lower",
    "burst_builds_per_second": "higher",
    "server_cpu_ms_per_build": "lower",
    "server_rss_idle_mb": "lower",
    "worker_rss_idle_mb": "lower",
    "server_rss_after_load_mb": "lower",
    "worker_rss_after_load_mb": "lower",
    "cold_start_to_ready_seconds": "lower",
}


def builds_counted(result: dict[str, Any], idle: dict[str, Any]) -> int:
    """The builds a benchmark ran while it counted CPU: a warm-up, the idle ones, the burst."""
    return 1 + int(idle["samples"]) + int(result["throughput"]["builds"])


def buildbot_figures(result: dict[str, Any]) -> dict[str, float]:
    return {
        "trigger_to_step_start_p50_ms": result["trigger_to_step_start_ms"]["p50"],
        "trigger_to_step_start_p95_ms": result["trigger_to_step_start_ms"]["p95"],
        "trigger_to_finished_p50_ms": result["trigger_to_finished_ms"]["p50"],
        "trigger_to_finished_p95_ms": result["trigger_to_finished_ms"]["p95"],
        "burst_builds_per_second": result["throughput"]["builds_per_second"],
        "server_cpu_ms_per_build": round(
            result["cpu_during_bench"]["master_cpu_seconds"]
            * 1000
            / builds_counted(result, result["trigger_to_step_start_ms"]),
            1,
        ),
        "server_rss_idle_mb": result["rss_idle"]["master_rss_mb"],
        "worker_rss_idle_mb": result["rss_idle"]["worker_rss_mb"],
        "server_rss_after_load_mb": result["rss_after_load"]["master_rss_mb"],
        "worker_rss_after_load_mb": result["rss_after_load"]["worker_rss_mb"],
        "cold_start_to_ready_seconds": result["cold_start_to_ready_seconds"],
    }


def solvyd_figures(result: dict[str, Any]) -> dict[str, float]:
    polled = result["client_polled"]
    return {
        "trigger_to_step_start_p50_ms": polled["trigger_to_step_start_ms"]["p50"],
        "trigger_to_step_start_p95_ms": polled["trigger_to_step_start_ms"]["p95"],
        "trigger_to_finished_p50_ms": polled["trigger_to_finished_ms"]["p50"],
        "trigger_to_finished_p95_ms": polled["trigger_to_finished_ms"]["p95"],
        "burst_builds_per_second": result["throughput"]["builds_per_second"],
        "server_cpu_ms_per_build": round(
            result["cpu_during_bench"]["server_cpu_seconds"]
            * 1000
            / builds_counted(result, result["trigger_to_running_ms"]),
            1,
        ),
        "server_rss_idle_mb": result["rss_idle"]["server_rss_mb"],
        "worker_rss_idle_mb": result["rss_idle"]["agent_rss_mb"],
        "server_rss_after_load_mb": result["rss_after_load"]["server_rss_mb"],
        "worker_rss_after_load_mb": result["rss_after_load"]["agent_rss_mb"],
        "cold_start_to_ready_seconds": result["cold_start_to_ready_seconds"],
    }


def side_by_side(
    buildbot_runs: list[dict[str, float]], solvyd_runs: list[dict[str, float]]
) -> dict[str, dict[str, Any]]:
    """Per figure: each side's median over its runs and Buildbot's divided by Solvyd's."""
    table = {}
    for name, better in BETTER.items():
        buildbot = round(statistics.median(run[name] for run in buildbot_runs), 2)
        solvyd = round(statistics.median(run[name] for run in solvyd_runs), 2)
        table[name] = {
            "buildbot": buildbot,
            "solvyd": solvyd,
            "buildbot_over_solvyd": round(buildbot / solvyd, 2) if solvyd else None,
            "better": better,
        }
    return table


def run(command: list[str]) -> dict[str, Any]:
    """One benchmark; its progress goes to our stderr, its JSON line is its stdout's last (and
    goes to stderr too, so a run's figures outlive a later run's failure)."""
    completed = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True)
    line = completed.stdout.strip().splitlines()[-1]
    print(line, file=sys.stderr, flush=True)
    result: dict[str, Any] = json.loads(line)
    return result


def main() -> None:
    buildbot_results, solvyd_results = [], []
    for index in range(RUNS):
        print(f"run {index + 1}/{RUNS}: Buildbot", file=sys.stderr, flush=True)
        buildbot_results.append(run(BUILDBOT_RUN))
        print(f"run {index + 1}/{RUNS}: Solvyd", file=sys.stderr, flush=True)
        solvyd_results.append(run(SOLVYD_RUN))
    print(
        json.dumps(
            {
                "bench": "peers",
                "runs_each": RUNS,
                "setup": "SQLite, 4 workers/agents of 1 build each, a build of one `true` step",
                "figures": side_by_side(
                    [buildbot_figures(r) for r in buildbot_results],
                    [solvyd_figures(r) for r in solvyd_results],
                ),
                "buildbot_version": buildbot_results[0]["buildbot_version"],
                "poll_ms": solvyd_results[0]["client_polled"]["poll_ms"],
                "not_success": {
                    "buildbot": sum(r["throughput"]["not_success"] for r in buildbot_results),
                    "solvyd": sum(r["throughput"]["not_success"] for r in solvyd_results),
                },
                "load_average": {
                    "buildbot": [r["load_average"] for r in buildbot_results],
                    "solvyd": [r["load_average"] for r in solvyd_results],
                },
                "machine": solvyd_results[0]["machine"],
            }
        )
    )


if __name__ == "__main__":
    main()
