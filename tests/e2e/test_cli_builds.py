"""`solvyd builds` against a real server and agent: builds named as the UI names them
(`lib#1`, `lib`), every step status shown, logs with a step column, artifacts listed and
downloaded."""

import hashlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.processes import ADMIN_PASSWORD, ServerProcess, start_agent, start_server

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]

LIB_PIPELINE = {
    "artifacts": ["dist/*"],
    "steps": [
        {
            "name": "lint",
            "commands": ["echo '::group::Install'", "echo installing", "echo '::endgroup::'"],
        },
        {"name": "test", "matrix": {"PY": ["3.10", "3.12"]}, "commands": ["echo test-on-$PY"]},
        {
            "name": "wheel",
            "commands": [
                "mkdir -p dist",
                "head -c 3000000 /dev/urandom > dist/big.bin",
                "echo small > dist/small.txt",
            ],
        },
    ],
}
BROKEN_PIPELINE = {
    "steps": [
        {"name": "fail", "commands": ["echo failing", "exit 3"]},
        {"name": "after", "commands": ["echo never"]},
    ]
}


class Cli:
    def __init__(self, config: Path) -> None:
        self.config = config

    def __call__(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "solvyd.cli", *args],
            env={**os.environ, "SOLVYD_CLI_CONFIG": str(self.config), "COLUMNS": "200"},
            capture_output=True,
            text=True,
            timeout=60,
            cwd=REPO,
            input=stdin,
        )
        assert "Traceback" not in result.stderr, result.stderr
        return result


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    """One server (SQLite) and one local agent for the module, the CLI logged in, and two
    jobs: `lib` (a matrix, groups and artifacts) built once, `broken` failed once."""
    root = tmp_path_factory.mktemp("cli-builds")
    logs = root / "logs"
    logs.mkdir()
    server: ServerProcess = start_server(f"sqlite:///{root}/solvyd.db", root / "data", logs)
    agent = start_agent(server.url, logs, root / "work", name="cli-agent")
    try:
        run = Cli(root / "config.json")
        login = run("login", server.url, "-u", "admin", "--password-stdin", stdin=ADMIN_PASSWORD)
        assert login.returncode == 0, login.stderr
        for name, pipeline in (("lib", LIB_PIPELINE), ("broken", BROKEN_PIPELINE)):
            path = root / f"{name}.yml"
            path.write_text(json.dumps(pipeline))
            assert run("jobs", "create", name, "--pipeline", str(path)).returncode == 0
        run.lib_followed = run("jobs", "trigger", "lib", "--follow")  # type: ignore[attr-defined]
        assert run("jobs", "trigger", "broken", "--follow").returncode == 3
        yield run
    finally:
        agent.stop()
        server.process.stop()


def test_show_renders_every_step_of_a_failed_build_by_job_and_number(cli: Cli) -> None:
    shown = cli("builds", "show", "broken#1")
    assert shown.returncode == 0, shown.stderr
    assert "broken #1 failure" in shown.stdout
    assert "step fail: failure (exit 3)" in shown.stdout
    assert "step after: skipped" in shown.stdout
    build_id = re.search(r"id: (\S+)", shown.stdout).group(1)  # type: ignore[union-attr]
    # The job's newest build, and the id, name the same build.
    assert cli("builds", "show", "broken").stdout == shown.stdout
    assert cli("builds", "show", build_id).stdout == shown.stdout


def test_approve_says_why_a_build_needs_none(cli: Cli) -> None:
    """Only a fork's build can await approval (API tests cover that path); the CLI names the
    build it was given and passes on the server's refusal as one line."""
    edited = cli("jobs", "edit", "broken", "--fork-approval", "--no-fork-secrets")
    assert edited.returncode == 0, edited.stderr
    assert "fork_approval, fork_secrets" in edited.stderr
    shown = cli("builds", "show", "broken#1")
    assert "event: manual" in shown.stdout and "trigger: manual" in shown.stdout
    result = cli("builds", "approve", "broken#1")
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and "already finished" in result.stderr


