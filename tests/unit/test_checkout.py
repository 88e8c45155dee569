"""checkout() against real git repositories made by the test (file:// and git daemon), and
planning a build from the repository's pipeline file."""

import asyncio
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from solvyd.agent.checkout import MASK, CheckoutError, GitCredentials, _git_env, _Masker, checkout
from solvyd.agent.repo_pipeline import RepoPipelineError, plan_from_repository
from solvyd.protocol import JobSpec
from tests.support.git_repos import (
    GitDaemon,
    GitRepo,
    git,
    make_repo,
    start_git_daemon,
    start_silent_server,
)


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> GitRepo:
    return make_repo(tmp_path_factory.mktemp("repos"))


@pytest.fixture(scope="module")
def daemon(repo: GitRepo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitDaemon]:
    started = start_git_daemon(repo.root, tmp_path_factory.mktemp("daemon-log"))
    yield started
    started.stop()


def _spec(url: str, **fields: object) -> JobSpec:
    return JobSpec(
        build_id=uuid.uuid4(),
        build_number=1,
        job_id=uuid.uuid4(),
        job_name="checkout-test",
        scm_url=url,
        steps=[],
        **fields,  # type: ignore[arg-type]
    )


def _version(workspace: Path) -> str:
    return (workspace / "version.txt").read_text().strip()


async def test_default_branch_shallow(repo: GitRepo, tmp_path: Path) -> None:
    lines: list[str] = []
    sha = await checkout(_spec(repo.file_url), tmp_path / "ws", lines.append)
    assert sha == repo.commits["third"]
    assert _version(tmp_path / "ws") == "version 3"
    assert git(tmp_path / "ws", "rev-list", "--count", "HEAD") == "1"  # depth 1
    assert any(repo.file_url in line for line in lines)
    assert lines[-1] == f"checked out commit {sha}"


async def test_a_local_path_is_cloned_shallow_without_a_git_warning(
    repo: GitRepo, tmp_path: Path
) -> None:
    lines: list[str] = []
    sha = await checkout(_spec(str(repo.path), branch="main"), tmp_path / "ws", lines.append)
    assert sha == repo.commits["third"]
    assert git(tmp_path / "ws", "rev-list", "--count", "HEAD") == "1"
    assert not [line for line in lines if "warning" in line.lower()]
    assert any(str(repo.path) in line for line in lines)


async def test_branch(repo: GitRepo, tmp_path: Path) -> None:
    sha = await checkout(_spec(repo.file_url, branch="feature"), tmp_path, lambda _: None)
    assert sha == repo.commits["feature"]
    assert _version(tmp_path) == "feature version"


async def test_exact_sha_of_a_commit_that_is_not_a_tip(repo: GitRepo, tmp_path: Path) -> None:
    lines: list[str] = []
    sha = await checkout(
        _spec(repo.file_url, branch="main", commit_sha=repo.commits["first"]),
        tmp_path,
        lines.append,
    )
    assert sha == repo.commits["first"]
    assert _version(tmp_path) == "version 1"
    assert git(tmp_path, "rev-list", "--count", "HEAD") == "1"  # fetched alone, depth 1
    assert not any("whole repository" in line for line in lines)


async def test_abbreviated_sha_falls_back_to_a_full_fetch(repo: GitRepo, tmp_path: Path) -> None:
    lines: list[str] = []
    short = repo.commits["second"][:10]
    sha = await checkout(_spec(repo.file_url, commit_sha=short), tmp_path, lines.append)
    assert sha == repo.commits["second"]
    assert _version(tmp_path) == "version 2"
    assert any("fetching the whole repository" in line for line in lines)


async def test_over_git_daemon(repo: GitRepo, daemon: GitDaemon, tmp_path: Path) -> None:
    url = daemon.url(repo)
    assert await checkout(_spec(url), tmp_path / "a", lambda _: None) == repo.commits["third"]
    second = repo.commits["second"]
    assert await checkout(_spec(url, commit_sha=second), tmp_path / "b", lambda _: None) == second
    assert _version(tmp_path / "b") == "version 2"


async def test_unknown_commit_is_an_error(repo: GitRepo, tmp_path: Path) -> None:
    with pytest.raises(CheckoutError, match="commit 0123456789 was not found"):
        await checkout(_spec(repo.file_url, commit_sha="0123456789"), tmp_path, lambda _: None)


async def test_bad_url_says_what_failed(tmp_path: Path) -> None:
    url = (tmp_path / "no-such-repo.git").as_uri()
    lines: list[str] = []
    with pytest.raises(CheckoutError) as raised:
        await checkout(_spec(url), tmp_path / "ws", lines.append)
    message = str(raised.value)
    assert message.startswith(f"cloning {url} at its default branch failed (git exited with 128)")
    assert "does not appear to be a git repository" in message
    assert any("does not appear" in line for line in lines)  # git's own words reach the log


async def test_unknown_branch_says_so(repo: GitRepo, tmp_path: Path) -> None:
    with pytest.raises(CheckoutError, match="Remote branch nope not found"):
        await checkout(_spec(repo.file_url, branch="nope"), tmp_path, lambda _: None)


