"""A private repository end to end: a real git server on loopback that demands Basic auth
(`git http-backend` behind tests/support/git_http.py), a real server and agent, the job's
checkout credentials set through the real CLI. With them the build checks out and runs the
repository's pipeline; without them (or with the secret unset) the checkout fails saying why.
The token is never in the log, the agent's or server's output, the workspace's .git (its
config, remote URL or any other file), a step's environment, or left on the agent's disk."""

import base64
import hashlib
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.helpers import UserApi
from tests.support.git_http import GitHttpServer, serve_git_http
from tests.support.git_repos import GitRepo, make_repo
from tests.support.processes import Process, ServerProcess, start_agent

pytestmark = pytest.mark.e2e

USER = "oauth2"
TOKEN = "glpat-E2eCheck0utT0ken-4815"
BASIC = base64.b64encode(f"{USER}:{TOKEN}".encode()).decode()
FORMS = [TOKEN, BASIC, f"{USER}:{TOKEN}"]

# The step looks for the token in what it can see without being given it: every piece of
# text of the token's length, hashed, against the hashes of its forms. It prints only
# "clean" or "LEAK", so masking cannot hide a leak from this test.
CHECK = """
import hashlib, os, pathlib, subprocess
wanted = {(h, int(n)) for h, n in (p.split(':') for p in os.environ['FORM_HASHES'].split(','))}
def leaks(text):
    return any(
        hashlib.sha256(text[i:i + n].encode()).hexdigest() == h
        for h, n in wanted for i in range(len(text) - n + 1)
    )
env = chr(10).join(f'{k}={v}' for k, v in os.environ.items() if k != 'FORM_HASHES')
print('env', 'LEAK' if leaks(env) else 'clean')
files = [p for p in pathlib.Path('.git').rglob('*') if p.is_file()]
git_dir = chr(10).join(p.read_bytes().decode('latin-1') for p in files)
print('git-dir', 'LEAK' if leaks(git_dir) else 'clean', len(files) > 0)
remote = subprocess.run(['git', 'remote', '-v'], capture_output=True, text=True).stdout
print('remote', 'LEAK' if leaks(remote) or '@' in remote else 'clean')
"""
PIPELINE = json.dumps(
    {
        "steps": [
            {
                "name": "inspect",
                "commands": [
                    "cat version.txt",
                    "git config --local --list",
                    "env | sort",
                    f"echo {base64.b64encode(CHECK.encode()).decode()} | base64 -d | python3",
                ],
            }
        ]
    }
)


def _form_hashes() -> str:
    return ",".join(f"{hashlib.sha256(f.encode()).hexdigest()}:{len(f)}" for f in FORMS)


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    return make_repo(tmp_path / "repos", PIPELINE)


@pytest.fixture
def git_server(repo: GitRepo) -> Iterator[GitHttpServer]:
    with serve_git_http(repo.root, username=USER, password=TOKEN) as server:
        yield server


@pytest.fixture
def agent_tmp(tmp_path: Path) -> Path:
    path = tmp_path / "agent-tmp"
    path.mkdir()
    return path


@pytest.fixture
def agent(
    server: ServerProcess,
    log_dir: Path,
    tmp_path: Path,
    api: UserApi,
    agent_tmp: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Process]:
    # The agent's scratch files (an SSH key, git's throwaway HOME) go here, to be checked.
    monkeypatch.setenv("TMPDIR", str(agent_tmp))
    name = f"private-agent-{uuid.uuid4().hex[:6]}"
    process = start_agent(server.url, log_dir, tmp_path / "work", name=name)
    api.wait_for_worker(name)
    yield process
    process.stop()


def _cli(server: ServerProcess, api: UserApi, *args: str, stdin: str = "") -> str:
    token = str(api.http.headers["Authorization"]).removeprefix("Bearer ")
    result = subprocess.run(
        [sys.executable, "-m", "solvyd.cli", *args],
        env={**os.environ, "SOLVYD_URL": server.url, "SOLVYD_TOKEN": token, "COLUMNS": "200"},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    return output


def _assert_clean(text: str, where: str) -> None:
    for form in FORMS:
        assert form not in text, f"{where} holds a form of the token"


def test_a_private_repository_builds_with_its_credentials_only(
    server: ServerProcess,
    api: UserApi,
    agent: Process,
    repo: GitRepo,
    git_server: GitHttpServer,
    agent_tmp: Path,
    tmp_path: Path,
) -> None:
    url = git_server.url(repo.name)
    name = f"private-{uuid.uuid4().hex[:8]}"
    _cli(
        server, api, "jobs", "create", name, "--scm-url", url, "--branch", "main",
        "--env", f"FORM_HASHES={_form_hashes()}",
    )  # fmt: skip
    job = api.http.get("/jobs", params={"name": name}).json()["items"][0]
    assert job["checkout_credentials"] is None

    # Without credentials: the server's 401 ends the checkout, and the log says so.
    build = api.trigger(job["id"])
    failed = api.wait_for_finish(build["id"], timeout=60)
    assert failed["status"] == "error", failed
    checkout_step = next(s for s in failed["steps"] if s["name"] == "checkout")
    assert checkout_step["status"] == "error"
    assert "cloning" in checkout_step["error_message"]

    # Named but not set: a clear error naming the secret.
    edited = _cli(server, api, "jobs", "edit", name, "--checkout-credentials", "GIT_TOKEN")
    assert "checkout_credentials" in edited
    assert "GIT_TOKEN" in _cli(server, api, "jobs", "show", name)
    build = api.trigger(job["id"])
    unset = api.wait_for_finish(build["id"], timeout=60)
    assert unset["status"] == "error", unset
    assert "the checkout credentials secret GIT_TOKEN is not set" in unset["error_message"]

    # Set (as USERNAME:TOKEN, from stdin as the CLI takes values): the build runs.
    _cli(
        server, api, "secrets", "set", "GIT_TOKEN", "--job", name, "--value-stdin",
        stdin=f"{USER}:{TOKEN}",
    )  # fmt: skip
    build = api.trigger(job["id"])
    finished = api.wait_for_finish(build["id"], timeout=90)
    log = api.log_text(build["id"])
    assert finished["status"] == "success", (finished, log)
    assert finished["commit_sha"] == repo.commits["third"]
    lines = log.splitlines()
    assert "using the checkout credentials GIT_TOKEN" in log
    assert "version 3" in lines
    assert "env clean" in lines
    assert "git-dir clean True" in lines
    assert "remote clean" in lines
    assert f"remote.origin.url={url}" in lines
    assert any(r.authorization is not None and r.status == 200 for r in git_server.requests)

    _assert_clean(log, "the log")
    _assert_clean(json.dumps(api.build(build["id"])), "the build")
    _assert_clean(json.dumps(api.http.get(f"/jobs/{job['id']}").json()), "the job")
    _assert_clean(agent.output(), "the agent's output")
    _assert_clean(server.process.output(), "the server's output")
    # Nothing of the checkout is left on the agent's disk: no scratch dir, no key, no token.
    assert not list(agent_tmp.glob("solvyd-git-*"))
    for path in (tmp_path / "work").rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not any(form.encode() in data for form in FORMS), path
