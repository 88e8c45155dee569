"""Background loops the server runs for its whole life."""

import asyncio
import time
from collections.abc import Awaitable, Callable

import httpx
import structlog
from sqlalchemy.exc import SQLAlchemyError

from solvyd.server.events import COMMIT_STATUSES, NOTIFICATIONS
from solvyd.server.services.builds.log_archive import archive_old_logs
from solvyd.server.services.builds.reap import end_overdue_builds, reap_lost_workers
from solvyd.server.services.builds.retention import remove_old_builds
from solvyd.server.services.builds.retry import release_due_retries
from solvyd.server.services.commit_statuses.sender import (
    install_wakeup,
    seconds_until_due,
    send_due_reports,
)
from solvyd.server.services.context import ServerContext
from solvyd.server.services.hooks.deliveries import prune_deliveries
from solvyd.server.services.notifications import sender as notification_sender
from solvyd.server.services.outbox_rows import due_wait
from solvyd.server.services.schedules import prune_schedule_runs, start_due_schedules
from solvyd.shared.clock import utcnow

log = structlog.get_logger(__name__)


async def run_reaper(ctx: ServerContext) -> None:
    """Every `reaper_interval_seconds`: release retries whose backoff passed, end overdue
    builds, and declare silent workers lost.

    Workers are judged only once this server has reached its database without a break for a
    whole heartbeat TTL: while the server was down or the database unreachable, no heartbeat
    could be recorded, so an old `last_heartbeat` proves nothing yet."""
    reachable_since: float | None = None
    while True:
        try:
            await release_due_retries(ctx)
            ended = await end_overdue_builds(ctx)
            if ended:
                log.warning("builds past their timeout ended", builds=ended)
            reachable_since = reachable_since or time.monotonic()
            if time.monotonic() - reachable_since >= ctx.settings.heartbeat_ttl_seconds:
                reaped = await reap_lost_workers(ctx)
                if reaped:
                    log.warning("builds of lost workers requeued or ended", builds=reaped)
        except Exception as exc:
            reachable_since = None
            # A database outage is expected and its traceback noise; anything else is a bug.
            expected = isinstance(exc, OSError | SQLAlchemyError)
            log.error(
                "reaper round failed", error=f"{type(exc).__name__}: {exc}", exc_info=not expected
            )
        await asyncio.sleep(ctx.settings.reaper_interval_seconds)


# How long a server waits after its start before the first round of a periodic clean-up (log
# archiving, build retention), or one interval if that is shorter: a starting server has its own
# work, and replicas restarted together should not all begin with the same clean-up.
FIRST_ROUND_DELAY_SECONDS = 60.0


async def _first_round_delay(interval_seconds: float) -> None:
    await asyncio.sleep(min(interval_seconds, FIRST_ROUND_DELAY_SECONDS))


async def run_log_archiver(ctx: ServerContext) -> None:
    """Every `log_archive_interval_seconds`: move the logs of builds that finished more than
    `log_retention_days` ago to the artifact store. Returns at once if retention is 0.

    Every server runs it; they share the work build by build (log_archive.py). The first
    round waits a little (`FIRST_ROUND_DELAY_SECONDS`)."""
    if ctx.settings.log_retention_days <= 0:
        return
    await _first_round_delay(ctx.settings.log_archive_interval_seconds)
    while True:
        try:
            archived = await archive_old_logs(ctx, utcnow())
            if archived:
                log.info("old build logs archived", builds=archived)
        except Exception as exc:
            # Whatever failed is retried whole on the next round; a store or database outage
            # would otherwise print a traceback every interval.
            log.warning("log archiving failed", error=f"{type(exc).__name__}: {exc}")
        await asyncio.sleep(ctx.settings.log_archive_interval_seconds)


async def run_build_retention(ctx: ServerContext) -> None:
    """Every `retention_interval_seconds`: remove the finished builds past their job's
    retention limits, a batch per short transaction, then their objects in the artifact store.

    Every server runs it; they share the work batch by batch (services/builds/retention.py).
    A round also retries the store deletions an earlier one could not do, so it runs even
    while no limit is set. The first round waits a little (`FIRST_ROUND_DELAY_SECONDS`), so a
    server restarted more often than the interval still gets to it."""
    await _first_round_delay(ctx.settings.retention_interval_seconds)
    while True:
        try:
            summary = await remove_old_builds(ctx, utcnow())
            total = summary.total
            if total.builds:
                log.info(
                    "old builds removed",
                    builds=total.builds,
                    artifacts=total.artifacts,
                    artifact_bytes=total.artifact_bytes,
                )
        except Exception as exc:
            expected = isinstance(exc, OSError | SQLAlchemyError)
            log.error(
                "build retention round failed",
                error=f"{type(exc).__name__}: {exc}",
                exc_info=not expected,
            )
        await asyncio.sleep(ctx.settings.retention_interval_seconds)


