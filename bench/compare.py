"""A/B of the dispatch benchmark: a base commit's tree against the working tree, alternately.

`make bench-compare BASE=<commit> [ROUNDS=2] [DATABASES="sqlite postgresql"] [BENCH_ARGS=...]`,
or `python bench/compare.py --base <commit> [--rounds 2] [--databases sqlite postgresql]
[--bench-args="-n 100"]`.

Checks BASE out into a temporary detached `git worktree` (removed at the end, also after a
failure, Ctrl-C or SIGTERM), then runs bench/dispatch.py for each tree in turn: per round and
database, base then working (A B A B ...), so a drift of the machine's load between runs hits
both sides alike. Each run has PYTHONPATH=<tree>/src, so the server and agents it spawns
(`sys.executable -m solvyd.cli`, bench/common.py) import that tree's solvyd before the
venv's editable install; one import per tree before the runs prints which solvyd it got and
refuses a tree that does not import from its own src/ or cannot import its server and agent
(a dependency this venv lacks).

Both sides are measured by the working tree's bench/dispatch.py and bench/common.py, so a
difference is the code under test and not a change of the measurement. They drive the server
only through `solvyd server`, `solvyd agent` and the REST API's login, jobs, trigger, builds
and workers; a base whose server cannot serve them fails its first run, with that run's output.

Progress on stderr; one JSON line on stdout: per database and figure, both sides' values,
their medians and the ratio working/base (above 1 means more: slower for latencies, more CPU
and memory, but faster for builds/s), with the commits, the load average and the machine.
"""

import argparse
import contextlib
import json
import os
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from common import load_average, machine_description

REPO = Path(__file__).resolve().parents[1]
DISPATCH = REPO / "bench" / "dispatch.py"
DATABASES = ("sqlite", "postgresql")
SIDES = ("base", "working")
# A 1-minute load average above this at the start means other work shares the cores, and the
# two sides' figures differ by noise as much as by code.
NOISY_LOAD = 1.5
# bench/dispatch.py, once asked to stop, stops its server and agents and drops its database.
DISPATCH_STOP_SECONDS = 60

# Each figure compared, and where bench/dispatch.py's JSON line has it.
FIGURES: dict[str, tuple[str, str]] = {
    "trigger_to_running_p50_ms": ("trigger_to_running_ms", "p50"),
    "trigger_to_running_p95_ms": ("trigger_to_running_ms", "p95"),
    "builds_per_second": ("throughput", "builds_per_second"),
    "server_cpu_seconds": ("cpu_during_bench", "server_cpu_seconds"),
    "agents_cpu_seconds": ("cpu_during_bench", "agents_cpu_seconds"),
    "server_rss_idle_mb": ("rss_idle", "server_rss_mb"),
    "agent_rss_idle_mb": ("rss_idle", "agent_rss_mb"),
    "server_rss_after_load_mb": ("rss_after_load", "server_rss_mb"),
    "agent_rss_after_load_mb": ("rss_after_load", "agent_rss_mb"),
}

# Imports what `solvyd server` and `solvyd agent` import, and says where solvyd came from. An
# older tree may lack one of these modules itself (its layout differed); anything missing
# below them (a dependency, or a module of its own) means its server or agent cannot start.
IMPORT_CHECK = """
import importlib, solvyd
for name in ("solvyd.cli.runners", "solvyd.server.app", "solvyd.agent.worker"):
    try:
        importlib.import_module(name)
    except ModuleNotFoundError as error:
        if error.name != name:
            raise
print(solvyd.__file__)
"""


class CompareError(Exception):
    """A failure to report in one sentence or so, without a traceback."""


@dataclass
class Run:
    round: int
    database: str
    side: str
    result: dict[str, Any]
    seconds: float
    load_1min: float


def progress(message: str) -> None:
    print(f"[compare {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# Arguments


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def dispatch_arguments(text: str) -> list[str]:
    """BENCH_ARGS as bench/dispatch.py's arguments. The database is this script's to choose
    (--databases), once per run."""
    try:
        arguments = shlex.split(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"cannot split {text!r}: {error}") from None
    for argument in arguments:
        if argument == "--database" or argument.startswith("--database="):
            raise argparse.ArgumentTypeError(
                "the databases are chosen by --databases (DATABASES=...), not by BENCH_ARGS"
            )
        if argument in ("-h", "--help"):
            raise argparse.ArgumentTypeError("--help would measure nothing")
    return arguments


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="A/B of bench/dispatch.py: BASE's tree against the working tree."
    )
    parser.add_argument("--base", required=True, help="the commit to compare against")
    parser.add_argument("--rounds", type=positive_int, default=2, help="runs per side and database")
    parser.add_argument(
        "--databases", nargs="+", choices=DATABASES, default=list(DATABASES), metavar="DATABASE"
    )
    parser.add_argument(
        "--bench-args",
        type=dispatch_arguments,
        default=[],
        help='more arguments for bench/dispatch.py, both sides, as one string ("-n 100")',
    )
    args = parser.parse_args(argv)
    args.databases = list(dict.fromkeys(args.databases))
    return args


