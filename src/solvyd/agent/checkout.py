"""Check out a build's sources with the ``git`` program.

- a commit sha: ``git init``, ``git fetch --depth 1 origin SHA``, ``git checkout FETCH_HEAD``.
  When the server refuses to fetch an unadvertised sha (or the sha is abbreviated), in turn:
  the pull request's ref in the job's repository (``JobSpec.checkout_ref``, such as
  ``refs/pull/7/head``), the fork's repository (``JobSpec.checkout_url``, fetched *without*
  the job's credentials), and a full fetch of the job's branches and tags; then
  ``git checkout SHA``. The log says which way the commit came;
- a branch: ``git clone --depth 1 --branch B --single-branch URL .``;
- neither: the default branch, ``git clone --depth 1 URL .``.

A local path is cloned as its ``file://`` URL: git ignores ``--depth`` for a plain path (and
warns so in every build's log), and copies the whole history instead.

Every value that names what to check out comes from the network (a webhook's branch, sha,
pull request ref and fork URL; a trigger's branch and sha): each is refused unless it is a name
git accepts (``shared/git_names.py``) before git runs at all, and git is given
``--end-of-options`` (or ``--``) before them, so none is ever read as an option
(``--upload-pack=...`` would run a command).

Git runs with nothing of the machine's or user's configuration (``GIT_CONFIG_NOSYSTEM``, a
throwaway ``HOME``), never prompts (``GIT_TERMINAL_PROMPT=0``, ssh in batch mode) and within a
time limit: a hung clone is killed with its whole process group and raises ``CheckoutError``.

Credentials (a token for HTTP(S), or an SSH private key) are handed to git through the
environment (never on a command line another user could read with ``ps``, never in the
workspace's ``.git/config``; an SSH key lives in a 0600 file of a scratch directory removed
when the checkout ends) and are masked in every line given to ``emit``. A job names them as
one secret (``credentials_from_secret`` reads it).
"""

import asyncio
import base64
import contextlib
import os
import re
import signal
import tempfile
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from solvyd.shared.git_names import (
    branch_problem,
    commit_sha_problem,
    full_ref_problem,
    url_problem,
)
from solvyd.shared.redaction import MASK, Masker

DEFAULT_TIMEOUT_SECONDS = 600.0
_KILL_WAIT_SECONDS = 5.0
DEFAULT_TOKEN_USERNAME = "x-access-token"  # noqa: S105 - a user name, not a secret
_URL_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<userinfo>[^/@\s]+)@")


class CheckoutError(Exception):
    """The checkout failed; the message says what failed, fit for the build's error."""


@dataclass(frozen=True)
class GitCredentials:
    """A job's secret for its repository (supplied by the secrets feature).

    ``token``: sent to HTTP(S) remotes as ``Authorization: Basic base64(username:token)``,
    which GitHub (``x-access-token``), GitLab (``oauth2``) and Gitea all accept.
    ``ssh_key``: the text of a private key, used for ssh remotes; ``known_hosts``: lines for
    ssh's known_hosts file. Without them the host key is accepted on first use (each checkout
    starts with an empty known_hosts file).
    """

    token: str | None = None
    username: str = DEFAULT_TOKEN_USERNAME
    ssh_key: str | None = None
    known_hosts: str | None = None

    def secrets(self) -> list[str]:
        found: list[str] = []
        if self.token:
            basic = base64.b64encode(f"{self.username}:{self.token}".encode()).decode()
            found += [self.token, f"{self.username}:{self.token}", basic]
        if self.ssh_key:
            found.append(self.ssh_key)
            found += [line.strip() for line in self.ssh_key.splitlines() if len(line.strip()) > 8]
        return found


