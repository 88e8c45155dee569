"""checkout() of a private repository and of a pull request's head commit, against real git
servers (`git http-backend` behind Basic auth, tests/support/git_http.py; `sshd` with a key,
tests/support/git_ssh.py) and real repositories:
credentials reach only the job's repository, never the workspace's config, the log or a fork;
a commit the server will not send by its sha is found through the pull request's ref or in
the fork, and the log says which way."""

import os
import stat
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from solvyd.agent.checkout import (
    CheckoutError,
    GitCredentials,
    _git_env,
    checkout,
    credentials_from_secret,
)
from solvyd.protocol import JobSpec
from solvyd.shared.redaction import MASK
from tests.support.git_http import GitHttpServer, serve_git_http
from tests.support.git_repos import GitRepo, git, make_repo
from tests.support.git_ssh import SshGitServer, serve_git_ssh

TOKEN = "glpat-Priv4teT0kenValue9"
USER = "oauth2"
KEY = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\n"
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n"
    "-----END OPENSSH PRIVATE KEY-----\n"
)


def _spec(url: str, **fields: object) -> JobSpec:
    return JobSpec(
        build_id=uuid.uuid4(),
        build_number=1,
        job_id=uuid.uuid4(),
        job_name="private-checkout",
        scm_url=url,
        steps=[],
        **fields,  # type: ignore[arg-type]
    )


def _commit_in(work: Path, text: str) -> str:
    (work / "version.txt").write_text(text + "\n")
    git(work, "commit", "--quiet", "-am", text)
    return git(work, "rev-parse", "HEAD")


@pytest.fixture(scope="module")
def repos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """The job's repository with a pull request whose ref (refs/pull/7/head) no branch
    holds, updated after its first commit (`pr_old` is no longer a tip); and a fork with a
    commit only it has (`fork_only`)."""
    root = tmp_path_factory.mktemp("served")
    base = make_repo(root / "base")
    work = base.root / "work"
    git(work, "checkout", "--quiet", "-b", "pr", base.commits["third"])
    pr_old = _commit_in(work, "pull request commit 1")
    pr_new = _commit_in(work, "pull request commit 2")
    git(work, "push", "--quiet", str(base.path), "pr:refs/pull/7/head")
    fork = GitRepo(root / "fork", name="fork.git")
    git(root, "clone", "--quiet", "--bare", str(base.path), "fork/fork.git", home=work)
    git(work, "checkout", "--quiet", "-b", "forked", base.commits["third"])
    fork_only = _commit_in(work, "fork commit")
    git(work, "push", "--quiet", str(fork.path), "forked:refs/heads/feature-x")
    return {
        "root": root,
        "base": base,
        "fork": fork,
        "pr_old": pr_old,
        "pr_new": pr_new,
        "fork_only": fork_only,
    }


@pytest.fixture(scope="module")
def private(repos: dict[str, object]) -> Iterator[GitHttpServer]:
    """The served tree behind Basic auth, on protocol v0: a sha no ref advertises is refused."""
    root = repos["root"]
    assert isinstance(root, Path)
    with serve_git_http(root, username=USER, password=TOKEN, protocol_v2=False) as server:
        yield server


@pytest.fixture
def public(repos: dict[str, object]) -> Iterator[GitHttpServer]:
    """The same tree with no auth: it stands for the fork's server and records what it got."""
    root = repos["root"]
    assert isinstance(root, Path)
    with serve_git_http(root, protocol_v2=False) as server:
        yield server


def _assert_no_credentials_in(workspace: Path, lines: list[str]) -> None:
    config = (workspace / ".git" / "config").read_text()
    for form in (TOKEN, "Authorization", "extraheader", "extraHeader", f"{USER}:"):
        assert form not in config
    remote = git(workspace, "remote", "get-url", "origin")
    assert "@" not in remote and TOKEN not in remote
    for line in lines:
        assert TOKEN not in line


async def test_a_private_repository_is_cloned_with_the_token_only(
    private: GitHttpServer, tmp_path: Path
) -> None:
    url = private.url("base/project.git")
    credentials = credentials_from_secret(f"{USER}:{TOKEN}\n")
    for name, spec in (
        ("branch", _spec(url, branch="feature")),
        ("default", _spec(url)),
        ("sha", _spec(url, commit_sha=private_commit(private))),
    ):
        lines: list[str] = []
        workspace = tmp_path / name
        await checkout(spec, workspace, lines.append, credentials=credentials)
        _assert_no_credentials_in(workspace, lines)
    assert {r.authorization for r in private.requests if r.status == 200} == {
        private.expected_authorization()
    }


