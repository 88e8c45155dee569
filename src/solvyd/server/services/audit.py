"""The audit log: who did what, when, from where. Written in the caller's transaction, so an
action and its record commit (or roll back) together."""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from solvyd.server.db.models import AuditEvent, User
from solvyd.server.services.context import ServerContext


@dataclass(frozen=True)
class Actor:
    """Who acts: a user (None for the server itself) and the address the request came from."""

    user_id: uuid.UUID | None = None
    name: str | None = None
    ip: str | None = None

    @classmethod
    def of(cls, user: User | None, ip: str | None = None) -> "Actor":
        return cls(user.id if user else None, user.username if user else None, ip)


SYSTEM = Actor(name="solvyd")


def record(
    session: AsyncSession,
    actor: Actor,
    action: str,
    target: str | None = None,
    *,
    outcome: str = "success",
    **details: Any,
) -> None:
    """Add one event. `action` is a dotted verb ("job.create", "login", "secret.set"); never
    put a secret value, password or token in `details`."""
    session.add(
        AuditEvent(
            actor_id=actor.user_id,
            actor_name=actor.name,
            ip=actor.ip,
            action=action,
            target=target,
            outcome=outcome,
            details=details,
        )
    )


async def list_events(
    session: AsyncSession,
    *,
    before_id: int | None = None,
    limit: int = 100,
    action: str | None = None,
    actor: str | None = None,
    since: datetime | None = None,
) -> list[AuditEvent]:
    """Newest first; page with `before_id` (the last id of the previous page)."""
    query = sa.select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
    if before_id is not None:
        query = query.where(AuditEvent.id < before_id)
    if action:
        query = query.where(AuditEvent.action == action)
    if actor:
        query = query.where(AuditEvent.actor_name == actor)
    if since:
        query = query.where(AuditEvent.at >= since)
    return list(await session.scalars(query))


async def page_of_events(
    ctx: ServerContext,
    *,
    before_id: int | None = None,
    limit: int = 100,
    action: str | None = None,
    actor: str | None = None,
    since: datetime | None = None,
) -> tuple[list[AuditEvent], int | None]:
    """One page, newest first, and the `before_id` of the next page (None on the last)."""
    async with ctx.db.read() as session:
        events = await list_events(
            session, before_id=before_id, limit=limit + 1, action=action, actor=actor, since=since
        )
    more = len(events) > limit
    events = events[:limit]
    return events, events[-1].id if more else None
