"""Sending notifications: claim the due delivery rows, send each through its notifier after
commit, and record how it went.

Every server process runs the loop (`background.run_notification_sender`). A claim holds a row
for a lease (`claimed_until`; SKIP LOCKED on PostgreSQL, and SQLite has one writer), so two
servers never send the same row, and a row whose server died mid-send is claimed again once
its lease ran out: rows survive a restart. A retryable failure (a timeout, a 429, a 5xx, a
notifier's unexpected exception) is tried again with backoff and jitter until
`notification_retry_seconds` after the first attempt; any other fails at once. Every attempt
counts in `attempts` and leaves its error, masked and short, in `last_error`.

What the notice says is read when the row is claimed: the build's facts (a start is told as a
start, however late), its first failed step's last lines, every text masked with the job's
secret values."""

import asyncio
import itertools
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import sqlalchemy as sa
import structlog
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from solvyd.server.db.models import Build, Job, NotificationDelivery
from solvyd.server.events import NOTIFICATIONS
from solvyd.server.notify.base import BuildNotice, Notifier
from solvyd.server.notify.registry import notifier_for
from solvyd.server.services import outbox_rows
from solvyd.server.services.context import ServerContext
from solvyd.server.services.notifications.delivery import (
    Attempt,
    attempt,
    rule_secrets,
    smtp_password,
)
from solvyd.server.services.notifications.notice import build_notice, job_masker
from solvyd.server.services.notifications.outbox import ADDED
from solvyd.shared.backoff import backoff_delays
from solvyd.shared.clock import utcnow
from solvyd.shared.redaction import Masker

log = structlog.get_logger(__name__)

# Rows one claim takes; they are sent concurrently.
BATCH = 20


@dataclass
class _Claimed:
    id: uuid.UUID
    build_id: uuid.UUID
    type: str
    rule: dict[str, Any]
    notifier: Notifier | None
    notice: BuildNotice | None
    secrets: dict[str, str]
    masker: Masker
    # Why it cannot be sent at all (its build is gone): fails the row.
    problem: str | None = None
    smtp_password: str | None = None


def install_wakeup(ctx: ServerContext) -> Callable[[], None]:
    """Wake this process's sender when a transaction that recorded a delivery commits, so a
    notification goes out at once rather than at the next poll. Returns the undo."""
    return outbox_rows.install_wakeup(ctx, ADDED, NOTIFICATIONS)


async def send_due_notifications(ctx: ServerContext, http: httpx.AsyncClient) -> int:
    """Claim the due rows, send them, record how it went. Returns how many were claimed."""
    claimed = await _claim(ctx)
    if not claimed:
        return 0
    attempts = await asyncio.gather(*(_send(ctx, http, item) for item in claimed))
    for item, outcome in zip(claimed, attempts, strict=True):
        try:
            await _record(ctx, item, outcome)
        except Exception as exc:
            # The others are still recorded; this row's lease runs out and it is sent again.
            log.error(
                "notification attempt not recorded",
                build_id=str(item.build_id),
                error=type(exc).__name__,
            )
    return len(claimed)


async def seconds_until_due(ctx: ServerContext) -> float | None:
    """When the soonest pending delivery is due (0 if now); None if there is none."""
    return await outbox_rows.seconds_until_due(ctx, NotificationDelivery)


def _lease(ctx: ServerContext) -> timedelta:
    return timedelta(seconds=ctx.settings.notification_timeout_seconds * 2 + 30)


async def _claim(ctx: ServerContext) -> list[_Claimed]:
    async with ctx.db.transaction() as session:
        rows = await outbox_rows.claim_due_rows(
            ctx, session, NotificationDelivery, _lease(ctx), BATCH
        )
        return [await _prepare_or_fail(ctx, session, delivery) for delivery in rows]


async def _prepare_or_fail(
    ctx: ServerContext, session: AsyncSession, row: NotificationDelivery
) -> _Claimed:
    """The row's notice; a row it cannot be made for fails alone, not its whole batch."""
    item = _Claimed(
        id=row.id,
        build_id=row.build_id,
        type=row.type,
        rule=dict(row.rule),
        notifier=notifier_for(row.type),
        notice=None,
        secrets={},
        masker=Masker(),
    )
    try:
        build = await session.get(Build, row.build_id)
        job = await session.get(Job, build.job_id) if build is not None else None
        if build is None or job is None:
            item.problem = "the build is gone"
            return item
        item.masker = await job_masker(ctx, session, build, job)
        item.notice = await build_notice(
            ctx,
            session,
            build,
            job,
            "build.started" if row.event == "build.started" else "build.finished",
            row.outcome,
            item.masker,
        )
        if item.notifier is not None:
            item.secrets = await rule_secrets(ctx, session, item.notifier, item.rule, build, job)
            item.smtp_password = await smtp_password(ctx, session, item.notifier)
    except SQLAlchemyError:
        raise  # the database's fault, not the row's: the round is tried again
    except Exception as exc:
        log.error(
            "notification could not be prepared",
            build_id=str(row.build_id),
            notifier=row.type,
            error=type(exc).__name__,
        )
        item.problem = f"the notification could not be made ({type(exc).__name__})"
    return item


async def _send(ctx: ServerContext, http: httpx.AsyncClient, item: _Claimed) -> Attempt:
    if item.problem is not None or item.notice is None:
        return Attempt("failed", item.problem or "nothing to send")
    return await attempt(
        ctx.settings,
        http,
        item.notifier,
        item.type,
        item.notice,
        item.rule,
        item.secrets,
        str(item.id),
        item.masker,
        item.smtp_password,
    )


async def _record(ctx: ServerContext, item: _Claimed, outcome: Attempt) -> None:
    result = await _store(ctx, item, outcome)
    if result is None:
        return
    # The type of a stored rule: one of the notifiers this server knows.
    ctx.metrics.notifications.labels(item.type, result).inc()
    if result == "failed":
        log.warning(
            "notification not sent",
            build_id=str(item.build_id),
            notifier=item.type,
            error=outcome.error,
        )


async def _store(ctx: ServerContext, item: _Claimed, outcome: Attempt) -> str | None:
    """The attempt's result as recorded: sent, retry (later) or failed; None if the row is
    gone (its build was deleted)."""
    now = utcnow()
    settings = ctx.settings
    async with ctx.db.transaction() as session:
        row = await session.scalar(
            sa.select(NotificationDelivery)
            .where(NotificationDelivery.id == item.id)
            .with_for_update()
        )
        if row is None:
            return None
        row.claimed_until = None
        row.attempts += 1
        row.last_error = outcome.error
        if outcome.verdict == "sent":
            row.status = "sent"
            row.sent_at = now
            return "sent"
        first = row.first_attempt_at or now
        window = timedelta(seconds=settings.notification_retry_seconds)
        if outcome.verdict == "retry" and now - first < window:
            row.next_attempt_at = now + timedelta(seconds=_delay(ctx, row.attempts))
            return "retry"
        row.status = "failed"
    return "failed"


def _delay(ctx: ServerContext, attempts: int) -> float:
    delays = backoff_delays(
        base=ctx.settings.notification_backoff_seconds,
        cap=ctx.settings.notification_backoff_max_seconds,
    )
    return next(itertools.islice(delays, max(0, attempts - 1), None))
