"""Reading builds: one with its steps, or a filtered page (keyset pagination, newest first)."""

import base64
import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from solvyd.protocol import BuildStatus
from solvyd.server.db import queries
from solvyd.server.db.models import Build, CommitStatusReport, Job, NotificationDelivery
from solvyd.server.schemas.builds import (
    BuildList,
    BuildRead,
    NotificationDeliveryRead,
    StatusReportRead,
    StepRead,
)
from solvyd.server.services.builds.approve import WAITING_FOR_APPROVAL
from solvyd.server.services.builds.step_graph import step_dependencies
from solvyd.server.services.context import ServerContext
from solvyd.server.services.errors import InvalidInput, NotFound
from solvyd.shared.clock import utcnow

NO_WORKER_RUNS_STEPS_WITHOUT_IMAGE = (
    "no online worker can run steps without an image (a local agent, or a docker agent "
    "started with --default-image)"
)


def _encode_cursor(build: Build) -> str:
    raw = f"{build.queued_at.isoformat()}|{build.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        queued_at, build_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        return datetime.fromisoformat(queued_at), uuid.UUID(build_id)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput("cursor is not one this server handed out") from exc


async def _to_read_models(session: AsyncSession, builds: list[Build]) -> list[BuildRead]:
    steps = await queries.build_steps(session, [b.id for b in builds])
    names = await queries.job_names(session, [b.job_id for b in builds])
    reasons = await _waiting_reasons(session, builds)
    reports = await _status_reports(session, builds)
    notifications = await _notifications(session, builds)
    approvers = await queries.usernames(
        session, [b.approved_by for b in builds if b.approved_by is not None]
    )
    by_build: dict[uuid.UUID, list[StepRead]] = {}
    for step in steps:
        by_build.setdefault(step.build_id, []).append(StepRead.model_validate(step))
    return [
        BuildRead.model_validate(build).model_copy(
            update={
                "steps": _with_dependencies(build, by_build.get(build.id, [])),
                "job_name": names.get(build.job_id),
                "waiting_reason": reasons.get(build.id),
                "status_reports": reports.get(build.id, []),
                "notifications": notifications.get(build.id, []),
                "approved_by": approvers.get(build.approved_by) if build.approved_by else None,
            }
        )
        for build in builds
    ]


async def _status_reports(
    session: AsyncSession, builds: list[Build]
) -> dict[uuid.UUID, list[StatusReportRead]]:
    """One query for the page's builds that report commit statuses; none if no build does."""
    ids = [build.id for build in builds if build.reports_status]
    if not ids:
        return {}
    rows = await session.scalars(
        sa.select(CommitStatusReport)
        .where(CommitStatusReport.build_id.in_(ids))
        .order_by(CommitStatusReport.context)
    )
    by_build: dict[uuid.UUID, list[StatusReportRead]] = {}
    for row in rows:
        by_build.setdefault(row.build_id, []).append(StatusReportRead.model_validate(row))
    return by_build


async def _notifications(
    session: AsyncSession, builds: list[Build]
) -> dict[uuid.UUID, list[NotificationDeliveryRead]]:
    """One query for the page's builds whose jobs had notification rules; none if none had."""
    ids = [build.id for build in builds if build.notifies]
    if not ids:
        return {}
    rows = await session.scalars(
        sa.select(NotificationDelivery)
        .where(NotificationDelivery.build_id.in_(ids))
        .order_by(NotificationDelivery.created_at, NotificationDelivery.rule_index)
    )
    by_build: dict[uuid.UUID, list[NotificationDeliveryRead]] = {}
    for row in rows:
        by_build.setdefault(row.build_id, []).append(
            NotificationDeliveryRead(
                id=row.id,
                rule=row.rule_index,
                type=row.type,
                target=row.target,
                event=row.event,
                outcome=row.outcome,
                status=row.status,
                attempts=row.attempts,
                last_error=row.last_error,
                created_at=row.created_at,
                sent_at=row.sent_at,
            )
        )
    return by_build


def _with_dependencies(build: Build, steps: list[StepRead]) -> list[StepRead]:
    graph = step_dependencies(build.spec, [step.name for step in steps], build.step_graph)
    return [step.model_copy(update={"depends_on": graph[step.name]}) for step in steps]


async def _waiting_reasons(session: AsyncSession, builds: list[Build]) -> dict[uuid.UUID, str]:
    """For queued builds no worker holds: what keeps them waiting, besides busy workers."""
    waiting = [b for b in builds if b.status == BuildStatus.QUEUED and b.worker_id is None]
    if not waiting:
        return {}
    online = [
        (set(labels), runs_steps_without_image)
        for labels, runs_steps_without_image in await queries.online_worker_capabilities(session)
    ]
    jobs = {
        job.id: job
        for job in await session.scalars(
            sa.select(Job).where(Job.id.in_({b.job_id for b in waiting}))
        )
    }
    now = utcnow()
    reasons: dict[uuid.UUID, str] = {}
    for build in waiting:
        job = jobs.get(build.job_id)
        able = [runs for labels, runs in online if set(build.labels) <= labels]
        if build.awaiting_approval:
            reasons[build.id] = WAITING_FOR_APPROVAL
        elif not able:
            reasons[build.id] = (
                f"no online worker has the labels {', '.join(build.labels)}"
                if build.labels
                else "no worker is online"
            )
        elif build.needs_step_without_image and not any(able):
            reasons[build.id] = NO_WORKER_RUNS_STEPS_WITHOUT_IMAGE
        elif build.not_before is not None and build.not_before > now:
            reasons[build.id] = (
                f"attempt {build.attempt} waits until {build.not_before.isoformat()} (backoff)"
            )
        elif job is not None and job.max_concurrent_builds is not None:
            held = await queries.count_job_builds_holding_a_worker(session, job.id)
            if held >= job.max_concurrent_builds:
                reasons[build.id] = (
                    f"the job's limit of {job.max_concurrent_builds} concurrent builds is reached"
                )
    return reasons


async def get_build(ctx: ServerContext, build_id: uuid.UUID) -> BuildRead:
    async with ctx.db.transaction() as session:
        build = await queries.get_build(session, build_id)
        if build is None:
            raise NotFound(f"build {build_id} not found")
        return (await _to_read_models(session, [build]))[0]


async def list_builds(
    ctx: ServerContext,
    *,
    job_id: uuid.UUID | None = None,
    status: str | None = None,
    branch: str | None = None,
    worker_id: uuid.UUID | None = None,
    number: int | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> BuildList:
    query = sa.select(Build).order_by(Build.queued_at.desc(), Build.id.desc()).limit(limit + 1)
    if job_id is not None:
        query = query.where(Build.job_id == job_id)
    if status is not None:
        query = query.where(Build.status == status)
    if branch is not None:
        query = query.where(Build.branch == branch)
    if worker_id is not None:
        query = query.where(Build.worker_id == worker_id)
    if number is not None:
        query = query.where(Build.number == number)
    if cursor is not None:
        queued_at, last_id = _decode_cursor(cursor)
        query = query.where(
            sa.or_(
                Build.queued_at < queued_at,
                sa.and_(Build.queued_at == queued_at, Build.id < last_id),
            )
        )
    async with ctx.db.transaction() as session:
        builds = list(await session.scalars(query))
        page, more = builds[:limit], len(builds) > limit
        items = await _to_read_models(session, page)
    return BuildList(items=items, next_cursor=_encode_cursor(page[-1]) if more else None)
