"""`make bench-compare`'s pure parts: its arguments and the summary of its runs. The runs
themselves take minutes of both cores; they are proven by running it (docs/performance.md)."""

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compare() -> ModuleType:
    """bench/compare.py, which imports its helpers as `common` from bench/ on sys.path, as
    `python bench/compare.py` has it."""
    sys.path.insert(0, str(REPO / "bench"))
    try:
        spec = importlib.util.spec_from_file_location("bench_compare", REPO / "bench/compare.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(REPO / "bench"))
        sys.modules.pop("common", None)
    return module


def dispatch_result(p50: float, builds_per_second: float, server_cpu: float) -> dict[str, Any]:
    """bench/dispatch.py's JSON line, with the figures a test varies."""
    return {
        "trigger_to_running_ms": {"p50": p50, "p95": p50 * 2, "max": p50 * 3, "samples": 100},
        "throughput": {"builds": 300, "seconds": 30.0, "builds_per_second": builds_per_second},
        "cpu_during_bench": {"server_cpu_seconds": server_cpu, "agents_cpu_seconds": 10.0},
        "rss_idle": {"server_rss_mb": 120.0, "agent_rss_mb": 30.0},
        "rss_after_load": {"server_rss_mb": 150.0, "agent_rss_mb": 60.0},
    }


def run(compare: ModuleType, database: str, side: str, *figures: float) -> Any:
    return compare.Run(1, database, side, dispatch_result(*figures), 60.0, 0.5)


def test_summary_has_each_sides_values_medians_and_the_ratio_of_the_medians(
    compare: ModuleType,
) -> None:
    runs = [
        run(compare, "postgresql", "base", 30.0, 10.0, 20.0),
        run(compare, "postgresql", "working", 16.0, 22.0, 9.0),
        run(compare, "postgresql", "base", 34.0, 12.0, 22.0),
        run(compare, "postgresql", "working", 15.0, 20.0, 11.0),
        run(compare, "sqlite", "base", 8.0, 15.0, 10.0),
        run(compare, "sqlite", "working", 10.0, 15.0, 10.0),
    ]
    summary = compare.summarize(runs)

    assert list(summary) == ["postgresql", "sqlite"]
    assert set(summary["sqlite"]) == set(compare.FIGURES)
    p50 = summary["postgresql"]["trigger_to_running_p50_ms"]
    assert p50 == {
        "base": [30.0, 34.0],
        "working": [16.0, 15.0],
        "base_median": 32.0,
        "working_median": 15.5,
        "ratio": 0.484,
    }
    assert summary["postgresql"]["trigger_to_running_p95_ms"]["working_median"] == 31.0
    assert summary["postgresql"]["builds_per_second"]["ratio"] == 1.909
    assert summary["postgresql"]["server_cpu_seconds"]["ratio"] == 0.476
    assert summary["sqlite"]["trigger_to_running_p50_ms"]["ratio"] == 1.25
    assert summary["sqlite"]["server_rss_after_load_mb"]["ratio"] == 1.0


def test_a_figure_the_base_measured_as_zero_has_no_ratio(compare: ModuleType) -> None:
    runs = [run(compare, "sqlite", "base", 8.0, 15.0, 0.0)]
    runs.append(run(compare, "sqlite", "working", 8.0, 15.0, 0.1))
    assert compare.summarize(runs)["sqlite"]["server_cpu_seconds"]["ratio"] is None


def test_a_database_with_one_side_only_is_refused(compare: ModuleType) -> None:
    with pytest.raises(ValueError, match="sqlite"):
        compare.summarize([run(compare, "sqlite", "base", 8.0, 15.0, 1.0)])


def test_arguments_default_to_two_rounds_on_both_databases(compare: ModuleType) -> None:
    args = compare.parse_args(["--base", "main~1"])
    assert (args.base, args.rounds, args.databases, args.bench_args) == (
        "main~1",
        2,
        ["sqlite", "postgresql"],
        [],
    )
    args = compare.parse_args(
        ["--base", "abc", "--databases", "postgresql", "postgresql", "--bench-args=-n 100 -k 8"]
    )
    assert args.databases == ["postgresql"]
    assert args.bench_args == ["-n", "100", "-k", "8"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "--base"),
        (["--base", "abc", "--rounds", "0"], "at least 1"),
        (["--base", "abc", "--databases", "mysql"], "invalid choice"),
        (["--base", "abc", "--bench-args=-n 10 --database sqlite"], "--databases"),
        (["--base", "abc", "--bench-args=--database=postgresql"], "--databases"),
        (["--base", "abc", "--bench-args=--help"], "measure nothing"),
        (["--base", "abc", "--bench-args=-n '10"], "cannot split"),
    ],
)
def test_bad_arguments_are_refused_with_a_message(
    compare: ModuleType, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        compare.parse_args(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def _make_dry_run(*args: str) -> subprocess.CompletedProcess[str]:
    make = shutil.which("make")
    assert make is not None
    return subprocess.run(
        [make, "--dry-run", "bench-compare", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_make_bench_compare_requires_base() -> None:
    result = _make_dry_run()
    assert result.returncode != 0
    assert "BASE is required" in result.stderr


def test_make_bench_compare_passes_its_variables_on() -> None:
    result = _make_dry_run("BASE=main~1", "ROUNDS=1", "DATABASES=postgresql", "BENCH_ARGS=-n 100")
    assert result.returncode == 0, result.stderr
    command = " ".join(result.stdout.replace("\\\n", " ").split())
    assert (
        "bench/compare.py --base 'main~1' --rounds '1' --databases postgresql --bench-args='-n 100'"
    ) in command
