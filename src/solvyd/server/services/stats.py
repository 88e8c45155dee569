"""The numbers of a dashboard: builds and workers now, and for a window of days how long builds
waited in the queue and how they ended, per job and per day.

The database computes them: counts grouped by job and by UTC date, and the percentiles
(db/dialects.py: PostgreSQL's `percentile_cont`, on SQLite ranks by window functions), so the
server receives the answer, a few rows per job and per day, never the window's builds. Each
job's newest build is one lookup in its (job_id, number) index.
"""

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from solvyd.protocol import BuildStatus
from solvyd.server.db import dialects
from solvyd.server.db.models import Build, Job, Worker
from solvyd.server.schemas.stats import DayStats, JobStats, Stats
from solvyd.server.services.context import ServerContext
from solvyd.shared.clock import utcnow

MAX_DAYS = 90
# Connections the pool must have free for a stats call to take three at once.
FAN_OUT_SPARE = 8
T = TypeVar("T")
SUCCEEDED = (BuildStatus.SUCCESS.value,)
# An infrastructure error is no success either; a cancelled build says nothing of the code.
FAILED = (BuildStatus.FAILURE.value, BuildStatus.ERROR.value)


async def get_stats(ctx: ServerContext, days: int) -> Stats:
    first_day = window_start(utcnow(), days)
    in_window = Build.queued_at >= datetime.combine(first_day, time.min, tzinfo=UTC)
    dialect = ctx.db.dialect
    # On PostgreSQL the three passes over the window (queue times, jobs, days) cost about the
    # same (50-70 ms at 100,000 builds on a 2-core machine): at once, each on its own
    # connection and so its own core, the call takes about the longest instead of their sum.
    # Only while the pool has connections to spare: dashboards must not starve agents' reports.
    # The passes read separate snapshots: a build that ends meanwhile may count in one figure
    # and not yet in another, as on any live dashboard.
    fan_out = dialect == "postgresql" and ctx.db.spare_connections() >= FAN_OUT_SPARE
    async with ctx.db.read() as session:
        active_rows = await session.execute(
            sa.select(Build.status, sa.func.count())
            .where(Build.status.in_((BuildStatus.QUEUED, BuildStatus.RUNNING)))
            .group_by(Build.status)
        )
        active = {status: count for status, count in active_rows}
        is_online = Worker.status == "online"
        online, busy, draining, offline = (
            await session.execute(
                sa.select(
                    sa.func.count().filter(is_online),
                    sa.func.count().filter(is_online, Worker.current_builds > 0),
                    sa.func.count().filter(Worker.status == "draining"),
                    sa.func.count().filter(Worker.status == "offline"),
                )
            )
        ).one()
        if not fan_out:
            queue_p50, queue_p95 = await queue_percentiles(session, in_window, dialect)
            jobs = await job_stats(session, in_window, dialect)
            daily = await daily_counts(session, in_window, first_day, days, dialect)
    if fan_out:
        (queue_p50, queue_p95), jobs, daily = await _window_passes_at_once(
            ctx, in_window, first_day, days
        )
    return Stats(
        days=days,
        builds_running=active.get(BuildStatus.RUNNING, 0),
        builds_queued=active.get(BuildStatus.QUEUED, 0),
        workers_online=online,
        workers_busy=busy,
        workers_draining=draining,
        workers_offline=offline,
        queue_seconds_p50=queue_p50,
        queue_seconds_p95=queue_p95,
        jobs=jobs,
        daily=daily,
    )


async def _window_passes_at_once(
    ctx: ServerContext, in_window: sa.ColumnElement[bool], first_day: date, days: int
) -> tuple[tuple[float | None, float | None], list[JobStats], list[DayStats]]:
    dialect = ctx.db.dialect
    try:
        # A pass that fails cancels the others, which give their connections back at once.
        async with asyncio.TaskGroup() as passes:
            queue = passes.create_task(
                _in_own_read(ctx, lambda session: queue_percentiles(session, in_window, dialect))
            )
            per_job = passes.create_task(
                _in_own_read(ctx, lambda session: job_stats(session, in_window, dialect))
            )
            per_day = passes.create_task(
                _in_own_read(
                    ctx,
                    lambda session: daily_counts(session, in_window, first_day, days, dialect),
                )
            )
    except ExceptionGroup as failed:
        # The first failure as itself, as the passes one after another would raise it: the
        # API's error handlers know a database outage, not a group of them.
        raise failed.exceptions[0] from None
    return queue.result(), per_job.result(), per_day.result()


async def _in_own_read(ctx: ServerContext, run: Callable[[AsyncSession], Awaitable[T]]) -> T:
    async with ctx.db.read() as session:
        return await run(session)


def window_start(now: datetime, days: int) -> date:
    """The first UTC date of a window of `days` dates that ends today."""
    return now.astimezone(UTC).date() - timedelta(days=days - 1)


