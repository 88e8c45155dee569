"""create_app(settings): the FastAPI application, its routers and its lifespan."""

import asyncio
import contextlib
import os
import sys
import threading
from collections.abc import AsyncIterator

import structlog
from fastapi import APIRouter, Depends, FastAPI

from solvyd import __version__
from solvyd.server.api import (
    agent_tokens,
    artifacts,
    audit,
    auth,
    badges,
    builds,
    deployments,
    events,
    health,
    hooks,
    jobs,
    pipelines,
    plugins,
    retention,
    secrets,
    stats,
    tokens,
    users,
    workers,
)
from solvyd.server.api.errors import install_error_handlers
from solvyd.server.api.http_metrics import HttpMetrics, RouteTemplates
from solvyd.server.api.metrics import metrics_router
from solvyd.server.api.middleware import install_middleware
from solvyd.server.api.openapi import document_access
from solvyd.server.api.request_log import RequestLog, bind_path_ids
from solvyd.server.auth.keys import load_keys
from solvyd.server.background import (
    run_build_retention,
    run_commit_status_sender,
    run_delivery_pruner,
    run_log_archiver,
    run_notification_sender,
    run_pool_sampler,
    run_reaper,
    run_scheduler,
)
from solvyd.server.data_dir import secure_data_dir
from solvyd.server.db.migrate import upgrade_to_head
from solvyd.server.db.session import DEFAULT_POOL_SIZE, create_database
from solvyd.server.events import USER_SESSIONS, WORKER_TOKENS, EventHub
from solvyd.server.events_pg import PostgresNotifier
from solvyd.server.logging import configure_logging
from solvyd.server.metrics.registry import ServerMetrics
from solvyd.server.plugins import server_plugins
from solvyd.server.services.context import ServerContext
from solvyd.server.services.deployments.runner import run_deployments
from solvyd.server.services.users import ensure_admin
from solvyd.server.settings import ServerSettings
from solvyd.server.web_ui import install_web_ui

API_PREFIX = "/api/v1"
log = structlog.get_logger(__name__)


def migrate_in_child_process(settings: ServerSettings) -> bool:
    """Bring the schema to head in a forked child, before the server starts: alembic (~10 MB
    with Mako and Pygments) then lives in a process that exits, and the server's own start
    finds the schema at head without loading it. Whether the child did; when not (no fork on
    this platform, threads already running, any error), the start migrates in-process as
    before and reports what went wrong."""
    if not hasattr(os, "fork") or threading.active_count() > 1:
        return False
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        status = 1
        try:
            asyncio.run(_migrate(settings))
            status = 0
        finally:
            # Whatever happened, the child never returns into the parent's code; its error is
            # the parent's to find again and report.
            os._exit(status)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


async def _migrate(settings: ServerSettings) -> None:
    secure_data_dir(settings)
    db = create_database(settings.resolved_database_url())
    try:
        await upgrade_to_head(db)
    finally:
        await db.dispose()


async def start_context(
    settings: ServerSettings,
    metrics: ServerMetrics,
    *,
    migrate: bool = True,
    pool_size: int = DEFAULT_POOL_SIZE,
) -> ServerContext:
    """`migrate=False`: the schema is known to be at head already (`solvyd server --workers N`
    migrated in its first process before it started the others)."""
    secure_data_dir(settings)
    database_url = settings.resolved_database_url()
    db = create_database(database_url, pool_size=pool_size)
    if migrate:
        await upgrade_to_head(db)
    hub = EventHub()
    ctx = ServerContext(
        settings=settings,
        db=db,
        events=hub,
        keys=load_keys(settings),
        artifacts=server_plugins().create_artifact_store(settings),
        metrics=metrics,
    )
    # Emptied when a worker token or a login session is revoked here or on another server, or
    # when such news may have been lost.
    hub.subscribe(WORKER_TOKENS, ctx.worker_tokens.forget_all)
    hub.subscribe(USER_SESSIONS, ctx.user_sessions.forget_all)
    db.on_commit = metrics.observe_committed
    metrics.watch_pool(db.engine.pool)
    metrics.server_info.labels(__version__, db.dialect).set(1)
    generated = await ensure_admin(ctx)
    if generated is not None:
        # Shown once, at creation, on the operator's terminal; never logged or stored in clear.
        sys.stderr.write(
            f"\nCreated user {settings.admin_username!r} with generated password: {generated}\n"
            "It is shown only this once.\n\n"
        )
    if db.dialect == "postgresql":
        # Other server processes may share this database: wake their waiters too. SQLite is
        # single-server, so its hub stays in-process.
        notifier = PostgresNotifier(hub, database_url)
        await notifier.start()
        hub.attach(notifier)
    return ctx