# The summary


def figures(result: dict[str, Any]) -> dict[str, float]:
    return {name: float(result[group][key]) for name, (group, key) in FIGURES.items()}


def ratio(base: float, working: float) -> float | None:
    """working / base; none when the base's figure is zero (a CPU time rounded to 0.0)."""
    if base == 0:
        return None
    return round(working / base, 3)


def summarize(runs: list[Run]) -> dict[str, dict[str, dict[str, Any]]]:
    """Per database and figure: both sides' values in run order, their medians, the ratio of
    the medians working/base."""
    summary: dict[str, dict[str, dict[str, Any]]] = {}
    for database in dict.fromkeys(run.database for run in runs):
        values = {
            side: [
                figures(run.result) for run in runs if (run.database, run.side) == (database, side)
            ]
            for side in SIDES
        }
        if not all(values.values()):
            raise ValueError(f"{database}: a side has no run")
        summary[database] = {}
        for name in FIGURES:
            base = [value[name] for value in values["base"]]
            working = [value[name] for value in values["working"]]
            base_median = round(statistics.median(base), 2)
            working_median = round(statistics.median(working), 2)
            summary[database][name] = {
                "base": base,
                "working": working,
                "base_median": base_median,
                "working_median": working_median,
                "ratio": ratio(base_median, working_median),
            }
    return summary


def elapsed_text(seconds: float) -> str:
    return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"


# Git


def git(*args: str) -> str:
    result = subprocess.run(
        ["git", "-C", str(REPO), *args], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise CompareError(f"git {' '.join(args)}: {result.stderr.strip()}")
    return result.stdout.strip()


def resolve_commit(revision: str) -> str:
    try:
        return git("rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}")
    except CompareError:
        raise CompareError(f"BASE={revision} is not a commit of {REPO}") from None


@contextlib.contextmanager
def base_worktree(commit: str) -> Iterator[Path]:
    """The commit checked out, detached, in a temporary worktree that is removed afterwards
    (with `git worktree prune` behind it, should the removal itself fail)."""
    parent = Path(tempfile.mkdtemp(prefix="solvyd-bench-base-"))
    tree = parent / "tree"
    try:
        git("worktree", "add", "--detach", "--quiet", str(tree), commit)
        yield tree
    finally:
        subprocess.run(
            ["git", "-C", str(REPO), "worktree", "remove", "--force", str(tree)],
            capture_output=True,
            check=False,
        )
        subprocess.run(
            ["git", "-C", str(REPO), "worktree", "prune"], capture_output=True, check=False
        )
        shutil.rmtree(parent, ignore_errors=True)


# Running the benchmark


def tree_env(tree: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(tree / "src")}


def check_imports(side: str, tree: Path, commit: str) -> str:
    """The solvyd file the tree's processes import; a clear error when they would not import
    that tree's, or not start."""
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_CHECK],
        env=tree_env(tree),
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise CompareError(
            f"the {side} tree ({commit[:10]}) cannot start with {sys.executable}: {last} "
            "(a dependency this venv lacks, see its pyproject.toml, or a broken commit)"
        )
    imported = Path(result.stdout.strip()).resolve()
    if not imported.is_relative_to((tree / "src").resolve()):
        raise CompareError(f"the {side} tree imports solvyd from {imported}, not {tree / 'src'}")
    return str(imported)


