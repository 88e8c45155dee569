"""`solvyd server`, `solvyd agent` and `solvyd up` (both in one process, the embedded default)."""

import asyncio
import contextlib
import os
import signal
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from platformdirs import user_data_path

from solvyd.cli.demo import DEMO_JOB_NAME, HELLO_PIPELINE
from solvyd.cli.env_passthrough import (
    env_passthrough_names,
    env_passthrough_option,
    refuse_server_credentials,
)
from solvyd.cli.errors import CliError
from solvyd.cli.kube_options import KubernetesOptions
from solvyd.cli.output import err_console
from solvyd.server.logging import configure_logging

if TYPE_CHECKING:
    from solvyd.agent.worker import Agent
    from solvyd.server.services.context import ServerContext

# The server and agent stacks are imported inside the commands that run them, so everyday
# client commands (`solvyd jobs list`) start fast and an agent never loads the server's
# (uvicorn, settings, database: tests/unit/test_cli_imports.py).

ISOLATION_HELP = (
    "How the local executor isolates steps: auto (a bubblewrap sandbox when this machine "
    "allows it, else a warning), bwrap (required), none."
)


def server(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8080, "--port", help="Port to listen on."),
    workers: int = typer.Option(
        1,
        "--workers",
        envvar="SOLVYD_SERVER_WORKERS",
        min=1,
        max=64,
        help="Server processes on this port, sharing the database and its connections: one "
        "per CPU core lets every core serve. Above 1 needs PostgreSQL (docs/running.md).",
    ),
) -> None:
    """Run the API server (settings from SOLVYD_* environment variables)."""
    from solvyd.server.settings import ServerSettings

    settings = ServerSettings()
    if workers > 1:
        from solvyd.cli.server_processes import exec_server_processes, refuse_sqlite

        refuse_sqlite(settings, workers)
        err_console.print(
            f"Solvyd server on http://{host}:{port} with {workers} processes "
            f"(data in {settings.data_dir})"
        )
        exec_server_processes(settings, host, port, workers)
    err_console.print(f"Solvyd server on http://{host}:{port} (data in {settings.data_dir})")
    from solvyd.cli.http_server import SolvydServer
    from solvyd.server.app import create_app, migrate_in_child_process
    from solvyd.server.data_dir import private_umask

    private_umask()
    app = create_app(settings)
    migrate_in_child_process(settings)
    SolvydServer(app, host, port).run()


def server_process(
    host: str = typer.Option(..., "--host"),
    port: int = typer.Option(..., "--port"),
    listen_fd: int = typer.Option(..., "--listen-fd"),
    ready_fd: int = typer.Option(..., "--ready-fd"),
    metrics_fd: int | None = typer.Option(None, "--metrics-fd"),
    go_fd: int | None = typer.Option(None, "--go-fd"),
    migrate: bool = typer.Option(True, "--migrate/--no-migrate"),
    pool_size: int = typer.Option(..., "--pool-size", min=1),
) -> None:
    """One process of `solvyd server --workers N`, started by it (not for direct use)."""
    from solvyd.cli.server_processes import serve_process

    serve_process(
        host,
        port,
        listen_fd=listen_fd,
        ready_fd=ready_fd,
        metrics_fd=metrics_fd,
        go_fd=go_fd,
        migrate=migrate,
        pool_size=pool_size,
    )


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
    default_image: str | None = None,
    env_passthrough: tuple[str, ...] = (),
    checkout_image: str | None = None,
    kubernetes: "KubernetesOptions | None" = None,
) -> "Agent":
    from solvyd.agent.worker import Agent, AgentConfig
    from solvyd.pipeline.executors.base import ExecutorError
    from solvyd.pipeline.executors.registry import create_executor

    work_root = work_dir or user_data_path("solvyd") / "work"
    work_root.mkdir(parents=True, exist_ok=True)
    config = AgentConfig(
        server_url=server_url,
        token=token,
        labels=[label.strip() for label in labels.split(",") if label.strip()],
        concurrency=concurrency,
        spool_root=work_root / ".spool",
        state_dir=work_root / ".agent",
    )
    if name:
        config.name = name
    try:
        runner = create_executor(
            executor,
            work_root,
            isolation=isolation,
            hidden_paths=hidden_paths,
            default_image=default_image,
            env_passthrough=env_passthrough,
            checkout_image=checkout_image,
            kubernetes=kubernetes.settings(config.name) if kubernetes else None,
        )
    except ExecutorError as exc:
        raise CliError(str(exc)) from None
    return Agent(config, runner)