def create_app(
    settings: ServerSettings,
    *,
    migrate: bool = True,
    metrics_shared_by_processes: bool = False,
    pool_size: int = DEFAULT_POOL_SIZE,
) -> FastAPI:
    """For a process of `solvyd server --workers N`: the first migrates the database before the
    others start (`migrate=False`), they all share their metrics (metrics/registry.py), and
    each has its share of the one server's connections (`pool_size`)."""
    configure_logging(settings.log_format, settings.log_level)
    # Built here, once: a plugin refused or failed says so at start, and lookups are reads.
    server_plugins()
    # Made here, not in the lifespan: the HTTP middleware counts into it too.
    metrics = ServerMetrics(shared_by_processes=metrics_shared_by_processes)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ctx = await start_context(settings, metrics, migrate=migrate, pool_size=pool_size)
        app.state.ctx = ctx
        background = [
            asyncio.create_task(run_reaper(ctx), name="reaper"),
            asyncio.create_task(run_log_archiver(ctx), name="log-archiver"),
            asyncio.create_task(run_build_retention(ctx), name="build-retention"),
            asyncio.create_task(run_commit_status_sender(ctx), name="commit-status-sender"),
            asyncio.create_task(run_notification_sender(ctx), name="notification-sender"),
            asyncio.create_task(run_delivery_pruner(ctx), name="webhook-delivery-pruner"),
            asyncio.create_task(run_scheduler(ctx), name="scheduler"),
            asyncio.create_task(run_deployments(ctx), name="deployments"),
        ]
        if metrics.shared_by_processes:
            background.append(asyncio.create_task(run_pool_sampler(ctx), name="pool-sampler"))
        log.info("server started", database=ctx.db.dialect, version=__version__)
        try:
            yield
        finally:
            for task in background:
                task.cancel()
            for task in background:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await ctx.events.detach()
            await ctx.artifacts.close()
            await ctx.db.dispose()

    app = FastAPI(
        title="Solvyd",
        version=__version__,
        lifespan=lifespan,
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
    )
    app.state.settings = settings
    install_error_handlers(app)
    api = APIRouter(prefix=API_PREFIX, dependencies=[Depends(bind_path_ids)])
    modules = (
        auth,
        users,
        tokens,
        agent_tokens,
        jobs,
        pipelines,
        builds,
        workers,
        artifacts,
        secrets,
        audit,
        stats,
        events,
        hooks,
        badges,
        plugins,
        deployments,
        retention,
    )
    for module in modules:
        api.include_router(module.router)
    app.include_router(api)
    app.include_router(health.router)
    metrics_routes = metrics_router(settings)
    app.include_router(metrics_routes)
    document_access(app, [module.router for module in (*modules, health)])
    install_web_ui(app, settings.resolved_web_dir())
    install_middleware(app, settings, API_PREFIX)
    # Outermost, so they see every answer as the client gets it (a 413 or a 500 included),
    # and every answer carries its request id.
    routes = RouteTemplates(
        [(API_PREFIX, module.router) for module in modules]
        + [("", health.router), ("", metrics_routes)]
    )
    app.add_middleware(HttpMetrics, metrics=metrics, routes=routes)
    app.add_middleware(RequestLog, routes=routes)
    return app