def stop_dispatch(process: "subprocess.Popen[str]") -> None:
    """Interrupt bench/dispatch.py once, so that its own cleanup stops its server and agents
    and drops its database; kill its whole process group if that takes too long."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)
    try:
        process.wait(DISPATCH_STOP_SECONDS)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def run_dispatch(side: str, tree: Path, database: str, bench_args: list[str]) -> dict[str, Any]:
    # Its own session: a Ctrl-C at the terminal reaches only this script, which then
    # interrupts the benchmark exactly once (a second SIGINT would cut its cleanup short).
    process = subprocess.Popen(
        [sys.executable, str(DISPATCH), "--database", database, *bench_args],
        env=tree_env(tree),
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate()
    finally:
        stop_dispatch(process)
    lines = stdout.strip().splitlines()
    if process.returncode != 0 or not lines:
        # The last line of a traceback says what went wrong; the rest goes to a file.
        with tempfile.NamedTemporaryFile(
            "w", prefix=f"solvyd-bench-compare-{side}-{database}-", suffix=".log", delete=False
        ) as log:
            log.write(stderr)
        last = (stderr.strip().splitlines() or ["(no output)"])[-1]
        raise CompareError(
            f"bench/dispatch.py --database {database} failed on the {side} tree "
            f"(exit {process.returncode}): {last}\nIts whole output: {log.name}"
        )
    for line in stderr.strip().splitlines():
        progress(f"  dispatch: {line}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def compare(args: argparse.Namespace) -> dict[str, Any]:
    started = time.monotonic()
    base_commit = resolve_commit(args.base)
    working_commit = git("rev-parse", "HEAD")
    dirty = bool(git("status", "--porcelain"))
    load_before = load_average()
    if load_before[0] > NOISY_LOAD:
        progress(
            f"warning: 1-minute load average {load_before[0]} at the start (over {NOISY_LOAD}): "
            "other work shares the cores, the ratios carry that noise"
        )
    total = args.rounds * len(args.databases) * len(SIDES)
    progress(
        f"base {base_commit[:10]} ({args.base}) against working {working_commit[:10]}"
        f"{' + uncommitted changes' if dirty else ''}: {total} runs"
    )
    runs: list[Run] = []
    with base_worktree(base_commit) as base_tree:
        trees = {"base": base_tree, "working": REPO}
        commits = {"base": base_commit, "working": working_commit}
        imported = {side: check_imports(side, trees[side], commits[side]) for side in SIDES}
        for side in SIDES:
            progress(f"{side} imports {imported[side]}")
        for round_number in range(1, args.rounds + 1):
            for database in args.databases:
                for side in SIDES:
                    load_1min = load_average()[0]
                    progress(
                        f"run {len(runs) + 1}/{total}: {side}, {database}, round {round_number} "
                        f"(load {load_1min}, {elapsed_text(time.monotonic() - started)} elapsed)"
                    )
                    run_started = time.monotonic()
                    result = run_dispatch(side, trees[side], database, args.bench_args)
                    run = Run(
                        round_number,
                        database,
                        side,
                        result,
                        round(time.monotonic() - run_started, 1),
                        load_1min,
                    )
                    runs.append(run)
                    values = figures(result)
                    progress(
                        f"  p50 {values['trigger_to_running_p50_ms']} ms, "
                        f"{values['builds_per_second']} builds/s, "
                        f"server CPU {values['server_cpu_seconds']} s ({run.seconds} s)"
                    )
                    if result["throughput"]["not_success"]:
                        progress(f"  warning: {result['throughput']['not_success']} builds failed")
    summary = summarize(runs)
    for database, per_figure in summary.items():
        for name, figure in per_figure.items():
            progress(
                f"{database} {name}: base {figure['base_median']}, "
                f"working {figure['working_median']}, ratio {figure['ratio']}"
            )
    return {
        "bench": "dispatch_compare",
        "base": {"ref": args.base, "commit": base_commit, "solvyd": imported["base"]},
        "working": {"commit": working_commit, "dirty": dirty, "solvyd": imported["working"]},
        "rounds": args.rounds,
        "bench_args": args.bench_args,
        "results": summary,
        "runs": [
            {
                "round": run.round,
                "database": run.database,
                "side": run.side,
                "seconds": run.seconds,
                "load_1min_at_start": run.load_1min,
                "builds_not_success": run.result["throughput"]["not_success"],
            }
            for run in runs
        ],
        "load_average": {"before": load_before, "after": load_average()},
        "seconds": round(time.monotonic() - started, 1),
        "machine": machine_description(),
    }


def main() -> None:
    args = parse_args()
    # SIGTERM cleans up as Ctrl-C does. SIGINT is set explicitly because a shell starts a
    # background job with it ignored, and bench/dispatch.py would inherit that and ignore the
    # one SIGINT that asks it to stop.
    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        result = compare(args)
    except CompareError as error:
        print(f"bench-compare: {error}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("bench-compare: interrupted; the base's worktree is removed", file=sys.stderr)
        sys.exit(130)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
