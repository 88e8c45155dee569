"""`solvyd server --workers N`: N server processes on one host:port, so that every core of the
machine serves.

The parent binds the port (and SOLVYD_METRICS_PORT's), starts the processes, which all accept
on those sockets, and watches them. It serves nothing itself: it loads none of the server's
stack and holds no database connection. `solvyd server --workers N` replaces itself (exec) with
this module run as a program, so the parent holds only this module, the standard library and
structlog (~30 MB), not the CLI, its commands and the settings' pydantic (~60 MB).

- The first process does what must happen once: it makes the data directory's keys (two
  processes would each write their own), migrates the database and creates the first admin
  (a generated password is printed once). It migrates as a lone server does, in a forked child
  (server/app.py `migrate_in_child_process`), so that no serving process keeps alembic loaded.
  The others load meanwhile, then wait for it to serve before they start (and do not migrate).
- The processes share the database and wake each other's long polls through LISTEN/NOTIFY,
  as servers on several machines do; their background loops are those of replicas, each safe
  to run in several (docs/running.md). So PostgreSQL only: on SQLite the wake-ups would not
  cross processes.
- Their metrics are prometheus-client's multiprocess kind, in a private directory the parent
  makes and removes, so that a scrape, answered by any one of them, counts them all
  (server/metrics/registry.py).
- A process that dies after it served is replaced, with a line saying how it ended: the
  others go on serving meanwhile. One that cannot start stops the whole server, non-zero: its
  replacement would fail the same way.
- SIGTERM or SIGINT (Ctrl+C): each process is sent SIGTERM (its long polls end at once, its
  requests get 5 s), and killed if it still runs STOP_SECONDS later. The processes have a
  process group of their own, so a Ctrl+C reaches them once, through the parent: a second
  signal would make uvicorn skip their clean shutdown.

Why not uvicorn's own `workers=N`: its processes run a plain uvicorn.Server from an import
string, not `SolvydServer` (http_server.py: it ends long polls at shutdown, serves the metrics
port, tunes the garbage collector, exits 0 on SIGTERM); they would all migrate and create the
admin at once; and its parent waits for its processes without a deadline.
"""

import contextlib
import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import structlog

from solvyd.cli.errors import CliError
from solvyd.server.logging import configure_logging

if TYPE_CHECKING:
    from solvyd.server.settings import ServerSettings

log = structlog.get_logger(__name__)

# After SIGTERM, a process gets this long to end before it is killed: uvicorn gives its
# requests 5 s, the event listener sends what it queued in up to 3 s, the pool closes.
STOP_SECONDS = 15.0
# uvicorn's default: connections waiting to be accepted.
BACKLOG = 2048
READY = b"r"
GO = b"g"
# The one server's connections (its pool) are shared by its processes, so that --workers does
# not multiply what PostgreSQL must allow (max_connections is 100 by default): each keeps
# 30 // N, but at least this many, or a burst would queue for them.
MIN_POOL_SIZE = 8
SERVER_POOL_SIZE = 30  # db/session.py DEFAULT_POOL_SIZE (the parent loads no SQLAlchemy)


def pool_size_per_process(workers: int) -> int:
    return max(MIN_POOL_SIZE, SERVER_POOL_SIZE // workers)


def refuse_sqlite(settings: "ServerSettings", workers: int) -> None:
    scheme = urlsplit(settings.resolved_database_url()).scheme.split("+")[0]
    if scheme not in ("postgresql", "postgres"):
        raise CliError(
            f"--workers {workers} needs PostgreSQL (SOLVYD_DATABASE_URL=postgresql://...): "
            "SQLite is for one server process, whose wake-ups do not reach other processes. "
            "Run one process (--workers 1, the default)."
        )


def listening_socket(host: str, port: int, what: str) -> socket.socket:
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        return socket.create_server((host, port), family=family, backlog=BACKLOG)
    except OSError as exc:
        raise CliError(f"cannot serve {what} on {host}:{port}: {exc.strerror or exc}") from None


def exec_server_processes(settings: "ServerSettings", host: str, port: int, workers: int) -> None:
    """Replace this process with the parent of the server's processes (never returns). Call
    `refuse_sqlite` first. The processes read the rest of the settings from the same
    environment."""
    sys.stdout.flush()
    sys.stderr.flush()
    metrics_port = "" if settings.metrics_port is None else str(settings.metrics_port)
    os.execv(  # noqa: S606 - this Python, this module, our own arguments
        sys.executable,
        [
            sys.executable,
            "-m",
            __name__,
            host,
            str(port),
            str(workers),
            metrics_port,
            settings.log_format,
            settings.log_level,
        ],
    )


def run_server_processes(
    host: str,
    port: int,
    workers: int,
    *,
    metrics_port: int | None,
    log_format: str,
    log_level: str,
) -> None:
    configure_logging(log_format, log_level)
    api = listening_socket(host, port, "the API")
    metrics = None
    if metrics_port is not None:
        metrics = listening_socket(host, metrics_port, "the metrics")
    # Each process's metrics, as files; 0700 like every directory mkdtemp makes.
    metrics_dir = tempfile.mkdtemp(prefix="solvyd-metrics-")
    try:
        _Supervisor(host, port, workers, api, metrics, metrics_dir).run()
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)
        api.close()
        if metrics is not None:
            metrics.close()


