"""Real `solvyd server` and `solvyd agent` processes, started and stopped by pid."""

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import httpx

SOLVYD = [sys.executable, "-m", "solvyd.cli"]
ADMIN_PASSWORD = "test-admin-password"
AGENT_TOKEN = "test-agent-token"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM, then SIGKILL if it has not exited in `timeout` seconds."""
        if self.popen.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.popen.wait(10)
        return self.popen.returncode

    def kill(self) -> None:
        if self.popen.poll() is None:
            os.kill(self.pid, signal.SIGKILL)
            self.popen.wait(10)


def spawn(
    name: str,
    args: list[str],
    env: dict[str, str],
    log_dir: Path,
    cwd: Path | None = None,
    program: list[str] = SOLVYD,
) -> Process:
    """`program args` (this tree's `solvyd` by default, or e.g. an installed one's script)."""
    log_path = log_dir / f"{name}-{int(time.time() * 1000)}.log"
    handle = log_path.open("wb")
    popen = subprocess.Popen(
        [*program, *args],
        env={**os.environ, **env},
        stdout=handle,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        cwd=cwd,
    )
    handle.close()
    return Process(name, popen, log_path)


@dataclass
class ServerProcess:
    process: Process
    url: str
    env: dict[str, str] = field(default_factory=dict)

    def admin_token(self) -> str:
        return admin_token(self.url)


def admin_token(url: str) -> str:
    """An access token of the test admin of the server at `url`."""
    response = httpx.post(
        f"{url}/api/v1/auth/login",
        json={"username": "admin", "password": ADMIN_PASSWORD},
        timeout=10,
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


def start_server(
    database_url: str,
    data_dir: Path,
    log_dir: Path,
    *,
    workers: int = 1,
    program: list[str] = SOLVYD,
    **extra_env: str,
) -> ServerProcess:
    """`solvyd server`, healthy; `workers`: its --workers; `program`: the command that runs
    `solvyd`."""
    port = free_port()
    env = {
        "SOLVYD_DATABASE_URL": database_url,
        "SOLVYD_DATA_DIR": str(data_dir),
        "SOLVYD_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "SOLVYD_AGENT_TOKEN": AGENT_TOKEN,
        **extra_env,
    }
    args = ["server", "--host", "127.0.0.1", "--port", str(port)]
    if workers != 1:
        args += ["--workers", str(workers)]
    process = spawn("server", args, env, log_dir, program=program)
    url = f"http://127.0.0.1:{port}"
    wait_until_healthy(process, url)
    return ServerProcess(process, url, env)


def start_embedded(
    workdir: Path, env: dict[str, str], log_dir: Path, timeout: float = 30.0
) -> tuple[Process, str]:
    """`solvyd up` run in `workdir` on a free port, healthy; stopped again if it is not."""
    port = free_port()
    process = spawn("up", ["up", "--port", str(port)], env, log_dir, cwd=workdir)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(process, url, timeout=timeout)
    except RuntimeError:
        process.stop()
        raise
    return process, url


# A server that exits is reported at once; the wait only bounds a slow start on a busy machine
# (two test processes on two cores).
START_TIMEOUT_SECONDS = 60.0


def wait_until_healthy(process: Process, url: str, timeout: float = START_TIMEOUT_SECONDS) -> None:
    wait_until_answering(process, f"{url}/healthz", "server", timeout)


def wait_until_answering(
    process: Process, probe: str, what: str, timeout: float = START_TIMEOUT_SECONDS
) -> None:
    """Until `probe` answers 200; killed, with its output in the error, if it exits first or
    does not answer in time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.popen.poll() is not None:
            raise RuntimeError(f"{what} exited early:\n{process.output()}")
        try:
            if httpx.get(probe, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"{what} not ready within {timeout}s:\n{process.output()}")


def start_agent(
    server_url: str,
    log_dir: Path,
    work_dir: Path,
    *,
    name: str,
    labels: str = "",
    concurrency: int = 1,
    executor: str = "local",
    extra_args: list[str] | None = None,
    token_via: Literal["env", "file", "argument"] = "env",  # noqa: S107 - a way, not a token
    extra_env: dict[str, str] | None = None,
    program: list[str] = SOLVYD,
) -> Process:
    """An agent given the registration token as an operator should: in its environment
    (`env`) or a 0600 file (`file`); `argument` is the deprecated `--token`."""
    args = [
        "agent",
        "--server",
        server_url,
        "--name",
        name,
        "--concurrency",
        str(concurrency),
        "--executor",
        executor,
        "--work-dir",
        str(work_dir),
    ]
    env: dict[str, str] = dict(extra_env or {})
    if executor == "docker" and "SOLVYD_CHECKOUT_IMAGE" not in env:
        # Its checkout step runs in Solvyd's own image: the one the tests build.
        from tests.support.docker_engine import CHECKOUT_IMAGE, IN_CI, require_checkout_image

        env["SOLVYD_CHECKOUT_IMAGE"] = CHECKOUT_IMAGE
        if IN_CI:
            require_checkout_image()
    if token_via == "env":
        env["SOLVYD_AGENT_TOKEN"] = AGENT_TOKEN
    elif token_via == "file":
        work_dir.parent.mkdir(parents=True, exist_ok=True)
        token_file = work_dir.parent / f"{name}.registration-token"
        token_file.touch(mode=0o600)
        token_file.write_text(AGENT_TOKEN + "\n")
        args += ["--token-file", str(token_file)]
    else:
        args += ["--token", AGENT_TOKEN]
    if labels:
        args += ["--labels", labels]
    return spawn(f"agent-{name}", args + (extra_args or []), env, log_dir, program=program)
