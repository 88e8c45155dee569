"""A real git server over SSH on loopback: OpenSSH's `sshd` with a config of the test's own
(its own host key, port and authorized_keys; public keys only), serving the repositories as
any ssh git host does (`git-upload-pack '<path>'` run by the login shell).

It logs in as the user running the tests. `sshd` comes from Debian's openssh-server (.ci/run
installs it); without it the tests that need it fail under CI=true and are skipped elsewhere.
"""

import getpass
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.processes import free_port

SSHD = "/usr/sbin/sshd"


@dataclass
class SshGitServer:
    port: int
    user: str
    client_key: str  # the private key that may log in
    host_key_line: str  # the server's host key, as a known_hosts line

    def url(self, path: Path) -> str:
        return f"ssh://{self.user}@127.0.0.1:{self.port}{path}"


def _keygen(path: Path) -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "solvyd-test", "-f", str(path)],
        check=True,
        capture_output=True,
        timeout=30,
    )


def require_sshd() -> None:
    if shutil.which("ssh") and os.access(SSHD, os.X_OK):
        return
    message = "sshd (openssh-server) and ssh are needed for the SSH checkout tests"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@contextmanager
def serve_git_ssh(workdir: Path, timeout: float = 15.0) -> Iterator[SshGitServer]:
    require_sshd()
    workdir.mkdir(parents=True, exist_ok=True)
    host_key, client_key = workdir / "host_key", workdir / "client_key"
    _keygen(host_key)
    _keygen(client_key)
    authorized = workdir / "authorized_keys"
    authorized.write_text((workdir / "client_key.pub").read_text())
    authorized.chmod(0o600)
    port, user = free_port(), getpass.getuser()
    config = workdir / "sshd_config"
    config.write_text(
        "\n".join(
            [
                f"Port {port}",
                "ListenAddress 127.0.0.1",
                f"HostKey {host_key}",
                f"AuthorizedKeysFile {authorized}",
                f"PidFile {workdir / 'sshd.pid'}",
                f"AllowUsers {user}",
                "PermitRootLogin prohibit-password",
                "PubkeyAuthentication yes",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "UsePAM no",
                "StrictModes no",
                "X11Forwarding no",
                "AllowTcpForwarding no",
                "PermitUserEnvironment no",
                "",
            ]
        )
    )
    # sshd started as root wants its privilege separation directory.
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    log_path = workdir / "sshd.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [SSHD, "-D", "-e", "-f", str(config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"sshd exited early:\n{log_path.read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"sshd did not listen:\n{log_path.read_text()}") from None
                time.sleep(0.05)
        public = (workdir / "host_key.pub").read_text().split()
        yield SshGitServer(
            port=port,
            user=user,
            client_key=client_key.read_text(),
            host_key_line=f"[127.0.0.1]:{port} {public[0]} {public[1]}",
        )
    finally:
        # By pid: sshd forks a child per connection, in the session started above.
        if process.poll() is None:
            try:
                os.killpg(process.pid, 15)
                process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, 9)
                process.wait(10)
            except ProcessLookupError:
                pass