TOKEN_ENV = "SOLVYD_AGENT_TOKEN"  # noqa: S105 - a variable's name
TOKEN_ARGUMENT_DEPRECATED = (
    "warning: --token is deprecated: a command line is readable by every user and process "
    f"of the machine (ps, /proc/<pid>/cmdline). Set {TOKEN_ENV} or use --token-file instead."
)


def registration_token(argument: str | None, token_file: Path | None) -> str:
    """The agent's registration token: from --token-file, the deprecated --token (with a
    warning), or SOLVYD_AGENT_TOKEN. Never echoed."""
    if token_file is not None and argument:
        raise CliError("give the registration token once: --token-file or --token, not both")
    if token_file is not None:
        try:
            value = token_file.read_text().strip()
        except OSError as exc:
            raise CliError(f"cannot read the token file {token_file}: {exc.strerror}") from exc
        if not value:
            raise CliError(f"the token file {token_file} is empty")
        return value
    if argument:
        err_console.print(TOKEN_ARGUMENT_DEPRECATED, style="yellow", highlight=False)
        return argument
    if value := os.environ.get(TOKEN_ENV, "").strip():
        return value
    raise CliError(
        f"no registration token: set {TOKEN_ENV}, or name a file holding it with --token-file"
    )


def _agent_private_files() -> list[Path]:
    """Files of this machine's user that a sandboxed step must not read even when it runs as
    that user: the CLI's saved login (often an admin's token)."""
    from solvyd.cli.client_config import config_path

    return [config_path().resolve()]


