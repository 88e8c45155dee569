"""A private PostgreSQL cluster a test owns: it may stop and start it at will.

The shared PostgreSQL at 127.0.0.1:5432 serves other work and must never be stopped, so a test
of a database outage gets its own cluster: `initdb` into a fresh directory, then `postgres` as a
child process of the test (run as the `postgres` OS user, since PostgreSQL refuses to run as
root), listening on 127.0.0.1 on a free port with trust auth. `stop()` is a fast shutdown
(SIGINT) with a bounded wait, then SIGKILL of the postmaster's process group; `start()` brings it
back on the same port and directory; `close()` stops it and removes the directory.
"""

import contextlib
import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from tests.support.processes import free_port


def postgres_bindir() -> Path | None:
    """The newest installed PostgreSQL's bin directory holding initdb and postgres."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda path: int(path.split("/")[-3]) if path.split("/")[-3].isdigit() else 0,
    )
    return Path(found[-1]).parent if found else None


class PgCluster:
    def __init__(self, bindir: Path, *, os_user: str = "postgres") -> None:
        self.bindir = bindir
        self.os_user = pwd.getpwnam(os_user)
        # Not under pytest's tmp_path: /tmp/pytest-of-root is mode 0700, which the postgres
        # user cannot traverse.
        self.root = Path(tempfile.mkdtemp(prefix="solvyd-pg-"))
        os.chown(self.root, self.os_user.pw_uid, self.os_user.pw_gid)
        self.data_dir = self.root / "data"
        self.socket_dir = self.root / "sockets"
        self.log_path = self.root / "postgres.log"
        self.port = free_port()
        self.popen: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen is not None else None

    def _as_postgres(self, args: list[str], timeout: float) -> None:
        result = subprocess.run(
            args,
            user=self.os_user.pw_uid,
            group=self.os_user.pw_gid,
            extra_groups=[],
            cwd=self.root,
            env={"PATH": os.environ.get("PATH", ""), "LC_ALL": "C.UTF-8"},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"{args[0]} failed ({result.returncode}):\n{result.stdout.decode()}"
                f"{result.stderr.decode()}"
            )

    def init(self, timeout: float = 60.0) -> None:
        self._as_postgres(
            [
                str(self.bindir / "initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--no-sync",
                "--no-instructions",
            ],
            timeout,
        )
        self._as_postgres(["mkdir", "-p", str(self.socket_dir)], 10)

    def start(self, timeout: float = 30.0) -> None:
        """Start the postmaster (same port, same data) and wait until it accepts connections."""
        assert self.popen is None or self.popen.poll() is not None, "already running"
        with self.log_path.open("ab") as log:
            self.popen = subprocess.Popen(
                [
                    str(self.bindir / "postgres"),
                    "-D",
                    str(self.data_dir),
                    "-p",
                    str(self.port),
                    "-k",
                    str(self.socket_dir),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    "fsync=off",  # a throwaway cluster: durability across OS crashes is moot
                    "-c",
                    "max_connections=200",
                ],
                user=self.os_user.pw_uid,
                group=self.os_user.pw_gid,
                extra_groups=[],
                cwd=self.root,
                env={"PATH": os.environ.get("PATH", ""), "LC_ALL": "C.UTF-8"},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, so a SIGKILL reaches backends
            )
        self.wait_ready(timeout)

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.popen is not None
            if self.popen.poll() is not None:
                raise RuntimeError(f"postgres exited early:\n{self.output()}")
            ready = subprocess.run(
                [str(self.bindir / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)],
                capture_output=True,
                timeout=10,
                check=False,
            )
            if ready.returncode == 0:
                return
            time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"postgres not ready within {timeout}s:\n{self.output()}")

    def stop(self, timeout: float = 15.0) -> None:
        """Fast shutdown (SIGINT: clients are disconnected, a checkpoint is written); SIGKILL
        to the process group if it has not exited within `timeout` seconds."""
        if self.popen is None or self.popen.poll() is not None:
            return
        os.kill(self.popen.pid, signal.SIGINT)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(10)

    def psql(self, sql: str, database: str = "postgres", timeout: float = 30.0) -> str:
        result = subprocess.run(
            [
                str(self.bindir / "psql"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-d",
                database,
                "-v",
                "ON_ERROR_STOP=1",
                "-Atc",
                sql,
            ],
            capture_output=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"psql failed: {result.stderr.decode()}")
        return result.stdout.decode()

    def create_database(self, name: str | None = None) -> str:
        """A new, empty database; answers its URL."""
        name = name or f"solvyd_{uuid.uuid4().hex[:10]}"
        self.psql(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def output(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
