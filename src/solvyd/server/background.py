"""Background loops the server runs for its whole life."""

import asyncio

import structlog

from solvyd.server.services.builds.reap import reap_lost_workers
from solvyd.server.services.context import ServerContext

log = structlog.get_logger(__name__)


async def run_reaper(ctx: ServerContext) -> None:
    while True:
        try:
            reaped = await reap_lost_workers(ctx)
            if reaped:
                log.warning("builds of lost workers requeued or ended", builds=reaped)
        except Exception:
            log.exception("reaper round failed")
        await asyncio.sleep(ctx.settings.reaper_interval_seconds)
