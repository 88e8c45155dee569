"""The audit log, for admins: who did what, when, from where; newest first."""

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AfterValidator

from solvyd.server.api.deps import AsAdmin, Ctx
from solvyd.server.schemas.audit import AuditEventRead, AuditList
from solvyd.server.services import audit

router = APIRouter(prefix="/audit", tags=["audit"])

MAX_ID = 2**63 - 1  # the column is a BIGINT on PostgreSQL


def _in_utc(value: datetime | None) -> datetime | None:
    # Stored times are UTC: a time that has none (0001-01-01 east of UTC) is the request's
    # fault, 422, not an overflow in the query. A time without a zone is taken as UTC.
    if value is None or value.tzinfo is None:
        return value and value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError("the time cannot be given in UTC") from exc


@router.get("", operation_id="list_audit_events")
async def list_audit_events(
    ctx: Ctx,
    _: AsAdmin,
    before_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="events older than this id")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    action: Annotated[str | None, Query(max_length=64, description="e.g. job.create")] = None,
    actor: Annotated[str | None, Query(max_length=200, description="a user name")] = None,
    since: Annotated[
        datetime | None,
        AfterValidator(_in_utc),
        Query(description="events at or after this time"),
    ] = None,
) -> AuditList:
    events, next_before_id = await audit.page_of_events(
        ctx, before_id=before_id, limit=limit, action=action, actor=actor, since=since
    )
    return AuditList(
        items=[AuditEventRead.model_validate(e) for e in events], next_before_id=next_before_id
    )