def credentials_from_secret(value: str) -> GitCredentials:
    """The credentials a secret's text names: an SSH private key (a PEM or OpenSSH block,
    ``-----BEGIN ... PRIVATE KEY-----``, optionally followed by known_hosts lines for the
    server's host keys), else an HTTPS token, given as ``username:token`` or
    as the bare token (username ``x-access-token``, which GitHub wants for app tokens and the
    other forges ignore or accept). A token holding a ``:`` must be given with its username.
    Raises ``CheckoutError`` (without the value) for an empty secret or username."""
    text = value.strip()
    if text.startswith("-----BEGIN") and "PRIVATE KEY" in text:
        key, known_hosts = _split_key(text)
        return GitCredentials(ssh_key=key, known_hosts=known_hosts)
    if not text or any(ch in text for ch in "\r\n"):
        raise CheckoutError(
            "the checkout credentials are neither an SSH private key nor a token "
            "(one line: TOKEN or USERNAME:TOKEN)"
        )
    username, sep, token = text.partition(":")
    if not sep:
        return GitCredentials(token=text, username=DEFAULT_TOKEN_USERNAME)
    if not username or not token:
        raise CheckoutError("the checkout credentials USERNAME:TOKEN lack a username or a token")
    return GitCredentials(token=token, username=username)


def _split_key(text: str) -> tuple[str, str | None]:
    """The key block, and the lines after its ``-----END ...-----`` line: the server's host
    keys in known_hosts form (then checked strictly), or None (accepted as they come)."""
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if line.startswith("-----END") and "PRIVATE KEY" in line:
            rest = "\n".join(item for item in lines[index + 1 :] if item.strip())
            return "\n".join(lines[: index + 1]), rest or None
    return text, None


class _Masker:
    def __init__(self, secrets: Iterable[str]) -> None:
        self._secrets = Masker(secrets)

    def __call__(self, text: str) -> str:
        # Userinfo is masked even when it is not a known secret: a URL's password may be
        # one the job was never told about.
        return _URL_USERINFO.sub(lambda m: f"{m['scheme']}{MASK}@", self._secrets(text))


class CheckoutSource(Protocol):
    """What names the sources to fetch: a ``JobSpec`` is one, and so is ``CheckoutTarget``
    (what the checkout step is given)."""

    @property
    def scm_url(self) -> str | None: ...
    @property
    def commit_sha(self) -> str | None: ...
    @property
    def branch(self) -> str | None: ...
    @property
    def checkout_ref(self) -> str | None: ...
    @property
    def checkout_url(self) -> str | None: ...


@dataclass(frozen=True)
class CheckoutTarget:
    """A ``CheckoutSource`` of its own, for when there is no job (the checkout program)."""

    scm_url: str | None
    commit_sha: str | None = None
    branch: str | None = None
    checkout_ref: str | None = None
    checkout_url: str | None = None


async def checkout(
    spec: CheckoutSource,
    workspace: Path,
    emit: Callable[[str], None],
    *,
    credentials: GitCredentials | None = None,
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
) -> str:
    """Check out ``spec.scm_url`` at ``spec.commit_sha`` (or ``spec.branch``, or the default
    branch) into ``workspace`` (which must be empty or missing) and return the commit's sha.
    Every line git prints goes to ``emit``. Raises ``CheckoutError``."""
    async with _session(spec, workspace, emit, credentials, timeout_seconds) as session:
        git, url, shown = session.git, session.url, session.shown
        await asyncio.to_thread(_prepare_workspace, workspace)
        emit(f"$ checking out {shown}" + _target(spec))
        if spec.commit_sha:
            await _checkout_commit(git, url, spec.commit_sha, shown, spec, session.fork)
        else:
            command = ["clone", "--depth", "1"]
            if spec.branch:
                command += ["--branch", spec.branch, "--single-branch"]
            await git.run([*command, "--", url, "."], f"cloning {shown}{_target(spec)}")
        sha = (await git.run(["rev-parse", "HEAD"], "reading the checked-out commit")).strip()
        emit(f"checked out commit {sha}")
        return sha