def agent(
    server_url: str = typer.Option(..., "--server", envvar="SOLVYD_SERVER_URL"),
    token_file: Path | None = typer.Option(
        None,
        "--token-file",
        envvar="SOLVYD_AGENT_TOKEN_FILE",
        help=f"A file holding the agent registration token (else {TOKEN_ENV} is read).",
    ),
    token: str | None = typer.Option(
        None, "--token", hidden=True, help="Deprecated: visible to every process; see --token-file."
    ),
    name: str | None = typer.Option(None, "--name", help="Defaults to the host name."),
    labels: str = typer.Option("", "--labels", help="Comma-separated labels."),
    concurrency: int = typer.Option(1, "--concurrency", min=1, max=64),
    executor: str = typer.Option("local", "--executor", help="local, docker, or one a plugin adds"),
    work_dir: Path | None = typer.Option(None, "--work-dir", envvar="SOLVYD_WORK_DIR"),
    stop_grace: float = typer.Option(
        30.0, "--stop-grace", help="Seconds running builds get to finish on SIGTERM."
    ),
    isolation: str = typer.Option(
        "auto", "--isolation", envvar="SOLVYD_ISOLATION", help=ISOLATION_HELP
    ),
    default_image: str | None = typer.Option(
        None,
        "--default-image",
        envvar="SOLVYD_DEFAULT_IMAGE",
        help="Docker executor: the image of steps that name none. Without it this agent "
        "claims only builds whose every step names an image.",
    ),
    checkout_image: str | None = typer.Option(
        None,
        "--checkout-image",
        envvar="SOLVYD_CHECKOUT_IMAGE",
        help="Docker and kubernetes executors: the image the repository checkout runs in "
        "(Solvyd's own image, with python, solvyd and git; default solvyd:latest for docker, "
        "solvyd/solvyd:<this agent's version> for kubernetes).",
    ),
    env_passthrough: str = env_passthrough_option(),
    kube_namespace: str | None = typer.Option(
        None,
        "--kube-namespace",
        envvar="SOLVYD_KUBE_NAMESPACE",
        help="Kubernetes executor: the namespace of the builds' pods (default: the "
        "kubeconfig context's, or the agent pod's).",
    ),
    kubeconfig: Path | None = typer.Option(
        None,
        "--kubeconfig",
        envvar="SOLVYD_KUBECONFIG",
        help="Kubernetes executor: a kubeconfig file (default: in-cluster config when the "
        "agent runs in a pod, else $KUBECONFIG or ~/.kube/config).",
    ),
    kube_node_selector: str = typer.Option(
        "",
        "--kube-node-selector",
        envvar="SOLVYD_KUBE_NODE_SELECTOR",
        help="Kubernetes executor: the builds' pods run on nodes with these labels "
        "(KEY=VALUE,...).",
    ),
    kube_tolerations: str = typer.Option(
        "",
        "--kube-tolerations",
        envvar="SOLVYD_KUBE_TOLERATIONS",
        help="Kubernetes executor: taints the builds' pods tolerate (KEY[=VALUE][:EFFECT],...).",
    ),
    kube_service_account: str | None = typer.Option(
        None,
        "--kube-service-account",
        envvar="SOLVYD_KUBE_SERVICE_ACCOUNT",
        help="Kubernetes executor: the service account of the builds' pods (its token is "
        "then mounted in the steps; without it they get none).",
    ),
    metrics_port: int | None = typer.Option(
        None,
        "--metrics-port",
        envvar="SOLVYD_AGENT_METRICS_PORT",
        min=1,
        max=65535,
        help="Serve this agent's Prometheus metrics on this port (at /metrics); off if unset.",
    ),
    metrics_host: str = typer.Option(
        "127.0.0.1",
        "--metrics-host",
        envvar="SOLVYD_AGENT_METRICS_HOST",
        help="Address the metrics listen on (0.0.0.0 for a scraper on another machine).",
    ),
) -> None:
    """Run a worker agent that claims and runs builds."""
    configure_logging(os.environ.get("SOLVYD_LOG_FORMAT", "console"), "info")
    passthrough = env_passthrough_names(env_passthrough)
    secret = registration_token(token, token_file)
    hidden = _agent_private_files()
    if token_file is not None:
        hidden.append(token_file.resolve())
    kubernetes = None
    if executor == "kubernetes":
        kubernetes = KubernetesOptions(
            namespace=(kube_namespace or "").strip() or None,
            kubeconfig=kubeconfig,
            node_selector=kube_node_selector,
            tolerations=kube_tolerations,
            service_account=(kube_service_account or "").strip() or None,
        )
    worker = _make_agent(
        server_url,
        secret,
        name,
        labels,
        concurrency,
        executor,
        work_dir,
        isolation,
        tuple(hidden),
        env_passthrough=passthrough,
        default_image=(default_image or "").strip() or None,
        checkout_image=(checkout_image or "").strip() or None,
        kubernetes=kubernetes,
    )
    # An agent advertises its executor: it must not register one that cannot run steps.
    problem = asyncio.run(worker.executor.check_available())
    if problem is not None:
        raise CliError(f"the {executor} executor cannot run here: {problem}")
    worker.config.stop_grace_seconds = stop_grace

    async def main() -> None:
        worker.install_signal_handlers()
        await worker.run()

    from solvyd.agent.client import Rejected
    from solvyd.agent.metrics import MetricsListener
    from solvyd.agent.supervision import LoopDied

    listener = None
    if metrics_port is not None:
        listener = MetricsListener(worker.metrics.registry, metrics_host, metrics_port)
        host = f"[{metrics_host}]" if ":" in metrics_host else metrics_host
        try:
            listener.start()
        except OSError as exc:
            raise CliError(
                f"cannot serve metrics on {host}:{metrics_port}: {exc.strerror or exc}"
            ) from exc
        err_console.print(f"Agent metrics on http://{host}:{metrics_port}/metrics")
    try:
        asyncio.run(main())
    except Rejected as exc:
        raise CliError(f"the server refused this agent: {exc.message}") from exc
    except LoopDied:
        # The agent logged which loop died and why; its builds were stopped and reported.
        raise typer.Exit(1) from None
    finally:
        if listener is not None:
            listener.stop()


