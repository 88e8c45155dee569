"""`solvyd server`, `solvyd agent` and `solvyd up` (both in one process, the embedded default)."""

import asyncio
import contextlib
import gc
import os
import signal
import socket
from collections.abc import Generator
from pathlib import Path
from typing import TYPE_CHECKING

import typer
import uvicorn
from platformdirs import user_data_path

from solvyd.cli.demo import DEMO_JOB_NAME, HELLO_PIPELINE
from solvyd.cli.errors import CliError
from solvyd.cli.output import err_console
from solvyd.server.logging import configure_logging
from solvyd.server.settings import ServerSettings

if TYPE_CHECKING:
    from fastapi import FastAPI

    from solvyd.agent.worker import Agent
    from solvyd.server.services.context import ServerContext

# The server and agent stacks are imported inside the commands that run them, so everyday
# client commands (`solvyd jobs list`) start fast.

EXECUTORS = ("local", "docker", "fake")
ISOLATION_HELP = (
    "How the local executor isolates steps: auto (a bubblewrap sandbox when this machine "
    "allows it, else a warning), bwrap (required), none."
)
GC_YOUNG_THRESHOLD = 50_000


class _SolvydServer(uvicorn.Server):
    """Ends the server's long polls as soon as shutdown starts, so connections close at once
    instead of holding the shutdown for their whole wait."""

    def __init__(self, app: "FastAPI", host: str, port: int, *, own_signals: bool = True) -> None:
        super().__init__(
            uvicorn.Config(
                app,
                host=host,
                port=port,
                log_level="warning",
                access_log=False,
                lifespan="on",
                timeout_graceful_shutdown=5,
            )
        )
        self.app = app
        self._own_signals = own_signals

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        # Log ingest makes thousands of short-lived objects per batch, so CPython's default
        # collector (a young collection every 700 allocations, the whole heap now and then)
        # took 27% of the server's CPU in bench/logs.py. Collect the young generation less
        # often, and leave everything loaded at start-up out of the full collections.
        gc.freeze()
        gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        ctx = getattr(self.app.state, "ctx", None)
        if ctx is not None:
            ctx.events.close()
        await super().shutdown(sockets)

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        # Unlike uvicorn's own, these handlers do not re-raise the signal after a graceful
        # shutdown, so a SIGTERM'd server exits 0. `up` handles signals itself (to stop its
        # agent before the server) and installs none here.
        if not self._own_signals:
            yield
            return
        previous = {
            sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def server(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8080, "--port", help="Port to listen on."),
) -> None:
    """Run the API server (settings from SOLVYD_* environment variables)."""
    settings = ServerSettings()
    err_console.print(f"Solvyd server on http://{host}:{port} (data in {settings.data_dir})")
    from solvyd.server.app import create_app
    from solvyd.server.data_dir import private_umask

    private_umask()

    _SolvydServer(create_app(settings), host, port).run()


def _make_agent(
    server_url: str,
    token: str,
    name: str | None,
    labels: str,
    concurrency: int,
    executor: str,
    work_dir: Path | None,
    isolation: str = "auto",
    hidden_paths: tuple[Path, ...] = (),
) -> "Agent":
    from solvyd.agent.worker import Agent, AgentConfig
    from solvyd.pipeline.executors.registry import create_executor

    if executor not in EXECUTORS:
        raise CliError(f"unknown executor {executor!r}; choose one of {', '.join(EXECUTORS)}")
    work_root = work_dir or user_data_path("solvyd") / "work"
    work_root.mkdir(parents=True, exist_ok=True)
    config = AgentConfig(
        server_url=server_url,
        token=token,
        labels=[label for label in labels.split(",") if label],
        concurrency=concurrency,
        spool_root=work_root / ".spool",
    )
    if name:
        config.name = name
    return Agent(
        config,
        create_executor(executor, work_root, isolation=isolation, hidden_paths=hidden_paths),
    )


