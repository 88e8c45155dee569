"""Sending commit statuses: claim due outbox rows, send each to its forge after commit, and
record the forge's answer.

Every server process runs the loop (`background.run_commit_status_sender`). A claim holds a
row for a lease (`claimed_until`; SKIP LOCKED on PostgreSQL, and SQLite has one writer), so
two servers never send the same row at once, and a newer state of a build waits until the
older one's request has answered. Timeouts, connection errors, 429 and 5xx are retried with
backoff and jitter for `commit_status_retry_seconds` from the first attempt; another 4xx (a
bad token, an unknown repository) fails at once. A failed row keeps the forge's answer, which
the build shows. The token is read from the job's secret at each send and never logged or
stored in a row (it is masked out of what the forge answered, in case it echoes it)."""

import asyncio
import itertools
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import sqlalchemy as sa
import structlog
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from solvyd.server.auth.roles import Role
from solvyd.server.db.models import Build, CommitStatusReport, Job, User
from solvyd.server.db.types import UTCDateTime
from solvyd.server.events import COMMIT_STATUSES
from solvyd.server.services.commit_statuses.forges import (
    Report,
    StatusRequest,
    repository_from_scm_url,
    status_request,
)
from solvyd.server.services.commit_statuses.outbox import ADDED
from solvyd.server.services.context import ServerContext
from solvyd.server.services.secrets import Recipient, secret_box, secret_values
from solvyd.shared.backoff import backoff_delays
from solvyd.shared.clock import utcnow

log = structlog.get_logger(__name__)

# Rows one claim takes; their requests go out concurrently.
BATCH = 20
# What a failed report keeps of the forge's answer.
MAX_RESPONSE_CHARS = 2000
MASK = "***"


@dataclass
class _Claimed:
    id: uuid.UUID
    version: int
    build_id: uuid.UUID
    forge: str
    request: StatusRequest | None
    # Why no request could be made (no forge, no repository, no token): fails the row.
    problem: str | None
    token: str | None


@dataclass
class _Outcome:
    # sent | retry | failed
    verdict: str
    response_status: int | None = None
    response_body: str | None = None
    error: str | None = None


def install_wakeup(ctx: ServerContext) -> Callable[[], None]:
    """Wake this process's sender when a transaction that recorded a report commits, so a
    status goes out at once rather than at the next poll. Returns the undo."""
    engine = ctx.db.engine.sync_engine

    def after_commit(session: Session) -> None:
        if session.bind is engine and session.info.pop(ADDED, False):
            ctx.events.wake(COMMIT_STATUSES)

    event.listen(Session, "after_commit", after_commit)
    return lambda: event.remove(Session, "after_commit", after_commit)


async def send_due_reports(ctx: ServerContext, http: httpx.AsyncClient) -> int:
    """Claim the due rows, send them, record the answers. Returns how many were claimed."""
    claimed = await _claim(ctx)
    if not claimed:
        return 0
    outcomes = await asyncio.gather(*(_send(ctx, http, item) for item in claimed))
    for item, outcome in zip(claimed, outcomes, strict=True):
        await _record(ctx, item, outcome)
    return len(claimed)


async def seconds_until_due(ctx: ServerContext) -> float | None:
    """When the soonest pending row is due (0 if now); None if there is none. A row another
    sender holds is due when its lease ends (its holder sends the next state itself), so that
    no server spins on it meanwhile."""
    now = utcnow()
    report = CommitStatusReport
    due = sa.case((report.claimed_until > now, report.claimed_until), else_=report.next_attempt_at)
    async with ctx.db.transaction() as session:
        soonest: datetime | None = await session.scalar(
            sa.select(sa.type_coerce(sa.func.min(due), UTCDateTime())).where(
                report.status == "pending"
            )
        )
    if soonest is None:
        return None
    return max(0.0, (soonest - now).total_seconds())


async def _claim(ctx: ServerContext) -> list[_Claimed]:
    settings = ctx.settings
    now = utcnow()
    lease = timedelta(seconds=settings.commit_status_timeout_seconds * 2 + 30)
    query = (
        sa.select(CommitStatusReport)
        .where(
            CommitStatusReport.status == "pending",
            CommitStatusReport.next_attempt_at <= now,
            sa.or_(
                CommitStatusReport.claimed_until.is_(None),
                CommitStatusReport.claimed_until < now,
            ),
        )
        .order_by(CommitStatusReport.next_attempt_at)
        .limit(BATCH)
    )
    if ctx.db.dialect == "postgresql":
        # Every server sends; a row another one holds is its.
        query = query.with_for_update(skip_locked=True)
    claimed = []
    async with ctx.db.transaction() as session:
        for row in list(await session.scalars(query)):
            row.claimed_until = now + lease
            row.first_attempt_at = row.first_attempt_at or now
            claimed.append(await _prepare(ctx, session, row))
    return claimed


