"""Schedules: start the build of each due time of each job's schedules, exactly once, also
with several server processes on one database.

Every server process runs `start_due_schedules` in a loop (background.py). For each schedule
it takes the latest due time at or before now; if that is later than the last one handled
(the newest schedule_runs row of the schedule, or when the job's schedules last changed), it
inserts the row for it and queues the build in the same transaction. The row is unique per
job, schedule and due time: the process whose insert lands starts the build, another one's
insert finds it and does nothing. Only the latest due time is ever started, so a server that
was down starts one build for all it missed, not one each.

A round reads only the jobs that have schedules, and works out each schedule's latest and next
due time in one pass, in a worker thread: cron arithmetic costs ~0.3 ms a schedule, which for
a thousand schedules would hold the event loop (claims, live logs) for a third of a second."""

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import aliased

from solvyd.server.cron import DEFAULT_TIMEZONE, due_times, schedule_key
from solvyd.server.db.dialects import insert_ignoring_duplicates
from solvyd.server.db.models import Job, ScheduleRun
from solvyd.server.schemas.builds import TriggerRequest
from solvyd.server.services.builds.origin import CRON, BuildOrigin
from solvyd.server.services.builds.trigger import QueuedBuild, queue_build
from solvyd.server.services.context import ServerContext
from solvyd.server.services.errors import ServiceError

log = structlog.get_logger(__name__)

# Handled due times are kept this long (to see what ran), and the newest of each schedule
# always: it is where the next round picks up.
RUN_RETENTION = timedelta(days=30)


@dataclass
class ScheduleRound:
    """What one round did: the builds it started, and when the next schedule comes due."""

    started: list[uuid.UUID] = field(default_factory=list)
    next_due_at: datetime | None = None


# A job with no schedules holds the empty list, so its JSON text is "[]" on both databases
# (json.dumps writes it so, and PostgreSQL's json keeps the text as written).
_HAS_SCHEDULES = sa.cast(Job.schedules, sa.Text) != "[]"


@dataclass(frozen=True)
class _DueRun:
    job_id: uuid.UUID
    job_name: str
    schedule: dict[str, Any]
    key: str
    due_at: datetime


async def start_due_schedules(ctx: ServerContext, now: datetime) -> ScheduleRound:
    """Start the build of every schedule due at `now` that no process has started yet."""
    result = ScheduleRound()
    due = await _find_due(ctx, now, result)
    for run in due:
        try:
            build_id = await _start(ctx, run)
        except (SQLAlchemyError, ServiceError) as exc:
            # The job went away meanwhile, or the database failed: the next round sees.
            log.warning(
                "scheduled build not started",
                job=run.job_name,
                due_at=run.due_at.isoformat(),
                error=f"{type(exc).__name__}: {exc}",
            )
            continue
        if build_id is not None:
            result.started.append(build_id)
    return result


async def _find_due(ctx: ServerContext, now: datetime, result: ScheduleRound) -> list[_DueRun]:
    async with ctx.db.transaction() as session:
        jobs = list(
            await session.execute(
                sa.select(Job.id, Job.name, Job.schedules, Job.schedules_since).where(
                    _HAS_SCHEDULES
                )
            )
        )
        if not jobs:
            return []
        handled = await session.execute(
            sa.select(ScheduleRun.job_id, ScheduleRun.schedule_key, sa.func.max(ScheduleRun.due_at))
            .where(ScheduleRun.job_id.in_([row.id for row in jobs]))
            .group_by(ScheduleRun.job_id, ScheduleRun.schedule_key)
        )
        last_handled = {(job_id, key): due_at for job_id, key, due_at in handled}
    due, result.next_due_at = await asyncio.to_thread(_due_runs, jobs, last_handled, now)
    return due


def _due_runs(
    jobs: list[sa.Row[Any]], last_handled: dict[tuple[uuid.UUID, str], datetime], now: datetime
) -> tuple[list[_DueRun], datetime | None]:
    """The runs due at `now` that are not handled yet, and the soonest next due time. Pure
    computation: it runs in a worker thread."""
    due = []
    soonest: datetime | None = None
    for row in jobs:
        for schedule in row.schedules or ():
            key = schedule_key(schedule)
            expression, timezone = schedule["cron"], schedule.get("timezone") or DEFAULT_TIMEZONE
            try:
                latest, upcoming = due_times(expression, timezone, now)
            except (ValueError, KeyError) as exc:
                # Validated when stored; a time zone the server's tzdata lost since lands here.
                log.warning("schedule skipped", job=row.name, cron=expression, error=str(exc))
                continue
            if soonest is None or upcoming < soonest:
                soonest = upcoming
            since = [t for t in (row.schedules_since, last_handled.get((row.id, key))) if t]
            if not since or latest > max(since):
                due.append(_DueRun(row.id, row.name, schedule, key, latest))
    return due, soonest


async def _start(ctx: ServerContext, run: _DueRun) -> uuid.UUID | None:
    """Start `run`'s build unless another process has; the build's id if this one did."""
    queued: QueuedBuild | None = None
    async with ctx.db.transaction() as session:
        row = {"job_id": run.job_id, "schedule_key": run.key, "due_at": run.due_at}
        # On PostgreSQL a concurrent insert of the same row waits for the other transaction:
        # after its commit this one inserts nothing, after its rollback this one takes over.
        if not await insert_ignoring_duplicates(session, ScheduleRun, row, ctx.db.dialect):
            return None
        error = None
        try:
            # A savepoint: a build that fails to plan leaves nothing behind but the run's row,
            # which keeps the next rounds from trying the same due time again.
            async with session.begin_nested():
                queued = await queue_build(
                    session,
                    run.job_id,
                    # Built without the schema's checks: a branch stored before they
                    # existed is refused by queue_build (InvalidInput, recorded below), not
                    # raised through the whole round.
                    TriggerRequest.model_construct(
                        branch=run.schedule.get("branch"), env=run.schedule.get("env") or {}
                    ),
                    triggered_by=None,
                    trigger=CRON,
                    origin=BuildOrigin(event=CRON),
                )
        except ServiceError as exc:
            error = str(exc)
            log.warning(
                "scheduled build failed to plan",
                job=run.job_name,
                due_at=run.due_at.isoformat(),
                error=error,
            )
        await session.execute(
            sa.update(ScheduleRun)
            .where(
                ScheduleRun.job_id == run.job_id,
                ScheduleRun.schedule_key == run.key,
                ScheduleRun.due_at == run.due_at,
            )
            .values(build_id=queued.build.id if queued else None, error=error)
        )
    if queued is None:
        return None
    queued.wake(ctx.events)
    log.info(
        "scheduled build started",
        job=run.job_name,
        build=queued.build.number,
        due_at=run.due_at.isoformat(),
    )
    return queued.build.id


async def prune_schedule_runs(ctx: ServerContext, now: datetime) -> int:
    """Delete handled due times older than RUN_RETENTION, but never a schedule's newest.
    Returns how many went."""
    newer = aliased(ScheduleRun)
    newest = (
        sa.select(sa.func.max(newer.due_at))
        .where(newer.job_id == ScheduleRun.job_id, newer.schedule_key == ScheduleRun.schedule_key)
        .scalar_subquery()
    )
    async with ctx.db.transaction() as session:
        result = await session.execute(
            sa.delete(ScheduleRun).where(
                ScheduleRun.due_at < now - RUN_RETENTION, ScheduleRun.due_at < newest
            )
        )
    return int(getattr(result, "rowcount", 0) or 0)