def test_a_build_or_step_that_does_not_exist_is_one_clear_line(cli: Cli) -> None:
    for args, message in (
        (["builds", "show", "broken#9"], "error: job broken has no build #9"),
        (["builds", "logs", "nosuch"], "error: no job named 'nosuch'"),
        (["builds", "show", "broken#x"], "error: 'broken#x' names no build"),
        (
            ["builds", "logs", "broken#1", "--step", "nope"],
            "error: build broken#1 has no step 'nope' (its steps: fail, after)",
        ),
    ):
        result = cli(*args)
        assert result.returncode == 1, (args, result.stdout)
        assert result.stderr.startswith(message), result.stderr


def test_the_log_of_several_steps_has_a_step_column(cli: Cli) -> None:
    followed = cli.lib_followed  # type: ignore[attr-defined]
    assert followed.returncode == 0, followed.stderr
    printed = cli("builds", "logs", "lib#1")
    for output in (followed.stdout, printed.stdout):
        lines = output.splitlines()
        # Padded to the longest name, `test (PY=3.10)`; piped, so no colour.
        assert "[lint]           installing" in lines
        assert "[test (PY=3.10)] test-on-3.10" in lines
        assert "[test (PY=3.12)] test-on-3.12" in lines
        # Group markers are for a terminal; a pipe keeps them as the step printed them.
        assert "[lint]           ::group::Install" in lines

    cells = cli("builds", "logs", "lib", "--step", "test")
    assert cells.returncode == 0, cells.stderr
    assert cells.stdout.splitlines() == [
        "[test (PY=3.10)] $ echo test-on-$PY",
        "[test (PY=3.10)] test-on-3.10",
        "[test (PY=3.12)] $ echo test-on-$PY",
        "[test (PY=3.12)] test-on-3.12",
    ]
    one = cli("builds", "logs", "lib", "--step", "test (PY=3.12)")
    assert one.stdout.splitlines() == ["$ echo test-on-$PY", "test-on-3.12"]


def test_artifacts_are_listed_and_downloaded(cli: Cli, tmp_path: Path) -> None:
    listed = cli("builds", "artifacts", "lib#1")
    assert listed.returncode == 0, listed.stderr
    assert re.search(r"dist/big\.bin\s+│ 2\.9 MiB", listed.stdout), listed.stdout
    assert "dist/small.txt" in listed.stdout
    assert "artifacts:\n    dist/big.bin (2.9 MiB)" in cli("builds", "show", "lib").stdout

    out = tmp_path / "out"
    fetched = cli("builds", "download", "lib#1", "*.bin", "-o", str(out))
    assert fetched.returncode == 0, fetched.stderr
    assert fetched.stdout.splitlines() == [str(out / "dist" / "big.bin")]
    sha = re.search(r"dist/big\.bin.*\b([0-9a-f]{64})\b", listed.stdout).group(1)  # type: ignore[union-attr]
    assert hashlib.sha256((out / "dist" / "big.bin").read_bytes()).hexdigest() == sha
    assert not (out / "dist" / "small.txt").exists()

    none = cli("builds", "download", "lib#1", "*.whl", "-o", str(out))
    assert none.returncode == 1
    assert "error: build lib#1 has no artifacts matching '*.whl'" in none.stderr


def test_a_failed_download_leaves_no_partial_file(cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "dist" / "small.txt").mkdir(parents=True)  # in the way of the file
    failed = cli("builds", "download", "lib#1", "dist/small.txt", "-o", str(out))
    assert failed.returncode == 1
    assert failed.stderr.startswith(f"error: cannot save {out / 'dist' / 'small.txt'}")
    assert sorted(p.name for p in (out / "dist").iterdir()) == ["small.txt"]


def test_exec_prints_a_step_column_for_several_steps(tmp_path: Path) -> None:
    pipeline = tmp_path / "two.yml"
    pipeline.write_text(json.dumps(BROKEN_PIPELINE))
    result = Cli(tmp_path / "unused.json")("exec", str(pipeline), "--source", str(tmp_path))
    assert result.returncode == 3, result.stderr
    assert "[fail]  failing" in result.stdout.splitlines()