async def queue_percentiles(
    session: AsyncSession, in_window: sa.ColumnElement[bool], dialect: str
) -> tuple[float | None, float | None]:
    """The 50th and 95th percentiles of the seconds from queued to started, over the builds of
    the window that started; None with none."""
    waited = dialects.seconds_between(Build.queued_at, Build.started_at, dialect)
    found = await dialects.percentiles(
        session,
        sa.select(
            sa.null().label("key"),
            # A worker's clock behind the server's does not make a build wait negative time.
            dialects.greatest(waited, 0.0, dialect).label("value"),
        )
        .where(in_window, Build.started_at.is_not(None))
        .subquery(),
        (50, 95),
        dialect,
    )
    p50, p95 = found.get(None, (None, None))
    return p50, p95


async def job_stats(
    session: AsyncSession, in_window: sa.ColumnElement[bool], dialect: str
) -> list[JobStats]:
    """One entry per job, by name, builds in the window or not."""
    succeeded, failed = Build.status.in_(SUCCEEDED), Build.status.in_(FAILED)
    timed = sa.and_(succeeded | failed, Build.duration_seconds.is_not(None))
    figures = [
        sa.func.count().label("builds"),
        sa.func.count().filter(succeeded).label("succeeded"),
        sa.func.count().filter(failed).label("failed"),
    ]
    medians: dict[Any, list[float]] = {}
    counts: sa.FromClause
    median_column: sa.ColumnElement[Any]
    if dialect == "postgresql":
        # Per job, its own range of (job_id, queued_at) INCLUDE (status, duration_seconds):
        # the values of each median come sorted by job already, where one pass over the
        # window would sort all of them first (half the cost of the whole call).
        counts = (
            sa.select(
                *figures,
                sa.func.percentile_cont(0.5)
                .within_group(Build.duration_seconds)
                .filter(timed)
                .label("median"),
            )
            .where(Build.job_id == Job.id, in_window)
            .lateral()
        )
        joined: sa.FromClause = sa.join(Job, counts, sa.true(), isouter=True)
        median_column = counts.c.median
    else:
        counts = (
            sa.select(Build.job_id, *figures).where(in_window).group_by(Build.job_id).subquery()
        )
        joined = sa.join(Job, counts, counts.c.job_id == Job.id, isouter=True)
        median_column = sa.null()
        medians = await dialects.percentiles(
            session,
            sa.select(Build.job_id.label("key"), Build.duration_seconds.label("value"))
            .where(in_window, timed)
            .subquery(),
            (50,),
            dialect,
        )
    # The newest build: the highest number, whenever it was queued; one index lookup per job.
    newest_id = (
        sa.select(Build.id)
        .where(Build.job_id == Job.id)
        .order_by(Build.number.desc())
        .limit(1)
        .scalar_subquery()
    )
    newest = aliased(Build)
    rows = await session.execute(
        sa.select(
            Job.id,
            Job.name,
            counts.c.builds,
            counts.c.succeeded,
            counts.c.failed,
            median_column,
            newest.id,
            newest.status,
        )
        .select_from(joined)
        .outerjoin(newest, newest.id == newest_id)
        .order_by(Job.name)
    )
    answer = []
    for job_id, name, builds, job_succeeded, job_failed, median, last_id, last_status in rows:
        ended = (job_succeeded or 0) + (job_failed or 0)
        if median is None:
            [median] = medians.get(job_id, [None])
        answer.append(
            JobStats(
                job_id=job_id,
                job_name=name,
                builds=builds or 0,
                succeeded=job_succeeded or 0,
                failed=job_failed or 0,
                success_rate=job_succeeded / ended if ended else None,
                median_duration_seconds=median,
                last_status=last_status,
                last_build_id=last_id,
            )
        )
    return answer


async def daily_counts(
    session: AsyncSession,
    in_window: sa.ColumnElement[bool],
    first_day: date,
    days: int,
    dialect: str,
) -> list[DayStats]:
    """One entry per UTC date from `first_day` on, `days` of them, zeros included."""
    day = dialects.utc_date(Build.queued_at, dialect).label("day")
    succeeded, failed = Build.status.in_(SUCCEEDED), Build.status.in_(FAILED)
    rows = await session.execute(
        sa.select(
            day,
            sa.func.count().filter(succeeded),
            sa.func.count().filter(failed),
            sa.func.count().filter(~(succeeded | failed)),
        )
        .where(in_window)
        .group_by(day)
    )
    counted = {
        found: DayStats(date=found, success=success, failure=failure, other=other)
        for found, success, failure, other in rows
    }
    # A date after today (the database's clock ahead of ours) is left out.
    dates = (first_day + timedelta(days=offset) for offset in range(days))
    return [counted.get(on, DayStats(date=on, success=0, failure=0, other=0)) for on in dates]