async def read_file_at_commit(
    spec: CheckoutSource,
    path: str,
    emit: Callable[[str], None],
    *,
    max_bytes: int,
    credentials: GitCredentials | None = None,
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
) -> tuple[str, bytes | None]:
    """Fetch the commit ``spec`` names the way ``checkout`` does (same fallbacks, credentials
    and safety), but into a bare scratch repository and only that commit (depth 1), and read
    one file of it: the commit's full sha, and the file's bytes (None when the commit has no
    such file). Nothing is left on disk. Raises ``CheckoutError``, also for a file larger than
    ``max_bytes`` (its size is read before its content)."""
    with tempfile.TemporaryDirectory(prefix="solvyd-git-") as scratch:
        bare = Path(scratch) / "repo.git"
        bare.mkdir()
        async with _session(spec, bare, emit, credentials, timeout_seconds) as session:
            git, url, shown = session.git, session.url, session.shown
            emit(f"$ reading {path} from {shown}" + _target(spec))
            await git.run(["init", "--quiet", "--bare", "."], "initialising a scratch repository")
            await git.run(["remote", "add", "--end-of-options", "origin", url], "adding the remote")
            if spec.commit_sha:
                ref = await _fetch_commit(git, spec.commit_sha, shown, spec, session.fork)
            else:
                # The branch's tip (or the default branch's: the remote's HEAD), one commit.
                source = f"refs/heads/{spec.branch}" if spec.branch else "HEAD"
                await git.run(
                    ["fetch", "--depth", "1", "--no-tags", "--end-of-options", "origin", source],
                    f"cloning {shown}{_target(spec)}",
                )
                ref = "FETCH_HEAD"
            sha = (
                await git.run(
                    ["rev-parse", "--verify", "--end-of-options", f"{ref}^{{commit}}"],
                    "reading the fetched commit",
                )
            ).strip()
            emit(f"fetched commit {sha}")
            # `path` is the job's (a relative path the server checked); `sha:path` is one
            # argument git reads as an object name, never as an option.
            try:
                size = int((await git.run(["cat-file", "-s", f"{sha}:{path}"], "")).strip() or "0")
            except _GitFailed:
                return sha, None
            if size > max_bytes:
                raise CheckoutError(f"the file {path} is larger than {max_bytes} bytes")
            content = await git.run_bytes(["cat-file", "blob", f"{sha}:{path}"], f"reading {path}")
            return sha, content


@dataclass
class _Session:
    git: "_Git"
    fork: "_Git | None"  # for the fork's repository: without the job's credentials
    url: str
    shown: str


@contextlib.asynccontextmanager
async def _session(
    spec: CheckoutSource,
    cwd: Path,
    emit: Callable[[str], None],
    credentials: GitCredentials | None,
    timeout_seconds: float,
) -> AsyncIterator[_Session]:
    """What a fetch needs, with the names checked first: git in ``cwd`` with the job's
    credentials, masked lines and one deadline; and its scratch directory, removed after."""
    if not spec.scm_url:
        raise CheckoutError("the job has no scm_url to check out")
    _refuse_unsafe_names(spec)
    masker = _Masker(credentials.secrets() if credentials else [])
    with tempfile.TemporaryDirectory(prefix="solvyd-git-") as scratch:
        deadline = asyncio.get_running_loop().time() + timeout_seconds
        env = _git_env(Path(scratch), credentials, cwd)
        git = _Git(cwd, env, emit, masker, deadline, timeout_seconds)
        fork = None
        if spec.commit_sha and spec.checkout_url:
            # The fork is someone else's server: it never gets the job's credentials.
            plain = Path(scratch) / "plain"
            plain.mkdir()
            fork = _Git(cwd, _git_env(plain, None, cwd), emit, masker, deadline, timeout_seconds)
        yield _Session(git, fork, _git_url(spec.scm_url), masker(spec.scm_url))


def _refuse_unsafe_names(spec: CheckoutSource) -> None:
    """Raise CheckoutError for a value of the spec git could read as something else than the
    name it stands for. The server refuses them already; the agent does not rely on it."""
    problems: list[str | None] = []
    if spec.scm_url is not None:
        problem = url_problem(spec.scm_url)
        if problem is not None:
            problems.append(f"the job's scm_url is refused: {problem}")
    if spec.branch is not None:
        problems.append(branch_problem(spec.branch))
    if spec.commit_sha is not None:
        problems.append(commit_sha_problem(spec.commit_sha))
    if spec.checkout_ref is not None:
        problem = full_ref_problem(spec.checkout_ref)
        if problem is not None:
            problems.append(f"the pull request's ref is not a valid git ref: {problem}")
    if spec.checkout_url is not None:
        # A local path is let through: below, it is fetched only for a local repository.
        problem = url_problem(spec.checkout_url)
        if problem is not None:
            problems.append(f"the fork's clone URL is refused: {problem}")
    found = [problem for problem in problems if problem is not None]
    if found:
        raise CheckoutError("refusing to check out: " + "; ".join(found))