async def _ensure_demo_job(ctx: "ServerContext") -> None:
    from solvyd.server.schemas.jobs import JobCreate
    from solvyd.server.services import jobs
    from solvyd.server.services.audit import SYSTEM

    if not await jobs.list_jobs(ctx, DEMO_JOB_NAME):
        demo = JobCreate(name=DEMO_JOB_NAME, pipeline=HELLO_PIPELINE)
        await jobs.create_job(ctx, demo, SYSTEM)


async def _keep_embedded_agent_name(ctx: "ServerContext", worker: "Agent") -> None:
    """The embedded agent is the server's own, so it needs no proof of its name: its worker
    is given a fresh token to register with, whatever was saved (a data directory from before
    tokens were saved has none), rather than being refused (409)."""
    from solvyd.agent.identity import WorkerTokenStore
    from solvyd.server.services import workers

    assert worker.config.state_dir is not None  # noqa: S101 - _make_agent always sets it
    store = WorkerTokenStore(worker.config.state_dir, worker.config.name)
    if token := await workers.reissue_token(ctx, worker.config.name):
        store.save(token)


def up(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8080, "--port", help="Port to listen on (make run PORT=...)."),
    concurrency: int = typer.Option(2, "--concurrency", min=1, max=64),
    isolation: str = typer.Option(
        "auto", "--isolation", envvar="SOLVYD_ISOLATION", help=ISOLATION_HELP
    ),
    env_passthrough: str = env_passthrough_option(),
) -> None:
    """Run the server and one local agent in one process (SQLite under ./.solvyd by default)."""
    from solvyd.cli.http_server import SolvydServer
    from solvyd.server.settings import ServerSettings

    passthrough = env_passthrough_names(env_passthrough)
    refuse_server_credentials(passthrough)
    settings = ServerSettings()
    from solvyd.agent.supervision import describe
    from solvyd.server.app import create_app, migrate_in_child_process
    from solvyd.server.data_dir import private_umask, sqlite_file, sqlite_files

    private_umask()
    # The agent shares the server's machine and user: its steps must not see what the server
    # keeps (issue 14, item 1).
    hidden = [settings.data_dir.resolve(), settings.resolved_artifact_dir().resolve()]
    hidden += _agent_private_files()
    database = sqlite_file(settings.resolved_database_url())
    if database is not None:
        hidden += sqlite_files(database.resolve())

    app = create_app(settings)
    migrate_in_child_process(settings)
    http_server = SolvydServer(app, host, port, own_signals=False)
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
            env_passthrough=passthrough,
        )
        problem = await worker.executor.check_available()
        if problem is not None:
            http_server.should_exit = True
            await serving
            raise CliError(f"the local executor cannot run here: {problem}")
        await _keep_embedded_agent_name(ctx, worker)
        agent_task = asyncio.create_task(worker.run())
        err_console.print("\nSolvyd is running", style="bold green", end="")
        err_console.print(
            f" at {url}\n"
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
        stopped = asyncio.create_task(stop.wait())
        # The agent ends on its own only when it failed (a loop of it died, it could not
        # register): no build would run, so the whole process stops, non-zero, rather than
        # serve a queue nobody takes.
        await asyncio.wait({stopped, agent_task}, return_when=asyncio.FIRST_COMPLETED)
        agent_failed = agent_task.done()
        stopped.cancel()
        worker.request_stop()
        worker.config.stop_grace_seconds = 5
        with contextlib.suppress(Exception):
            await asyncio.wait_for(agent_task, 30)
        http_server.should_exit = True
        await serving
        if agent_failed:
            error = None if agent_task.cancelled() else agent_task.exception()
            if worker.died is None and error is not None:
                raise CliError(f"the embedded agent stopped: {describe(error)}")
            raise typer.Exit(1)

    asyncio.run(main())
