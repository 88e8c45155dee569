"""Real git repositories made by the tests, served as file:// and by `git daemon` (git://)."""

import os
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.processes import free_port

GIT_TIMEOUT = 30.0
_IDENTITY = {
    "GIT_AUTHOR_NAME": "Solvyd Test",
    "GIT_AUTHOR_EMAIL": "test@solvyd.invalid",
    "GIT_COMMITTER_NAME": "Solvyd Test",
    "GIT_COMMITTER_EMAIL": "test@solvyd.invalid",
}

PIPELINE = """\
steps:
  - name: show
    commands:
      - cat version.txt
      - echo branch=$SOLVYD_BRANCH sha=$SOLVYD_COMMIT_SHA
  - name: second
    commands: ['echo second step ran in $(basename "$PWD")']
"""


def git_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(_IDENTITY, HOME=str(home), GIT_CONFIG_NOSYSTEM="1", GIT_TERMINAL_PROMPT="0")
    return env


def git(cwd: Path, *args: str, home: Path | None = None) -> str:
    result = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env=git_env(home or cwd),
        capture_output=True,
        text=True,
        timeout=GIT_TIMEOUT,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {result.stdout}{result.stderr}")
    return result.stdout.strip()


@dataclass
class GitRepo:
    """A bare repository under `root`, and the commits the test made in it."""

    root: Path
    name: str = "project.git"
    commits: dict[str, str] = field(default_factory=dict)  # label -> sha

    @property
    def path(self) -> Path:
        return self.root / self.name

    @property
    def file_url(self) -> str:
        return self.path.as_uri()


def make_repo(root: Path, pipeline: str = PIPELINE) -> GitRepo:
    """A bare repository with three commits on `main` (`first`, `second`, `third`; each writes
    version.txt = `version N`, and the first adds `pipeline` as .solvyd.yml) and a branch
    `feature` off `second` with one commit (`feature`: version.txt = `feature version`)."""
    root.mkdir(parents=True, exist_ok=True)
    repo = GitRepo(root)
    work = root / "work"
    work.mkdir()
    git(work, "init", "--quiet", "--initial-branch=main")
    (work / ".solvyd.yml").write_text(pipeline)
    for number, label in enumerate(["first", "second", "third"], start=1):
        (work / "version.txt").write_text(f"version {number}\n")
        git(work, "add", "-A")
        git(work, "commit", "--quiet", "-m", f"commit {number}")
        repo.commits[label] = git(work, "rev-parse", "HEAD")
    git(work, "checkout", "--quiet", "-b", "feature", repo.commits["second"])
    (work / "version.txt").write_text("feature version\n")
    git(work, "commit", "--quiet", "-am", "feature commit")
    repo.commits["feature"] = git(work, "rev-parse", "HEAD")
    git(root, "clone", "--quiet", "--bare", str(work), repo.name, home=work)
    # The bare clone's HEAD names main, so a clone without a branch gets main.
    git(repo.path, "symbolic-ref", "HEAD", "refs/heads/main", home=work)
    return repo


@dataclass
class GitDaemon:
    process: subprocess.Popen[bytes]
    port: int
    base_path: Path
    log_path: Path

    def url(self, repo: GitRepo) -> str:
        relative = repo.path.relative_to(self.base_path).as_posix()
        return f"git://127.0.0.1:{self.port}/{relative}"

    def stop(self, timeout: float = 10.0) -> None:
        """By pid: SIGTERM, then SIGKILL. `git daemon` forks a child per connection; the
        daemon was started in its own process group, so the group goes with it."""
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, 15)
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
                self.process.wait(timeout)
            except ProcessLookupError:
                pass


def start_git_daemon(base_path: Path, log_dir: Path, timeout: float = 15.0) -> GitDaemon:
    """`git daemon` serving every repository under `base_path` on a free loopback port;
    returns once it accepts connections."""
    port = free_port()
    log_path = log_dir / f"git-daemon-{port}.log"
    with log_path.open("wb") as handle:
        process = subprocess.Popen(
            [
                "git",
                "daemon",
                "--export-all",
                f"--base-path={base_path}",
                "--reuseaddr",
                "--listen=127.0.0.1",
                f"--port={port}",
                "--verbose",
            ],
            env=git_env(base_path),
            stdout=handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    daemon = GitDaemon(process, port, base_path, log_path)
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"git daemon exited early:\n{log_path.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return daemon
        except OSError:
            if time.monotonic() > deadline:
                daemon.stop()
                raise RuntimeError(
                    f"git daemon did not listen within {timeout}s:\n{log_path.read_text()}"
                ) from None
            time.sleep(0.05)


def start_silent_server() -> tuple[socket.socket, int]:
    """A loopback socket that accepts connections and never answers: a hung git remote.
    The caller closes the socket."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    return sock, int(sock.getsockname()[1])
