"""The delivery log: read it (newest first, keyset pages), replay a delivery, prune old ones."""

import base64
import uuid
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from solvyd.server.db.models import Job, WebhookDelivery, WebhookDeliveryJob
from solvyd.server.plugins import server_plugins
from solvyd.server.schemas.hooks import DeliveryList, DeliveryRead
from solvyd.server.scm import PayloadError
from solvyd.server.services import audit
from solvyd.server.services.audit import Actor
from solvyd.server.services.context import ServerContext
from solvyd.server.services.errors import Conflict, InvalidInput, NotFound
from solvyd.server.services.hooks.log import Delivery
from solvyd.server.services.hooks.receive import HookResult, queue_events, record


def _encode_cursor(row: WebhookDelivery) -> str:
    raw = f"{row.received_at.isoformat()}|{row.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        at, row_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        return datetime.fromisoformat(at), uuid.UUID(row_id)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput("cursor is not one this server handed out") from exc


async def list_deliveries(
    ctx: ServerContext, *, job_id: uuid.UUID | None, cursor: str | None, limit: int
) -> DeliveryList:
    query = sa.select(WebhookDelivery)
    at, row_id = WebhookDelivery.received_at, WebhookDelivery.id
    if job_id is not None:
        # The job's index range, newest first.
        at, row_id = WebhookDeliveryJob.received_at, WebhookDeliveryJob.delivery_id
        query = query.join(WebhookDeliveryJob, WebhookDeliveryJob.delivery_id == WebhookDelivery.id)
        query = query.where(WebhookDeliveryJob.job_id == job_id)
    if cursor is not None:
        last_at, last_id = _decode_cursor(cursor)
        query = query.where(sa.or_(at < last_at, sa.and_(at == last_at, row_id < last_id)))
    query = query.order_by(at.desc(), row_id.desc()).limit(limit + 1)
    async with ctx.db.read() as session:
        rows = list(await session.scalars(query))
    page, more = rows[:limit], len(rows) > limit
    return DeliveryList(
        items=[DeliveryRead.model_validate(row) for row in page],
        next_cursor=_encode_cursor(page[-1]) if more else None,
    )


async def get_delivery(ctx: ServerContext, delivery_id: uuid.UUID) -> DeliveryRead:
    async with ctx.db.read() as session:
        row = await _row(session, delivery_id)
    return DeliveryRead.model_validate(row)


async def _row(session: AsyncSession, delivery_id: uuid.UUID) -> WebhookDelivery:
    row = await session.get(WebhookDelivery, delivery_id)
    if row is None:
        raise NotFound(f"delivery {delivery_id} not found")
    return row


async def replay(ctx: ServerContext, delivery_id: uuid.UUID, actor: Actor) -> HookResult:
    """Queue what the delivery starts for the jobs that verified it, under their filters as
    they are now, as a new delivery row pointing at the original (`replay_of`). A delivery
    that no job's secret verified cannot be replayed: anyone could have sent it."""
    async with ctx.db.transaction() as session:
        original = await _row(session, delivery_id)
        if not original.job_ids:
            raise Conflict(
                "only a delivery that a job's webhook secret verified can be replayed; "
                "send this one again from the forge"
            )
        if original.body_truncated:
            raise Conflict("the delivery's body was not kept whole: it cannot be replayed")
        forge = server_plugins().forges().get(original.forge)
        if forge is None:
            raise Conflict(f"no forge named {original.forge!r} is installed now")
        body = original.body.encode()
        headers = dict(original.headers)
        try:
            events = forge.parse(headers, body)
        except PayloadError as exc:
            raise Conflict(f"the delivery cannot be read again: {exc}") from None
        job_ids = [uuid.UUID(j) for j in original.job_ids]
        existing = set(await session.scalars(sa.select(Job.id).where(Job.id.in_(job_ids))))
        job_ids = [j for j in job_ids if j in existing]
        delivery = Delivery(
            forge=forge,
            event=original.event,
            delivery_id=original.delivery_id,
            headers=headers,
            body=body,
            replay_of=original.id,
        )
        outcome = await queue_events(session, job_ids, events)
        result = record(session, delivery, job_ids, outcome)
        audit.record(
            session,
            actor,
            "webhook.replay",
            f"delivery:{original.id}",
            builds=len(result.answer.builds),
        )
    for queued in outcome.queued:
        queued.wake(ctx.events)
    return result


async def prune_deliveries(ctx: ServerContext, now: datetime) -> int:
    """Delete deliveries received more than `webhook_retention_days` ago; how many."""
    cutoff = now - timedelta(days=ctx.settings.webhook_retention_days)
    async with ctx.db.transaction() as session:
        old = sa.select(WebhookDelivery.id).where(WebhookDelivery.received_at < cutoff)
        await session.execute(
            sa.delete(WebhookDeliveryJob).where(WebhookDeliveryJob.delivery_id.in_(old))
        )
        # A replay of a pruned delivery keeps its row; its pointer goes.
        await session.execute(
            sa.update(WebhookDelivery)
            .where(WebhookDelivery.replay_of.in_(old))
            .values(replay_of=None)
        )
        result = await session.execute(
            sa.delete(WebhookDelivery).where(WebhookDelivery.received_at < cutoff)
        )
    return int(getattr(result, "rowcount", 0) or 0)