async def run_commit_status_sender(ctx: ServerContext) -> None:
    """Send the commit statuses that are due, as soon as they are recorded and when their
    retry falls due (services/commit_statuses/sender.py)."""
    await _run_outbox_sender(
        ctx,
        what="commit status",
        topic=COMMIT_STATUSES,
        poll=ctx.settings.commit_status_poll_seconds,
        install_wakeup=install_wakeup,
        send_due=send_due_reports,
        seconds_until_due=seconds_until_due,
    )


async def run_notification_sender(ctx: ServerContext) -> None:
    """Send the notifications that are due, as soon as they are recorded and when their retry
    falls due (services/notifications/sender.py)."""
    await _run_outbox_sender(
        ctx,
        what="notification",
        topic=NOTIFICATIONS,
        poll=ctx.settings.notification_poll_seconds,
        install_wakeup=notification_sender.install_wakeup,
        send_due=notification_sender.send_due_notifications,
        seconds_until_due=notification_sender.seconds_until_due,
    )


async def _run_outbox_sender(
    ctx: ServerContext,
    *,
    what: str,
    topic: str,
    poll: float,
    install_wakeup: Callable[[ServerContext], Callable[[], None]],
    send_due: Callable[[ServerContext, httpx.AsyncClient], Awaitable[int]],
    seconds_until_due: Callable[[ServerContext], Awaitable[float | None]],
) -> None:
    """One outbox's sender: woken after the commit that recorded a row, and at the soonest
    retry. Never raises: a round that failed is tried again, since every call is a row."""
    remove_wakeup = install_wakeup(ctx)
    try:
        async with httpx.AsyncClient(follow_redirects=False) as http:
            while True:
                signal = ctx.events.listen(topic)
                try:
                    while await send_due(ctx, http):
                        pass
                    wait = due_wait(await seconds_until_due(ctx), poll)
                except Exception as exc:
                    expected = isinstance(exc, OSError | SQLAlchemyError)
                    log.error(
                        f"{what} round failed",
                        error=f"{type(exc).__name__}: {exc}",
                        exc_info=not expected,
                    )
                    wait = poll
                if ctx.events.closed:
                    return
                await signal.wait(wait)
    finally:
        remove_wakeup()


async def run_delivery_pruner(ctx: ServerContext) -> None:
    """Every `webhook_prune_interval_seconds`: delete the webhook deliveries older than
    `webhook_retention_days`. Every server runs it; deleting twice deletes nothing more."""
    while True:
        try:
            pruned = await prune_deliveries(ctx, utcnow())
            if pruned:
                log.info("old webhook deliveries deleted", deliveries=pruned)
        except Exception as exc:
            log.warning("pruning webhook deliveries failed", error=f"{type(exc).__name__}: {exc}")
        await asyncio.sleep(ctx.settings.webhook_prune_interval_seconds)


# How often each server deletes old handled due times (services/schedules.py).
_PRUNE_EVERY_SECONDS = 3600.0


async def run_scheduler(ctx: ServerContext) -> None:
    """Start the builds of due schedules: every `schedule_interval_seconds`, or at the soonest
    due time when that comes first. Every server runs it; the schedule_runs rows make each due
    time start one build however many do (services/schedules.py)."""
    interval = ctx.settings.schedule_interval_seconds
    pruned_at = 0.0
    while True:
        pause = interval
        try:
            if time.monotonic() - pruned_at >= _PRUNE_EVERY_SECONDS:
                await prune_schedule_runs(ctx, utcnow())
                pruned_at = time.monotonic()
            result = await start_due_schedules(ctx, utcnow())
            if result.next_due_at is not None:
                # A hair past the due time, so the next round finds it due.
                until_due = (result.next_due_at - utcnow()).total_seconds() + 0.01
                pause = min(interval, max(until_due, 0.01))
        except Exception as exc:
            expected = isinstance(exc, OSError | SQLAlchemyError)
            log.error(
                "schedule round failed", error=f"{type(exc).__name__}: {exc}", exc_info=not expected
            )
        await asyncio.sleep(pause)


# How stale another process's pool may be in a scrape of `solvyd server --workers N`.
POOL_SAMPLE_SECONDS = 1.0


async def run_pool_sampler(ctx: ServerContext) -> None:
    """For one of the processes of `solvyd server --workers N`: write this process's pool
    connections to the metrics the processes share, every POOL_SAMPLE_SECONDS, since a scrape
    is answered by any one of them (metrics/registry.py)."""
    while True:
        ctx.metrics.sample_pool()
        await asyncio.sleep(POOL_SAMPLE_SECONDS)