async def _prepare(ctx: ServerContext, session: AsyncSession, row: CommitStatusReport) -> _Claimed:
    item = _Claimed(
        id=row.id,
        version=row.version,
        build_id=row.build_id,
        forge=row.forge,
        request=None,
        problem=None,
        token=None,
    )
    build = await session.get(Build, row.build_id)
    job = await session.get(Job, build.job_id) if build is not None else None
    forge: dict[str, Any] | None = job.forge if job is not None else None
    if build is None or job is None or not forge:
        item.problem = "the job no longer reports commit statuses (its forge was removed)"
        return item
    repository = forge.get("repository") or repository_from_scm_url(job.scm_url)
    if not repository:
        item.problem = "the job's forge names no repository and its scm_url names none either"
        return item
    name = str(forge.get("token_secret") or "")
    # Whoever last changed the job chose where the token goes (api_url): a protected secret
    # serves only a job an admin changed last, as it does builds (services/secrets.py).
    admin_changed = await _is_admin(session, job.changed_by)
    recipient = None if admin_changed else Recipient(build, admins_only=False)
    values = await secret_values(session, secret_box(ctx), job.id, [name], recipient)
    token = values.get(name)
    if not token:
        item.problem = f"the secret {name!r} holding the forge's token is not set" + (
            "" if admin_changed else " (or is protected, and an admin did not change the job last)"
        )
        return item
    public_url = ctx.settings.public_url
    row.target_url = f"{public_url.rstrip('/')}/builds/{build.id}" if public_url else None
    item.token = token
    item.request = status_request(
        Report(
            forge=str(forge["type"]),
            api_url=forge.get("api_url"),
            repository=repository,
            sha=row.commit_sha,
            state=row.state,
            context=row.context,
            description=row.description,
            target_url=row.target_url,
        ),
        token,
    )
    return item


async def _is_admin(session: AsyncSession, user_id: uuid.UUID | None) -> bool:
    user = await session.get(User, user_id) if user_id is not None else None
    return user is not None and not user.disabled and user.role == Role.ADMIN


async def _send(ctx: ServerContext, http: httpx.AsyncClient, item: _Claimed) -> _Outcome:
    if item.request is None:
        return _Outcome("failed", error=item.problem)
    request = item.request
    try:
        response = await http.post(
            request.url,
            json=request.body,
            headers=request.headers,
            timeout=ctx.settings.commit_status_timeout_seconds,
        )
    except httpx.TimeoutException:
        return _Outcome("retry", error="the forge did not answer in time")
    except httpx.HTTPError as exc:
        # The message names the URL at most, never the headers (the token).
        return _Outcome("retry", error=_mask(f"{type(exc).__name__}: {exc}", item.token))
    body = _mask(response.text[:MAX_RESPONSE_CHARS], item.token)
    code = response.status_code
    if 200 <= code < 300:
        return _Outcome("sent", response_status=code, response_body=body)
    verdict = "retry" if code == 429 or code >= 500 else "failed"
    return _Outcome(
        verdict,
        response_status=code,
        response_body=body,
        error=f"the forge answered HTTP {code}",
    )


async def _record(ctx: ServerContext, item: _Claimed, outcome: _Outcome) -> None:
    now = utcnow()
    settings = ctx.settings
    async with ctx.db.transaction() as session:
        row = await session.scalar(
            sa.select(CommitStatusReport).where(CommitStatusReport.id == item.id).with_for_update()
        )
        if row is None:
            return  # its build was deleted
        row.claimed_until = None
        if row.version != item.version:
            # A newer state came while this one was in flight: it goes out now, after it.
            row.next_attempt_at = now
            session.info[ADDED] = True
            return
        row.attempts += 1
        row.response_status = outcome.response_status
        row.response_body = outcome.response_body
        row.last_error = outcome.error
        if outcome.verdict == "sent":
            row.status = "sent"
            return
        first = row.first_attempt_at or now
        window = timedelta(seconds=settings.commit_status_retry_seconds)
        if outcome.verdict == "retry" and now - first < window:
            row.next_attempt_at = now + timedelta(seconds=_delay(ctx, row.attempts))
            return
        row.status = "failed"
    if outcome.verdict != "sent":
        log.warning(
            "commit status not sent",
            build_id=str(item.build_id),
            forge=item.forge,
            error=outcome.error,
            response_status=outcome.response_status,
        )


def _delay(ctx: ServerContext, attempts: int) -> float:
    delays = backoff_delays(
        base=ctx.settings.commit_status_backoff_seconds,
        cap=ctx.settings.commit_status_backoff_max_seconds,
    )
    return next(itertools.islice(delays, max(0, attempts - 1), None))


def _mask(text: str, token: str | None) -> str:
    return text.replace(token, MASK) if token else text


def due_wait(next_due: float | None, poll: float) -> float:
    """How long the loop sleeps: until the soonest row is due, at most `poll`."""
    return poll if next_due is None else min(poll, next_due)