def _git_url(url: str) -> str:
    """The URL git is given: an absolute local path becomes its ``file://`` URL, so that
    shallow clones and fetches work as they do for remote repositories."""
    if os.path.isabs(url):
        return Path(url).as_uri()
    return url


def _local(url: str) -> bool:
    """Whether git would read `url` from this machine's disk."""
    if url.startswith("file:") or os.path.isabs(url):
        return True
    # git's scp-like syntax needs a colon before any slash; without one it is a local path.
    return "://" not in url and ":" not in url.split("/", 1)[0]


def _prepare_workspace(workspace: Path) -> None:
    try:
        workspace.mkdir(parents=True, exist_ok=True)
        empty = not any(workspace.iterdir())
    except OSError as exc:
        raise CheckoutError(f"cannot use the workspace {workspace}: {exc}") from exc
    if not empty:
        raise CheckoutError(f"the workspace {workspace} is not empty")


def _target(spec: CheckoutSource) -> str:
    if spec.commit_sha:
        return f" at commit {spec.commit_sha}"
    if spec.branch:
        return f" at branch {spec.branch}"
    return " at its default branch"


async def _checkout_commit(
    git: "_Git", url: str, sha: str, shown: str, spec: CheckoutSource, fork: "_Git | None"
) -> None:
    await git.run(["init", "--quiet", "."], "initialising the workspace")
    await git.run(["remote", "add", "--end-of-options", "origin", url], "adding the remote")
    ref = await _fetch_commit(git, sha, shown, spec, fork)
    # `ref` is FETCH_HEAD or a full sha git printed: `checkout` (which takes no
    # --end-of-options before a commit in git 2.39) cannot read it as an option.
    await git.run(
        ["-c", "advice.detachedHead=false", "checkout", "--quiet", "--detach", ref],
        f"checking out commit {sha}",
    )


async def _fetch_commit(
    git: "_Git", sha: str, shown: str, spec: CheckoutSource, fork: "_Git | None"
) -> str:
    """Fetch commit `sha` into the repository `git` works in (its remote `origin` added):
    what names it then (FETCH_HEAD, or its full sha)."""
    try:
        await git.run(
            ["fetch", "--depth", "1", "--no-tags", "--end-of-options", "origin", sha],
            f"fetching commit {sha} from {shown}",
        )
        git.emit(f"fetched commit {sha} from {shown}")
        return "FETCH_HEAD"
    except _GitFailed:
        # Servers may refuse a sha they do not advertise (a pull request's commit that is no
        # longer its ref's tip, or one that lives in a fork), and an abbreviated sha cannot be
        # fetched at all: look for it where else it may be.
        git.emit(f"fetching commit {sha} by its sha failed")
        return await _find_commit(git, sha, shown, spec, fork)


async def _find_commit(
    git: "_Git", sha: str, shown: str, spec: CheckoutSource, fork: "_Git | None"
) -> str:
    """Fetch `sha` by another way than its own name, saying in the log which one found it:
    the pull request's ref, the fork's repository, then every branch and tag of the job's.
    Returns the commit's full sha."""
    if spec.checkout_ref:
        ref = spec.checkout_ref
        with contextlib.suppress(_GitFailed):
            await git.run(
                [
                    "fetch",
                    "--no-tags",
                    "--end-of-options",
                    "origin",
                    f"+{ref}:refs/solvyd/checkout-ref",
                ],
                f"fetching {ref} from {shown}",
            )
        if found := await _full_sha(git, sha):
            git.emit(f"found commit {sha} through the pull request's ref {ref} of {shown}")
            return found
        git.emit(f"commit {sha} is not on {ref} of {shown}")
    if (
        fork is not None
        and spec.checkout_url
        and _local(spec.checkout_url)
        and not _local(spec.scm_url or "")
    ):
        # A fork on this machine's disk, for a repository that is not: a forged event must
        # not make the agent read its own files.
        git.emit("not fetching from the fork: its URL names a path on this machine")
    elif fork is not None and spec.checkout_url:
        fork_url = _git_url(spec.checkout_url)
        fork_shown = git.mask(spec.checkout_url)
        try:
            await fork.run(
                ["fetch", "--depth", "1", "--no-tags", "--end-of-options", fork_url, sha],
                f"fetching commit {sha} from the fork {fork_shown}",
            )
        except _GitFailed:
            with contextlib.suppress(_GitFailed):
                await fork.run(
                    [
                        "fetch",
                        "--no-tags",
                        "--end-of-options",
                        fork_url,
                        "+refs/heads/*:refs/solvyd/fork/*",
                    ],
                    f"fetching the branches of the fork {fork_shown}",
                )
        if found := await _full_sha(git, sha):
            git.emit(f"found commit {sha} in the fork {fork_shown} (fetched without credentials)")
            return found
        git.emit(f"commit {sha} was not found in the fork {fork_shown}")
    git.emit("fetching the whole repository")
    await git.run(
        ["fetch", "origin", "+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*"],
        f"fetching {shown}",
    )
    found = await _full_sha(git, sha)
    if not found:
        raise CheckoutError(f"commit {sha} was not found in {shown}")
    git.emit(f"found commit {sha} among the branches and tags of {shown}")
    return found