@dataclass
class _Process:
    index: int
    popen: "subprocess.Popen[bytes]"
    # The read end of the pipe the process says it serves on; it reads end-of-file once the
    # process has ended (the process alone holds the write end).
    ready_pipe: int
    ready: bool = False

    @property
    def pid(self) -> int:
        return self.popen.pid


class _Supervisor:
    def __init__(
        self,
        host: str,
        port: int,
        count: int,
        api: socket.socket,
        metrics: socket.socket | None,
        metrics_dir: str,
    ) -> None:
        self.host = host
        self.port = port
        self.count = count
        self.api = api
        self.metrics = metrics
        self.metrics_dir = metrics_dir
        self.processes: dict[int, _Process] = {}
        self.selector = selectors.DefaultSelector()
        self.stopping = False
        # The write ends of the pipes the other processes wait on until the first serves.
        self.go_pipes: list[int] = []
        self.all_serving = False

    def run(self) -> None:
        wake_read, wake_write = os.pipe()
        os.set_blocking(wake_read, False)
        os.set_blocking(wake_write, False)
        # A signal writes to the pipe, which ends the wait in `select` at once.
        previous_wakeup = signal.set_wakeup_fd(wake_write)
        previous = {sig: signal.signal(sig, self._stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        self.selector.register(wake_read, selectors.EVENT_READ, None)
        failure: str | None = None
        try:
            self._start(0, migrate=True)
            for index in range(1, self.count):
                self._start(index, migrate=False, wait_for_first=True)
            while not self.stopping and failure is None:
                for key, _ in self.selector.select():
                    if key.data is None:
                        with contextlib.suppress(BlockingIOError):
                            os.read(wake_read, 512)
                    else:
                        failure = self._on_readable(key.data)
                    if failure is not None:
                        break
        finally:
            self.stopping = True
            self._let_others_start()  # stopping: they read the pipe's end, and exit
            self._stop_all()
            signal.set_wakeup_fd(previous_wakeup)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self.selector.close()
            os.close(wake_read)
            os.close(wake_write)
        if failure is not None:
            raise CliError(failure)

    def _stop(self, _signum: int, _frame: FrameType | None) -> None:
        self.stopping = True

    def _start(self, index: int, *, migrate: bool, wait_for_first: bool = False) -> None:
        ready_read, ready_write = os.pipe()
        fds = [self.api.fileno(), ready_write]
        go_read = None
        args = [
            "server-process",
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--listen-fd",
            str(self.api.fileno()),
            "--ready-fd",
            str(ready_write),
            "--pool-size",
            str(pool_size_per_process(self.count)),
        ]
        if self.metrics is not None:
            fds.append(self.metrics.fileno())
            args += ["--metrics-fd", str(self.metrics.fileno())]
        if not migrate:
            args.append("--no-migrate")
        if wait_for_first:
            go_read, go_write = os.pipe()
            self.go_pipes.append(go_write)
            fds.append(go_read)
            args += ["--go-fd", str(go_read)]
        try:
            popen = subprocess.Popen(  # noqa: S603 - this Python, this program, our own arguments
                [sys.executable, "-m", "solvyd.cli", *args],
                env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": self.metrics_dir},
                pass_fds=fds,
                stdin=subprocess.DEVNULL,
                # Its own group: a Ctrl+C on the terminal reaches it through the parent only.
                process_group=0,
            )
        finally:
            os.close(ready_write)
            if go_read is not None:
                os.close(go_read)
        process = _Process(index, popen, ready_read)
        self.processes[index] = process
        self.selector.register(ready_read, selectors.EVENT_READ, process)

    def _on_readable(self, process: _Process) -> str | None:
        """A process said it serves, or ended. Returns why the whole server must stop."""
        if os.read(process.ready_pipe, 64):
            process.ready = True
            # The first serves: keys written, database migrated, admin created.
            self._let_others_start()
            if self.all_serving:
                log.info(
                    "the new server process serves", process=process.index + 1, pid=process.pid
                )
                return None
            ready = [p for p in self.processes.values() if p.ready]
            if len(ready) == self.count:
                self.all_serving = True
                pids = sorted(p.pid for p in ready)
                log.info("server processes serving", processes=self.count, pids=pids)
            return None
        self._forget(process)
        ended = _how_it_ended(process.popen.wait())
        if self.stopping:
            return None
        if not process.ready:
            return (
                f"server process {process.index + 1} of {self.count} (pid {process.pid}) "
                f"could not start ({ended}); its error is above"
            )
        log.error(
            "a server process ended; starting another",
            process=process.index + 1,
            pid=process.pid,
            ended=ended,
        )
        self._start(process.index, migrate=False)
        return None

    def _let_others_start(self) -> None:
        for go in self.go_pipes:
            with contextlib.suppress(OSError):  # it ended already
                if not self.stopping:
                    os.write(go, GO)
            os.close(go)
        self.go_pipes = []

    def _forget(self, process: _Process) -> None:
        self.selector.unregister(process.ready_pipe)
        os.close(process.ready_pipe)
        del self.processes[process.index]
        # Its live gauges (open log streams, its pool) no longer count; its counters do.
        from prometheus_client.multiprocess import mark_process_dead

        mark_process_dead(process.pid, self.metrics_dir)  # type: ignore[no-untyped-call]

    def _stop_all(self) -> None:
        running = list(self.processes.values())
        for process in running:
            with contextlib.suppress(ProcessLookupError):
                process.popen.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_SECONDS
        for process in running:
            try:
                process.popen.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.error(
                    "a server process did not stop in time; killing it",
                    process=process.index + 1,
                    pid=process.pid,
                    seconds=STOP_SECONDS,
                )
                process.popen.kill()
                process.popen.wait()
            self._forget(process)


def _how_it_ended(returncode: int) -> str:
    if returncode < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-returncode).name}"
        return f"killed by signal {-returncode}"
    return f"exit code {returncode}"