async def test_a_hung_remote_times_out(tmp_path: Path) -> None:
    sock, port = start_silent_server()
    try:
        started = time.monotonic()
        with pytest.raises(CheckoutError, match=r"timed out after 1s"):
            await checkout(
                _spec(f"git://127.0.0.1:{port}/hang.git"),
                tmp_path,
                lambda _: None,
                timeout_seconds=1.0,
            )
        assert time.monotonic() - started < 8.0
    finally:
        sock.close()


async def test_cancelling_a_hung_checkout_ends_git(tmp_path: Path) -> None:
    sock, port = start_silent_server()
    try:
        task = asyncio.create_task(
            checkout(_spec(f"git://127.0.0.1:{port}/hang.git"), tmp_path, lambda _: None)
        )
        await asyncio.sleep(0.5)
        started = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert time.monotonic() - started < 5.0
        assert not _git_processes_in(tmp_path)
    finally:
        sock.close()


def _git_processes_in(workspace: Path) -> list[int]:
    """Pids of processes (of any name) whose working directory is `workspace`."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if Path(os.readlink(entry / "cwd")) == workspace:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


async def test_workspace_must_be_empty(repo: GitRepo, tmp_path: Path) -> None:
    (tmp_path / "left-over").write_text("x")
    with pytest.raises(CheckoutError, match="is not empty"):
        await checkout(_spec(repo.file_url), tmp_path, lambda _: None)


async def test_credentials_are_masked_in_the_log(tmp_path: Path) -> None:
    token = "s3cr3t-token-value"
    url = f"https://user:{token}@127.0.0.1:1/{token}.git"
    lines: list[str] = []
    with pytest.raises(CheckoutError) as raised:
        await checkout(_spec(url), tmp_path, lines.append, credentials=GitCredentials(token=token))
    assert lines
    for text in [*lines, str(raised.value)]:
        assert token not in text
    assert MASK in lines[0]


def test_credentials_reach_git_through_the_environment(tmp_path: Path) -> None:
    key = "-----BEGIN KEY-----\nAAAAprivatekeymaterial\n-----END KEY-----"
    env = _git_env(tmp_path, GitCredentials(token="tok", ssh_key=key))
    values = [env[k] for k in env if k.startswith("GIT_CONFIG_VALUE_")]
    assert any(v.startswith("Authorization: Basic ") for v in values)
    key_file = tmp_path / "ssh_key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert key_file.read_text().strip() == key
    assert f"'-i' '{key_file}'" in env["GIT_SSH_COMMAND"]
    assert "BatchMode=yes" in env["GIT_SSH_COMMAND"]
    assert env["GIT_CONFIG_NOSYSTEM"] == "1" and env["GIT_TERMINAL_PROMPT"] == "0"
    masked = _Masker(GitCredentials(ssh_key=key).secrets())("leak: AAAAprivatekeymaterial")
    assert "privatekeymaterial" not in masked


def test_plan_from_the_repository_pipeline(repo: GitRepo, tmp_path: Path) -> None:
    git(tmp_path, "clone", "--quiet", str(repo.path), "ws")
    spec = _spec(
        repo.file_url,
        branch="main",
        env={"FROM_JOB": "1"},
        labels=["linux"],
        timeout_seconds=90,
        pipeline_path=".solvyd.yml",
    ).model_copy(update={"attempt": 3})
    planned, _ = plan_from_repository(spec, tmp_path / "ws", repo.commits["third"])
    assert [s.name for s in planned.steps] == ["show", "second"]
    # A retried build's plan keeps its attempt: it names the workspace and every report.
    assert planned.build_id == spec.build_id and planned.attempt == 3
    assert planned.pipeline_path == ".solvyd.yml"
    assert planned.env["FROM_JOB"] == "1"
    assert planned.env["SOLVYD_COMMIT_SHA"] == repo.commits["third"]
    assert planned.labels == ["linux"] and planned.timeout_seconds == 90


def test_the_files_warnings_are_lines_for_the_build_log(tmp_path: Path) -> None:
    (tmp_path / ".solvyd.yml").write_text(
        "steps:\n  - name: t\n    commands: [echo $PY]\n    matrix: {PY: [3.10, 3.12]}\n"
    )
    spec = _spec("file:///x", pipeline_path=".solvyd.yml")
    planned, warnings = plan_from_repository(spec, tmp_path, None)
    assert [step.name for step in planned.steps] == ["t (PY=3.1)", "t (PY=3.12)"]
    assert warnings == [
        ".solvyd.yml:4:19: warning: steps[0].matrix.PY[0]: YAML reads 3.10 as the number 3.1; "
        'quote it to keep it as written: "3.10"'
    ]


def test_missing_or_invalid_pipeline_file(tmp_path: Path) -> None:
    spec = _spec("file:///x", pipeline_path="ci/pipeline.yml")
    with pytest.raises(RepoPipelineError, match=r"no pipeline file ci/pipeline\.yml"):
        plan_from_repository(spec, tmp_path, None)
    (tmp_path / "ci").mkdir()
    (tmp_path / "ci" / "pipeline.yml").write_text("steps:\n  - name: a\n    comands: [x]\n")
    with pytest.raises(
        RepoPipelineError, match=r"^ci/pipeline.yml:2:5: steps\[0\].commands: field required\n"
    ):
        plan_from_repository(spec, tmp_path, None)
    outside = _spec("file:///x", pipeline_path="../etc/passwd")
    with pytest.raises(RepoPipelineError, match="inside the repository"):
        plan_from_repository(outside, tmp_path, None)
