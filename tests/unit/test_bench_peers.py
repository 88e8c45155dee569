"""The pure parts of the Buildbot side-by-side benchmark (bench/peers/): the master.cfg it
writes is the setup the comparison claims, and the table's ratio goes the way its key says.
The benchmark itself is run by `make bench-peers`, not by the tests."""

import importlib.util
import sys
import types
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _load(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(f"bench_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _record(kind: str) -> Any:
    return lambda *args, **kwargs: {"kind": kind, "args": args, **kwargs}


def _evaluate_master_config(text: str) -> dict[str, Any]:
    """Run master.cfg as Buildbot would, against stand-ins for the few `buildbot.plugins`
    names it uses (Buildbot is not installed in the project's environment)."""
    plugins = types.ModuleType("buildbot.plugins")
    vars(plugins).update(
        worker=types.SimpleNamespace(Worker=_record("worker")),
        steps=types.SimpleNamespace(ShellCommand=_record("shell")),
        schedulers=types.SimpleNamespace(ForceScheduler=_record("force")),
        util=types.SimpleNamespace(
            BuilderConfig=_record("builder"), BuildFactory=_record("factory")
        ),
    )
    saved = {name: sys.modules.get(name) for name in ("buildbot", "buildbot.plugins")}
    sys.modules["buildbot"] = types.ModuleType("buildbot")
    sys.modules["buildbot.plugins"] = plugins
    try:
        namespace: dict[str, Any] = {}
        exec(compile(text, "master.cfg", "exec"), namespace)  # noqa: S102
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
    config: dict[str, Any] = namespace["BuildmasterConfig"]
    return config


def test_master_config_has_four_one_build_workers_on_one_builder_running_true() -> None:
    run = _load(BENCH / "peers" / "buildbot" / "run.py")
    config = _evaluate_master_config(run.master_config(pb_port=9989, www_port=8010, workers=4))

    workers = config["workers"]
    names = [w["args"][0] for w in workers]
    assert len(set(names)) == 4
    assert all(w["max_builds"] == 1 for w in workers)
    [builder] = config["builders"]
    assert sorted(builder["workernames"]) == sorted(names)
    [step] = builder["factory"]["args"][0]
    assert step["command"] == ["true"]
    [scheduler] = config["schedulers"]
    assert scheduler["kind"] == "force" and scheduler["builderNames"] == [builder["name"]]
    # Every forced build runs: none is merged into another.
    assert config["collapseRequests"] is False
    # Both listeners on loopback only, and the SQLite database is the master's default.
    assert config["protocols"]["pb"]["port"] == "tcp:9989:interface=127.0.0.1"
    assert config["www"]["port"] == "tcp:8010:interface=127.0.0.1"
    assert config["db"]["db_url"].startswith("sqlite:")


def test_side_by_side_takes_each_sides_median_and_divides_buildbot_by_solvyd() -> None:
    compare = _load(BENCH / "peers" / "compare.py")
    figures = list(compare.BETTER)
    buildbot = [dict.fromkeys(figures, 2.0), dict.fromkeys(figures, 4.0)]
    solvyd = [dict.fromkeys(figures, 1.0), dict.fromkeys(figures, 1.0)]
    solvyd[1]["burst_builds_per_second"] = 0.0
    solvyd[0]["burst_builds_per_second"] = 0.0

    table = compare.side_by_side(buildbot, solvyd)

    latency = table["trigger_to_step_start_p50_ms"]
    assert latency == {
        "buildbot": 3.0,
        "solvyd": 1.0,
        "buildbot_over_solvyd": 3.0,
        "better": "lower",
    }
    assert table["burst_builds_per_second"]["buildbot_over_solvyd"] is None
    assert table["burst_builds_per_second"]["better"] == "higher"