def private_commit(server: GitHttpServer) -> str:
    return git(server.root / "base" / "project.git", "rev-parse", "refs/heads/main")


async def test_without_credentials_the_private_checkout_fails_clearly(
    private: GitHttpServer, tmp_path: Path
) -> None:
    url = private.url("base/project.git")
    with pytest.raises(CheckoutError) as raised:
        await checkout(_spec(url, branch="main"), tmp_path / "ws", lambda _: None)
    assert "cloning" in str(raised.value)
    assert "Authentication failed" in str(raised.value) or "could not read" in str(raised.value)
    wrong = GitCredentials(token="not-the-token", username=USER)
    with pytest.raises(CheckoutError) as raised:
        await checkout(_spec(url), tmp_path / "ws2", lambda _: None, credentials=wrong)
    assert "not-the-token" not in str(raised.value)


async def test_a_commit_found_through_the_pull_requests_ref(
    repos: dict[str, object], private: GitHttpServer, tmp_path: Path
) -> None:
    url = private.url("base/project.git")
    credentials = GitCredentials(token=TOKEN, username=USER)
    old = repos["pr_old"]
    assert isinstance(old, str)
    # Not a tip of any ref: the v0 server refuses it by sha, and no branch or tag has it.
    with pytest.raises(CheckoutError, match=f"commit {old} was not found"):
        await checkout(
            _spec(url, commit_sha=old), tmp_path / "a", lambda _: None, credentials=credentials
        )
    lines: list[str] = []
    spec = _spec(url, commit_sha=old, checkout_ref="refs/pull/7/head")
    sha = await checkout(spec, tmp_path / "b", lines.append, credentials=credentials)
    assert sha == old
    assert (tmp_path / "b" / "version.txt").read_text() == "pull request commit 1\n"
    assert any("through the pull request's ref refs/pull/7/head" in line for line in lines)
    assert not any("whole repository" in line for line in lines)
    _assert_no_credentials_in(tmp_path / "b", lines)


async def test_a_forks_commit_is_fetched_from_the_fork_without_credentials(
    repos: dict[str, object], private: GitHttpServer, public: GitHttpServer, tmp_path: Path
) -> None:
    fork_only = repos["fork_only"]
    assert isinstance(fork_only, str)
    lines: list[str] = []
    spec = _spec(
        private.url("base/project.git"),
        commit_sha=fork_only,
        checkout_ref="refs/pull/7/head",  # the base's ref does not hold it (yet)
        checkout_url=public.url("fork/fork.git"),
    )
    sha = await checkout(
        spec, tmp_path / "ws", lines.append, credentials=GitCredentials(token=TOKEN, username=USER)
    )
    assert sha == fork_only
    assert (tmp_path / "ws" / "version.txt").read_text() == "fork commit\n"
    assert any("in the fork" in line and "without credentials" in line for line in lines)
    # The fork's server saw requests, none with the job's credentials.
    assert public.requests
    assert all(request.authorization is None for request in public.requests)
    _assert_no_credentials_in(tmp_path / "ws", lines)


async def test_a_forks_commit_from_a_file_url(repos: dict[str, object], tmp_path: Path) -> None:
    base, fork, fork_only = repos["base"], repos["fork"], repos["fork_only"]
    assert isinstance(base, GitRepo) and isinstance(fork, GitRepo) and isinstance(fork_only, str)
    lines: list[str] = []
    spec = _spec(base.file_url, commit_sha=fork_only, checkout_url=fork.file_url)
    assert await checkout(spec, tmp_path / "a", lines.append) == fork_only
    assert any("fetching commit" in line and "by its sha failed" in line for line in lines)


async def test_a_fork_on_the_agents_disk_is_refused_for_a_remote_repository(
    repos: dict[str, object], private: GitHttpServer, tmp_path: Path
) -> None:
    fork, fork_only = repos["fork"], repos["fork_only"]
    assert isinstance(fork, GitRepo) and isinstance(fork_only, str)
    for local in (fork.file_url, str(fork.path)):
        lines: list[str] = []
        spec = _spec(private.url("base/project.git"), commit_sha=fork_only, checkout_url=local)
        with pytest.raises(CheckoutError, match=f"commit {fork_only} was not found"):
            await checkout(
                spec,
                tmp_path / uuid.uuid4().hex,
                lines.append,
                credentials=GitCredentials(token=TOKEN, username=USER),
            )
        assert any("names a path on this machine" in line for line in lines)