def serve_process(
    host: str,
    port: int,
    *,
    listen_fd: int,
    ready_fd: int,
    metrics_fd: int | None,
    go_fd: int | None,
    migrate: bool,
    pool_size: int,
) -> None:
    """One process of `solvyd server --workers N`, started by it (`solvyd server-process`)."""
    from solvyd.cli.http_server import SolvydServer
    from solvyd.server.app import create_app, migrate_in_child_process
    from solvyd.server.data_dir import private_umask
    from solvyd.server.settings import ServerSettings

    settings = ServerSettings()
    private_umask()
    # Its own: nothing it starts (a deploy's kubectl, a git) inherits the parent's sockets.
    for fd in (listen_fd, ready_fd, metrics_fd, go_fd):
        if fd is not None:
            os.set_inheritable(fd, False)
    listener = socket.socket(fileno=listen_fd)
    metrics = socket.socket(fileno=metrics_fd) if metrics_fd is not None else None

    def started() -> None:
        os.write(ready_fd, READY)

    app = create_app(
        settings, migrate=migrate, metrics_shared_by_processes=True, pool_size=pool_size
    )
    if migrate:
        # Before it serves, in a child that exits: the lifespan's own check then finds the
        # schema at head without loading alembic (or migrates itself if the child could not).
        migrate_in_child_process(settings)
    if go_fd is not None:
        # Loaded; now the first process must have migrated before this one starts.
        go = os.read(go_fd, 1)
        os.close(go_fd)
        if go != GO:
            return  # the parent stopped before the first process served
    server = SolvydServer(
        app, host, port, metrics_socket=metrics, on_started=started, parent_pid=os.getppid()
    )
    server.run(sockets=[listener])


def main(argv: list[str]) -> None:
    """`python -m solvyd.cli.server_processes HOST PORT WORKERS METRICS_PORT LOG_FORMAT
    LOG_LEVEL`, as `exec_server_processes` runs it; an error ends it as the CLI's do."""
    host, port, workers, metrics_port, log_format, log_level = argv
    try:
        run_server_processes(
            host,
            int(port),
            int(workers),
            metrics_port=int(metrics_port) if metrics_port else None,
            log_format=log_format,
            log_level=log_level,
        )
    except CliError as exc:
        sys.stderr.write(f"error: {exc.message}\n")
        sys.exit(1)
    except KeyboardInterrupt:  # before its handlers were installed
        sys.exit(130)


if __name__ == "__main__":
    main(sys.argv[1:])
