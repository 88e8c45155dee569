"""The numbers of a dashboard: builds and workers now, and for a window of days how long builds
waited in the queue and how they ended, per job and per day.

It scans the window's builds (only the few columns it needs: no specs, steps or logs) and
computes medians and percentiles here with `statistics`, alike on SQLite and PostgreSQL. That
is cheap for the builds of weeks; the window is capped at 90 days for this reason.
"""

import statistics
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from solvyd.protocol import BuildStatus
from solvyd.server.db.models import Build, Job, Worker
from solvyd.server.schemas.stats import DayStats, JobStats, Stats
from solvyd.server.services.context import ServerContext
from solvyd.shared.clock import utcnow

MAX_DAYS = 90
SUCCEEDED = frozenset({BuildStatus.SUCCESS.value})
# An infrastructure error is no success either; a cancelled build says nothing of the code.
FAILED = frozenset({BuildStatus.FAILURE.value, BuildStatus.ERROR.value})


@dataclass(frozen=True)
class WindowBuild:
    job_id: uuid.UUID
    status: str
    queued_at: datetime
    started_at: datetime | None
    duration_seconds: float | None


@dataclass(frozen=True)
class LastBuild:
    id: uuid.UUID
    status: str


async def get_stats(ctx: ServerContext, days: int) -> Stats:
    first_day = window_start(utcnow(), days)
    since = datetime.combine(first_day, time.min, tzinfo=UTC)
    async with ctx.db.transaction() as session:
        active_rows = await session.execute(
            sa.select(Build.status, sa.func.count())
            .where(Build.status.in_((BuildStatus.QUEUED, BuildStatus.RUNNING)))
            .group_by(Build.status)
        )
        active = {status: count for status, count in active_rows}
        workers = [
            (status, running)
            for status, running in await session.execute(
                sa.select(Worker.status, Worker.current_builds)
            )
        ]
        rows = await session.execute(
            sa.select(
                Build.job_id,
                Build.status,
                Build.queued_at,
                Build.started_at,
                Build.duration_seconds,
            ).where(Build.queued_at >= since)
        )
        window = [WindowBuild(*row) for row in rows]
        jobs = [
            (job_id, name)
            for job_id, name in await session.execute(
                sa.select(Job.id, Job.name).order_by(Job.name)
            )
        ]
        last = await _last_builds(session)
    queue_seconds = [
        max(0.0, (build.started_at - build.queued_at).total_seconds())
        for build in window
        if build.started_at is not None
    ]
    return Stats(
        days=days,
        builds_running=active.get(BuildStatus.RUNNING, 0),
        builds_queued=active.get(BuildStatus.QUEUED, 0),
        workers_online=sum(status == "online" for status, _ in workers),
        workers_busy=sum(status == "online" and running > 0 for status, running in workers),
        workers_draining=sum(status == "draining" for status, _ in workers),
        workers_offline=sum(status == "offline" for status, _ in workers),
        queue_seconds_p50=percentile(queue_seconds, 50),
        queue_seconds_p95=percentile(queue_seconds, 95),
        jobs=job_stats(jobs, window, last),
        daily=daily_counts(window, first_day, days),
    )


async def _last_builds(session: AsyncSession) -> dict[uuid.UUID, LastBuild]:
    """Each job's newest build (the highest number), whenever it was queued."""
    newest = (
        sa.select(Build.job_id, sa.func.max(Build.number).label("number"))
        .group_by(Build.job_id)
        .subquery()
    )
    rows = await session.execute(
        sa.select(Build.job_id, Build.id, Build.status).join(
            newest, sa.and_(Build.job_id == newest.c.job_id, Build.number == newest.c.number)
        )
    )
    return {job_id: LastBuild(build_id, status) for job_id, build_id, status in rows}


def window_start(now: datetime, days: int) -> date:
    """The first UTC date of a window of `days` dates that ends today."""
    return now.astimezone(UTC).date() - timedelta(days=days - 1)


def percentile(values: Sequence[float], pct: int) -> float | None:
    """The `pct`-th percentile, interpolated between the values (the 50th is the median)."""
    if not values:
        return None
    if len(values) == 1:
        return float(values[0])
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1]


@dataclass
class _Tally:
    builds: int = 0
    succeeded: int = 0
    failed: int = 0
    durations: list[float] = field(default_factory=list)


def job_stats(
    jobs: Iterable[tuple[uuid.UUID, str]],
    window: Iterable[WindowBuild],
    last: dict[uuid.UUID, LastBuild],
) -> list[JobStats]:
    """One entry per job of `jobs`, in their order, builds or not."""
    tallies: dict[uuid.UUID, _Tally] = {}
    for build in window:
        tally = tallies.setdefault(build.job_id, _Tally())
        tally.builds += 1
        succeeded, failed = build.status in SUCCEEDED, build.status in FAILED
        tally.succeeded += succeeded
        tally.failed += failed
        if (succeeded or failed) and build.duration_seconds is not None:
            tally.durations.append(build.duration_seconds)
    answer = []
    for job_id, name in jobs:
        tally = tallies.get(job_id, _Tally())
        ended = tally.succeeded + tally.failed
        newest = last.get(job_id)
        answer.append(
            JobStats(
                job_id=job_id,
                job_name=name,
                builds=tally.builds,
                succeeded=tally.succeeded,
                failed=tally.failed,
                success_rate=tally.succeeded / ended if ended else None,
                median_duration_seconds=(
                    statistics.median(tally.durations) if tally.durations else None
                ),
                last_status=newest.status if newest else None,
                last_build_id=newest.id if newest else None,
            )
        )
    return answer


def daily_counts(window: Iterable[WindowBuild], first_day: date, days: int) -> list[DayStats]:
    """One entry per UTC date from `first_day` on, `days` of them, zeros included."""
    counts = {
        first_day + timedelta(days=offset): DayStats(
            date=first_day + timedelta(days=offset), success=0, failure=0, other=0
        )
        for offset in range(days)
    }
    for build in window:
        day = counts.get(build.queued_at.astimezone(UTC).date())
        if day is None:
            continue  # queued after today: the database's clock is ahead of ours
        if build.status in SUCCEEDED:
            day.success += 1
        elif build.status in FAILED:
            day.failure += 1
        else:
            day.other += 1
    return list(counts.values())