async def test_the_ssh_key_file_lives_only_while_git_runs(
    repos: dict[str, object], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = repos["base"]
    assert isinstance(base, GitRepo)
    scratch_root = tmp_path / "tmp"
    scratch_root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch_root))
    seen: list[int] = []

    def emit(line: str) -> None:
        for key_file in scratch_root.glob("solvyd-git-*/ssh_key"):
            seen.append(stat.S_IMODE(key_file.stat().st_mode))
        assert "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ" not in line

    await checkout(
        _spec(base.file_url), tmp_path / "ws", emit, credentials=credentials_from_secret(KEY)
    )
    assert seen and set(seen) == {0o600}
    assert os.listdir(scratch_root) == []


def test_a_secret_names_a_key_or_a_token() -> None:
    assert credentials_from_secret(KEY) == GitCredentials(ssh_key=KEY.strip())
    host = "git.example ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9ok"
    with_hosts = credentials_from_secret(KEY + "\n" + host + "\n")
    assert with_hosts == GitCredentials(ssh_key=KEY.strip(), known_hosts=host)
    assert credentials_from_secret("ghp_abc123\n") == GitCredentials(
        token="ghp_abc123", username="x-access-token"
    )
    assert credentials_from_secret("x-token-auth:tok:en") == GitCredentials(
        token="tok:en", username="x-token-auth"
    )
    for bad in ("", "  \n", ":token", "user:", "two\nlines"):
        with pytest.raises(CheckoutError) as raised:
            credentials_from_secret(bad)
        if bad.strip():
            assert bad.strip() not in str(raised.value)  # never the value
    masked = GitCredentials(token=TOKEN, username=USER).secrets()
    assert TOKEN in masked and f"{USER}:{TOKEN}" in masked
    assert MASK == "***"


def test_known_hosts_after_the_key_make_ssh_check_the_host_key(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    host = "git.example ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0d"
    strict = _git_env(tmp_path / "a", credentials_from_secret(f"{KEY}{host}\n"))
    assert "StrictHostKeyChecking=yes" in strict["GIT_SSH_COMMAND"]
    assert (tmp_path / "a" / "known_hosts").read_text() == host + "\n"
    first_use = _git_env(tmp_path / "b", credentials_from_secret(KEY))
    assert "StrictHostKeyChecking=accept-new" in first_use["GIT_SSH_COMMAND"]


# --- over SSH: a real sshd on loopback (tests/support/git_ssh.py) ---


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshGitServer]:
    with serve_git_ssh(tmp_path_factory.mktemp("sshd")) as server:
        yield server


async def test_an_ssh_key_checks_out_and_leaves_nothing_behind(
    repos: dict[str, object],
    sshd: SshGitServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    base = repos["base"]
    assert isinstance(base, GitRepo)
    scratch_root = tmp_path / "tmp"
    scratch_root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch_root))
    url = sshd.url(base.path)
    key_lines = [line for line in sshd.client_key.splitlines() if len(line) > 8]
    # The key alone: the host key is accepted on first use.
    lines: list[str] = []
    credentials = credentials_from_secret(sshd.client_key)
    sha = await checkout(
        _spec(url, commit_sha=base.commits["second"]),
        tmp_path / "a",
        lines.append,
        credentials=credentials,
    )
    assert sha == base.commits["second"]
    # The key and the server's host key: checked strictly, and it matches.
    pinned = credentials_from_secret(f"{sshd.client_key}{sshd.host_key_line}\n")
    assert pinned.known_hosts == sshd.host_key_line
    await checkout(_spec(url, branch="feature"), tmp_path / "b", lines.append, credentials=pinned)
    for workspace in (tmp_path / "a", tmp_path / "b"):
        config = (workspace / ".git" / "config").read_text()
        assert "PRIVATE KEY" not in config and not any(line in config for line in key_lines)
        assert git(workspace, "remote", "get-url", "origin") == url
    for line in lines:
        assert not any(key_line in line for key_line in key_lines[1:-1])
    assert os.listdir(scratch_root) == []  # the key file went with the scratch directory


async def test_ssh_refuses_a_wrong_host_key_and_a_missing_key(
    repos: dict[str, object], sshd: SshGitServer, tmp_path: Path
) -> None:
    base = repos["base"]
    assert isinstance(base, GitRepo)
    url = sshd.url(base.path)
    other = tmp_path / "other_host_key"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True, timeout=30
    )
    kind, value = (other.with_suffix(".pub")).read_text().split()[:2]
    wrong = credentials_from_secret(f"{sshd.client_key}[127.0.0.1]:{sshd.port} {kind} {value}\n")
    with pytest.raises(CheckoutError, match="Host key verification failed"):
        await checkout(_spec(url), tmp_path / "a", lambda _: None, credentials=wrong)
    with pytest.raises(CheckoutError, match="Permission denied"):
        await checkout(_spec(url), tmp_path / "b", lambda _: None)
