"""What the outboxes of outgoing calls share (commit statuses, notifications): rows written in
the build's transaction, claimed when due under a lease by whichever server gets them first
(SKIP LOCKED on PostgreSQL; SQLite has one writer), and a wake-up of this process's sender once
the writing transaction commits. Each outbox keeps its own sending and its own verdicts."""

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from solvyd.server.db.models import CommitStatusReport, NotificationDelivery
from solvyd.server.db.types import UTCDateTime
from solvyd.server.services.context import ServerContext
from solvyd.shared.clock import utcnow

# The outbox tables: each has status, next_attempt_at, claimed_until and first_attempt_at.
OutboxRow = CommitStatusReport | NotificationDelivery
Row = TypeVar("Row", CommitStatusReport, NotificationDelivery)


def install_wakeup(ctx: ServerContext, added: str, topic: str) -> Callable[[], None]:
    """Wake `topic`'s sender in this process when a transaction that set `added` in its
    session's info commits, so a row goes out at once rather than at the next poll. Returns
    the undo."""
    engine = ctx.db.engine.sync_engine

    def after_commit(session: Session) -> None:
        if session.bind is engine and session.info.pop(added, False):
            ctx.events.wake(topic)

    event.listen(Session, "after_commit", after_commit)
    return lambda: event.remove(Session, "after_commit", after_commit)


async def seconds_until_due(ctx: ServerContext, table: type[OutboxRow]) -> float | None:
    """When the soonest pending row is due (0 if now); None if there is none. A row another
    sender holds is due when its lease ends, so that no server spins on it meanwhile."""
    now = utcnow()
    due = sa.case((table.claimed_until > now, table.claimed_until), else_=table.next_attempt_at)
    async with ctx.db.transaction() as session:
        soonest: datetime | None = await session.scalar(
            sa.select(sa.type_coerce(sa.func.min(due), UTCDateTime())).where(
                table.status == "pending"
            )
        )
    if soonest is None:
        return None
    return max(0.0, (soonest - now).total_seconds())


async def claim_due_rows(
    ctx: ServerContext, session: AsyncSession, table: type[Row], lease: timedelta, limit: int
) -> Sequence[Row]:
    """Up to `limit` due pending rows that no other sender holds, oldest due first, now held
    by this one until `lease` from now (when its sender died mid-send, another claims them)."""
    now = utcnow()
    query = (
        sa.select(table)
        .where(
            table.status == "pending",
            table.next_attempt_at <= now,
            sa.or_(table.claimed_until.is_(None), table.claimed_until < now),
        )
        .order_by(table.next_attempt_at)
        .limit(limit)
    )
    if ctx.db.dialect == "postgresql":
        # Every server sends; a row another one holds is its.
        query = query.with_for_update(skip_locked=True)
    rows = list(await session.scalars(query))
    for row in rows:
        row.claimed_until = now + lease
        row.first_attempt_at = row.first_attempt_at or now
    return rows


def due_wait(next_due: float | None, poll: float) -> float:
    """How long a sender sleeps: until the soonest row is due, at most `poll`."""
    return poll if next_due is None else min(poll, next_due)