async def _full_sha(git: "_Git", sha: str) -> str | None:
    """The full sha of the commit `sha` names, if the workspace has it."""
    try:
        found = await git.run(
            ["rev-parse", "--verify", "--quiet", "--end-of-options", f"{sha}^{{commit}}"], ""
        )
    except _GitFailed:
        return None
    return found.strip() or None


def _git_env(
    scratch: Path, credentials: GitCredentials | None, workspace: Path | None = None
) -> dict[str, str]:
    # Inherited GIT_* variables (GIT_DIR, GIT_WORK_TREE, ...) would point git elsewhere.
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    home = scratch / "home"
    home.mkdir()
    known_hosts = scratch / "known_hosts"
    checking = "accept-new"
    if credentials is not None and credentials.known_hosts:
        known_hosts.write_text(credentials.known_hosts.rstrip("\n") + "\n")
        checking = "yes"
    ssh = ["ssh", "-o", "BatchMode=yes", "-o", f"StrictHostKeyChecking={checking}"]
    ssh += ["-o", f"UserKnownHostsFile={known_hosts}"]
    config: list[tuple[str, str]] = [("credential.helper", ""), ("core.askPass", "")]
    # The directory git was asked to fill is ours even when another user owns it (a pod's
    # emptyDir is root's, and the checkout image runs as its own user): without this, git
    # refuses it as of "dubious ownership".
    if workspace is not None:
        config.append(("safe.directory", str(workspace)))
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_TERMINAL_PROMPT="0",
        GIT_ASKPASS="",
        SSH_ASKPASS="",
        SSH_ASKPASS_REQUIRE="never",
        LC_ALL="C",
        LANGUAGE="C",
    )
    if credentials is not None and credentials.token:
        basic = base64.b64encode(f"{credentials.username}:{credentials.token}".encode()).decode()
        config.append(("http.extraHeader", f"Authorization: Basic {basic}"))
    if credentials is not None and credentials.ssh_key:
        key = scratch / "ssh_key"
        descriptor = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(credentials.ssh_key.rstrip("\n") + "\n")
        ssh += ["-i", str(key), "-o", "IdentitiesOnly=yes"]
    env["GIT_SSH_COMMAND"] = " ".join(_quote(part) for part in ssh)
    # Configuration through the environment (git >= 2.31): not visible on a command line.
    env["GIT_CONFIG_COUNT"] = str(len(config))
    for index, (key_name, value) in enumerate(config):
        env[f"GIT_CONFIG_KEY_{index}"] = key_name
        env[f"GIT_CONFIG_VALUE_{index}"] = value
    return env


def _quote(part: str) -> str:
    return "'" + part.replace("'", "'\\''") + "'"


class _GitFailed(CheckoutError):
    pass