def agent(
    server_url: str = typer.Option(..., "--server", envvar="SOLVYD_SERVER_URL"),
    token: str = typer.Option(
        ..., "--token", envvar="SOLVYD_AGENT_TOKEN", help="The server's agent registration token."
    ),
    name: str | None = typer.Option(None, "--name", help="Defaults to the host name."),
    labels: str = typer.Option("", "--labels", help="Comma-separated labels."),
    concurrency: int = typer.Option(1, "--concurrency", min=1, max=64),
    executor: str = typer.Option("local", "--executor", help="local or docker (kubernetes later)"),
    work_dir: Path | None = typer.Option(None, "--work-dir", envvar="SOLVYD_WORK_DIR"),
    stop_grace: float = typer.Option(
        30.0, "--stop-grace", help="Seconds running builds get to finish on SIGTERM."
    ),
    isolation: str = typer.Option(
        "auto", "--isolation", envvar="SOLVYD_ISOLATION", help=ISOLATION_HELP
    ),
) -> None:
    """Run a worker agent that claims and runs builds."""
    configure_logging(os.environ.get("SOLVYD_LOG_FORMAT", "console"), "info")
    worker = _make_agent(
        server_url, token, name, labels, concurrency, executor, work_dir, isolation
    )
    # An agent advertises its executor: it must not register one that cannot run steps.
    problem = asyncio.run(worker.executor.check_available())
    if problem is not None:
        raise CliError(f"the {executor} executor cannot run here: {problem}")
    worker.config.stop_grace_seconds = stop_grace

    async def main() -> None:
        worker.install_signal_handlers()
        await worker.run()

    asyncio.run(main())


async def _ensure_demo_job(ctx: "ServerContext") -> None:
    from solvyd.server.schemas.jobs import JobCreate
    from solvyd.server.services import jobs
    from solvyd.server.services.audit import SYSTEM

    if not await jobs.list_jobs(ctx, DEMO_JOB_NAME):
        demo = JobCreate(name=DEMO_JOB_NAME, pipeline=HELLO_PIPELINE)
        await jobs.create_job(ctx, demo, SYSTEM)


def up(
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8080, "--port"),
    concurrency: int = typer.Option(2, "--concurrency", min=1, max=64),
    isolation: str = typer.Option(
        "auto", "--isolation", envvar="SOLVYD_ISOLATION", help=ISOLATION_HELP
    ),
) -> None:
    """Run the server and one local agent in one process (SQLite under ./.solvyd by default)."""
    settings = ServerSettings()
    from solvyd.server.app import create_app
    from solvyd.server.data_dir import private_umask, sqlite_file

    private_umask()
    # The agent shares the server's machine and user: its steps must not see what the server
    # keeps (issue 14, item 1).
    hidden = [settings.data_dir.resolve(), settings.resolved_artifact_dir().resolve()]
    database = sqlite_file(settings.resolved_database_url())
    if database is not None:
        hidden.append(database)

    http_server = _SolvydServer(create_app(settings), host, port, own_signals=False)
    url = f"http://{host}:{port}"

    async def main() -> None:
        serving = asyncio.create_task(http_server.serve())
        while not http_server.started:
            if serving.done():
                raise CliError(f"the server could not start on {url}")
            await asyncio.sleep(0.05)
        ctx: ServerContext = http_server.app.state.ctx
        await _ensure_demo_job(ctx)
        worker = _make_agent(
            url,
            ctx.keys.agent_token,
            "local",
            "",
            concurrency,
            "local",
            settings.data_dir / "work",
            isolation,
            tuple(hidden),
        )
        problem = await worker.executor.check_available()
        if problem is not None:
            http_server.should_exit = True
            await serving
            raise CliError(f"the local executor cannot run here: {problem}")
        agent_task = asyncio.create_task(worker.run())
        err_console.print(
            f"\n[bold green]Solvyd is running[/] at {url}\n"
            f"  web UI: open {url} and sign in as {settings.admin_username!r}\n"
            "          (the password is SOLVYD_ADMIN_PASSWORD, or the one printed above when\n"
            "          the user was first created)\n"
            f"  data:   {settings.data_dir.resolve()}\n"
            f"  agent:  'local', concurrency {concurrency}\n"
            f"  CLI:    solvyd login {url} --username {settings.admin_username}\n"
            f"          solvyd jobs trigger {DEMO_JOB_NAME} --follow\n"
            "Press Ctrl+C to stop.\n"
        )
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        worker.request_stop()
        worker.config.stop_grace_seconds = 5
        with contextlib.suppress(Exception):
            await asyncio.wait_for(agent_task, 30)
        http_server.should_exit = True
        await serving

    asyncio.run(main())
