"""GET /metrics: the process's Prometheus metrics (docs/metrics.md), on the API port or, with
SOLVYD_METRICS_PORT, on a port of its own (`metrics_only_app`). Not in the OpenAPI document:
its answer is Prometheus text and its credential the metrics token, no user's.

Scraping reads the database's gauges first, in async code, then renders: the collector that
prometheus-client calls synchronously only reads what was handed to it."""

import asyncio
import hmac

import structlog
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from sqlalchemy.exc import SQLAlchemyError
from starlette.applications import Starlette
from starlette.routing import Route

from solvyd.server.api.errors import error_body
from solvyd.server.metrics.database import DatabaseGauges
from solvyd.server.services.context import ServerContext
from solvyd.server.services.gauges import read_database_gauges
from solvyd.server.settings import ServerSettings

METRICS_PATH = "/metrics"
# Well inside Prometheus's default scrape timeout (10 s): a database that does not answer (or a
# pool with no free connection) costs the scrape its database gauges, not the whole scrape,
# so the process's own metrics (its pool above all) still reach Prometheus.
DATABASE_GAUGES_SECONDS = 3.0
log = structlog.get_logger(__name__)


async def scrape(ctx: ServerContext, authorization: str | None) -> Response:
    if not _authorized(ctx.settings, authorization):
        return JSONResponse(
            error_body("unauthorized", "the metrics need the metrics token (Bearer)"),
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )
    try:
        gauges: DatabaseGauges | None = await asyncio.wait_for(
            read_database_gauges(ctx), DATABASE_GAUGES_SECONDS
        )
    except (SQLAlchemyError, OSError, TimeoutError) as exc:
        # The process's own metrics (its pool above all) matter most while the database is
        # away: they are served, and the database's gauges left out rather than stale.
        log.warning("metrics: the database's gauges could not be read", error=type(exc).__name__)
        gauges = None
    metrics = ctx.metrics
    # No await between the two: a concurrent scrape cannot render another's gauges.
    metrics.database.update(gauges)
    metrics.sample_pool()  # this process's pool as it is now, beside the others' last samples
    # Text format 0.0.4: every Prometheus reads it (1.0.0 needs a recent one).
    return Response(generate_latest(metrics.exposition), media_type=CONTENT_TYPE_PLAIN_0_0_4)


def _authorized(settings: ServerSettings, authorization: str | None) -> bool:
    token = settings.metrics_token.get_secret_value() if settings.metrics_token else ""
    if not token:
        return True
    scheme, _, presented = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        presented.strip().encode(), token.encode()
    )


def metrics_router(settings: ServerSettings) -> APIRouter:
    router = APIRouter()
    if settings.metrics_port is not None:
        # Served on its own port: here a 404, not the web UI's page (which answers any path).
        @router.get(METRICS_PATH, include_in_schema=False)
        async def metrics_elsewhere() -> JSONResponse:
            return JSONResponse(error_body("not_found", "Not Found"), status_code=404)

        return router

    @router.get(METRICS_PATH, include_in_schema=False)
    async def metrics(request: Request) -> Response:
        ctx: ServerContext = request.app.state.ctx
        return await scrape(ctx, request.headers.get("authorization"))

    return router


def metrics_only_app(api: FastAPI) -> Starlette:
    """What SOLVYD_METRICS_PORT serves: /metrics of the API app `api` (started), and 404."""

    async def metrics(request: Request) -> Response:
        ctx: ServerContext = api.state.ctx
        return await scrape(ctx, request.headers.get("authorization"))

    return Starlette(routes=[Route(METRICS_PATH, metrics, methods=["GET"])])