class _Git:
    def __init__(
        self,
        cwd: Path,
        env: dict[str, str],
        emit: Callable[[str], None],
        masker: _Masker,
        deadline: float,
        timeout_seconds: float,
    ) -> None:
        self._cwd = cwd
        self._env = env
        self._emit = emit
        self._mask = masker
        self._deadline = deadline
        self._timeout_seconds = timeout_seconds

    def emit(self, text: str) -> None:
        self._emit(self._mask(text))

    def mask(self, text: str) -> str:
        return self._mask(text)

    async def run(self, args: list[str], what: str) -> str:
        """Run ``git ARGS``; its lines go to ``emit`` (unless ``what`` is empty: a quiet
        probe). Returns the output; raises ``_GitFailed`` naming ``what``."""
        remaining = self._time_left(what)
        process = await self._spawn(args, stderr=asyncio.subprocess.STDOUT)
        lines: list[str] = []
        try:
            async with asyncio.timeout(remaining):
                await self._read(process, lines, quiet=not what)
                code = await process.wait()
        except TimeoutError:
            raise self._timed_out(what) from None
        finally:
            if process.returncode is None:
                await _kill(process)
        if code != 0:
            reason = _reason(lines)
            raise _GitFailed(
                f"{what} failed (git exited with {code})" + (f": {reason}" if reason else "")
            )
        return "\n".join(lines)

    async def run_bytes(self, args: list[str], what: str) -> bytes:
        """Run ``git ARGS`` and return its standard output as it is (a file's bytes); its
        error output is kept for the reason only. Raises ``_GitFailed`` naming ``what``."""
        remaining = self._time_left(what)
        process = await self._spawn(args, stderr=asyncio.subprocess.PIPE)
        try:
            async with asyncio.timeout(remaining):
                out, err = await process.communicate()
        except TimeoutError:
            raise self._timed_out(what) from None
        finally:
            if process.returncode is None:
                await _kill(process)
        if process.returncode != 0:
            lines = [self._mask(line) for line in err.decode("utf-8", "replace").splitlines()]
            reason = _reason([line for line in lines if line.strip()])
            raise _GitFailed(
                f"{what} failed (git exited with {process.returncode})"
                + (f": {reason}" if reason else "")
            )
        return out

    def _time_left(self, what: str) -> float:
        remaining = self._deadline - asyncio.get_running_loop().time()
        if remaining <= 0:
            raise self._timed_out(what)
        return remaining

    def _timed_out(self, what: str) -> CheckoutError:
        return CheckoutError(f"{what or 'the checkout'} timed out after {self._timeout_seconds:g}s")

    async def _spawn(self, args: list[str], *, stderr: int) -> asyncio.subprocess.Process:
        try:
            return await asyncio.create_subprocess_exec(
                "git",
                *args,
                cwd=self._cwd,
                env=self._env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=stderr,
                start_new_session=True,  # its own process group, so a kill reaches ssh too
            )
        except OSError as exc:
            raise CheckoutError(f"cannot run git: {exc}") from exc

    async def _read(
        self, process: asyncio.subprocess.Process, lines: list[str], quiet: bool
    ) -> None:
        assert process.stdout is not None  # noqa: S101 - started with stdout=PIPE
        pending = b""
        while chunk := await process.stdout.read(65536):
            pending += chunk
            # Progress is written with carriage returns: each is a line of its own.
            *complete, pending = re.split(rb"\r\n|\r|\n", pending)
            for raw in complete:
                self._line(raw, lines, quiet)
        if pending:
            self._line(pending, lines, quiet)

    def _line(self, raw: bytes, lines: list[str], quiet: bool) -> None:
        text = self._mask(raw.decode("utf-8", "replace"))
        if not text.strip():
            return
        lines.append(text)
        if not quiet:
            self._emit(text)


# What ssh says when it refuses, before git's generic "Could not read from remote repository"
# (most telling first: a changed host key also prints a banner before "Host key verification
# failed").
_SSH_REFUSALS = (
    "Host key verification failed",
    "Permission denied (",
    "Could not resolve hostname",
    "Connection refused",
)


def _reason(lines: list[str]) -> str:
    # The first complaint is the specific one ("... does not appear to be a git repository");
    # the ones after it are generic ("Could not read from remote repository").
    for refusal in _SSH_REFUSALS:
        for line in lines:
            if refusal in line:
                return line.strip()
    for line in lines:
        if line.startswith(("fatal:", "error:")):
            return line
    return lines[-1] if lines else ""


async def _kill(process: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(_KILL_WAIT_SECONDS):
            await process.wait()
