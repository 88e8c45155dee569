"""A push to a real repository served on loopback by `git daemon`, announced by its signed
GitHub-shaped push webhook (tests/support/forge_payloads/github.py, shaped like GitHub's
documented push payload), is built by a real agent at exactly that commit. The job is made
with the real `solvyd` CLI, its webhook secret read from stdin."""

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.helpers import UserApi
from tests.support.forge_payloads import github, sign
from tests.support.git_repos import GitDaemon, GitRepo, git, make_repo, start_git_daemon
from tests.support.processes import ADMIN_PASSWORD, Process, ServerProcess, start_agent

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]
SECRET = "e2e-webhook-secret-42"


@pytest.fixture
def agent(server: ServerProcess, log_dir: Path, tmp_path: Path, api: UserApi) -> Iterator[Process]:
    name = f"hook-agent-{uuid.uuid4().hex[:6]}"
    process = start_agent(server.url, log_dir, tmp_path / "work", name=name)
    api.wait_for_worker(name)
    yield process
    process.stop()


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    return make_repo(tmp_path / "repos")


@pytest.fixture
def daemon(repo: GitRepo, log_dir: Path) -> Iterator[GitDaemon]:
    started = start_git_daemon(repo.root, log_dir)
    yield started
    started.stop()


def _cli(args: list[str], config: Path, stdin: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "solvyd.cli", *args],
        env={**os.environ, "SOLVYD_CLI_CONFIG": str(config), "COLUMNS": "200"},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        check=False,
    )


def _push_commit(repo: GitRepo, work: Path) -> tuple[str, str]:
    """A new commit on main, pushed to the bare repository: (before, after)."""
    git(work.parent, "clone", "--quiet", str(repo.path), work.name, home=work.parent)
    before = git(work, "rev-parse", "HEAD")
    (work / "version.txt").write_text("version 4 from the webhook\n")
    git(work, "commit", "--quiet", "-am", "commit 4")
    after = git(work, "rev-parse", "HEAD")
    git(work, "push", "--quiet", "origin", "main")
    return before, after


def test_a_signed_push_webhook_builds_the_pushed_commit(
    server: ServerProcess,
    api: UserApi,
    agent: Process,
    repo: GitRepo,
    daemon: GitDaemon,
    tmp_path: Path,
) -> None:
    url = daemon.url(repo)
    config = tmp_path / "cli" / "config.json"
    login = _cli(
        ["login", server.url, "--username", "admin", "--password-stdin"], config, ADMIN_PASSWORD
    )
    assert login.returncode == 0, login.stderr
    name = f"hooked-{uuid.uuid4().hex[:6]}"
    created = _cli(
        [
            "jobs",
            "create",
            name,
            "--scm-url",
            url,
            "--webhook-secret-stdin",
            "--trigger-events",
            "push,tag",
            "--branches",
            "main",
        ],
        config,
        SECRET + "\n",
    )
    assert created.returncode == 0, created.stderr
    assert SECRET not in created.stdout + created.stderr
    job = api.http.get("/jobs", params={"name": name}).json()["items"][0]
    assert job["has_webhook_secret"] is True
    assert job["trigger_events"] == ["push", "tag"]

    before, after = _push_commit(repo, tmp_path / "pusher")
    # The repository as GitHub Enterprise on loopback would name it.
    repository = github.repository("solvyd", "project", host=f"127.0.0.1:{daemon.port}")
    repository |= {"clone_url": url, "git_url": url}
    request = sign(
        github.push(repo=repository, before=before, after=after, message="commit 4"), SECRET
    )
    response = httpx.post(
        f"{server.url}/api/v1/hooks/github", headers=request.headers, content=request.body
    )
    assert response.status_code == 202, response.text
    [queued] = response.json()["builds"]
    assert queued["job_id"] == job["id"]

    finished = api.wait_for_finish(queued["id"], timeout=90)
    assert finished["status"] == "success", finished
    assert (finished["commit_sha"], finished["branch"], finished["trigger"]) == (
        after,
        "main",
        "push",
    )
    log = api.log_text(queued["id"])
    assert f"sha={after}" in log
    assert "version 4 from the webhook" in log
    # The same delivery again builds nothing more.
    again = httpx.post(
        f"{server.url}/api/v1/hooks/github", headers=request.headers, content=request.body
    )
    assert again.json()["builds"] == response.json()["builds"]
