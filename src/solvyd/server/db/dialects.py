"""Where PostgreSQL and SQLite differ: the claim query, idempotent inserts, how a driver says
that a value was refused, and the arithmetic of times and percentiles in SQL."""

import json
import uuid
from collections import defaultdict
from collections.abc import Collection, Sequence
from datetime import date, datetime
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DataError, DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from solvyd.server.db import queries
from solvyd.server.db.models import Base, Build, Job


def is_refused_value(exc: DBAPIError) -> bool:
    """The database (or its driver) refused a value it was given, a "data exception" (SQLSTATE
    class 22): a NUL character in a text, which PostgreSQL cannot store, or a number beyond its
    column's type. Not a fault of the database itself."""
    if isinstance(exc, DataError):
        return True
    # SQLAlchemy's asyncpg adapter files asyncpg's DataError (raised by the server, or by
    # asyncpg itself when an argument does not fit its type) under its generic Error.
    return isinstance(exc.orig, asyncpg.exceptions.DataError) or isinstance(
        getattr(exc.orig, "__cause__", None), asyncpg.exceptions.DataError
    )


def _labels_subset_of(worker_labels: list[str], dialect: str) -> sa.TextClause:
    """The build's required labels are all among the worker's labels."""
    if dialect == "postgresql":
        return sa.text("CAST(builds.labels AS jsonb) <@ CAST(:worker_labels AS jsonb)").bindparams(
            worker_labels=json.dumps(worker_labels)
        )
    return sa.text(
        "NOT EXISTS (SELECT 1 FROM json_each(builds.labels) AS required"
        " WHERE required.value NOT IN (SELECT value FROM json_each(:worker_labels)))"
    ).bindparams(worker_labels=json.dumps(worker_labels))


def _waiting_for_a_worker(now: datetime, runs_steps_without_image: bool) -> sa.ColumnElement[bool]:
    """Queued, free, not awaiting an approval, past its backoff, and runnable by the worker's
    executor. A worker that runs every kind of step adds no condition, so the common claim
    costs nothing more."""
    waiting = sa.and_(
        Build.status == "queued",
        Build.worker_id.is_(None),
        Build.awaiting_approval.is_(False),
        sa.or_(Build.not_before.is_(None), Build.not_before <= now),
    )
    if runs_steps_without_image:
        return waiting
    return sa.and_(waiting, Build.needs_step_without_image.is_(False))


async def next_waiting_build_of_limited_job(
    session: AsyncSession, job_id: uuid.UUID, now: datetime
) -> Build | None:
    """The job's oldest build waiting for a worker, if the job has a concurrency limit (only
    then can a slot it frees make one claimable); None otherwise."""
    query = (
        sa.select(Build)
        .join(Job, Job.id == Build.job_id)
        .where(Build.job_id == job_id, Job.max_concurrent_builds.is_not(None))
        .where(_waiting_for_a_worker(now, runs_steps_without_image=True))
        .order_by(Build.queued_at, Build.number)
        .limit(1)
    )
    build: Build | None = await session.scalar(query)
    return build


def job_load() -> sa.Subquery:
    """Per job, how many of its builds hold a worker (claimed or running)."""
    return (
        sa.select(Build.job_id, sa.func.count().label("active"))
        .where(queries.holds_a_worker())
        .group_by(Build.job_id)
        .subquery("job_load")
    )


async def lock_next_claimable_build(
    session: AsyncSession,
    worker_labels: list[str],
    dialect: str,
    now: datetime,
    *,
    runs_steps_without_image: bool,
    skip: Collection[uuid.UUID] = (),
) -> uuid.UUID | None:
    """The build the worker should run next, locked for this transaction.

    Order: the job's priority (highest first), then the job with the fewest builds holding a
    worker (so one job's thousand queued builds cannot starve another job's one), then the
    oldest. Builds with a step that names no image go only to a worker that runs such steps.
    Jobs at their `max_concurrent_builds` are passed over; the caller re-checks that
    limit under the job's lock, because two claimers may race for one job's last slot.

    PostgreSQL: FOR UPDATE OF builds SKIP LOCKED, so racing claimers each take a different row.
    SQLite: every transaction begins IMMEDIATE (db/session.py), so claims are serialised.
    """
    load = job_load()
    active = sa.func.coalesce(load.c.active, 0)
    query = (
        sa.select(Build.id)
        .join(Job, Job.id == Build.job_id)
        .outerjoin(load, load.c.job_id == Build.job_id)
        .where(_waiting_for_a_worker(now, runs_steps_without_image))
        .where(_labels_subset_of(worker_labels, dialect))
        .where(sa.or_(Job.max_concurrent_builds.is_(None), active < Job.max_concurrent_builds))
        .order_by(Job.priority.desc(), active, Build.queued_at, Build.number)
        .limit(1)
    )
    if skip:
        query = query.where(Build.id.not_in(list(skip)))
    if dialect == "postgresql":
        query = query.with_for_update(skip_locked=True, of=Build)
    result: uuid.UUID | None = await session.scalar(query)
    return result


async def lock_job_unless_busy(session: AsyncSession, job_id: uuid.UUID, dialect: str) -> bool:
    """Lock the job row for this transaction; False if another transaction holds it.

    Claims never wait for a job's lock: a trigger holding it may itself be waiting for a build
    row this claim has locked."""
    query = sa.select(Job.id).where(Job.id == job_id)
    if dialect == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return await session.scalar(query) is not None


async def count_claimable_builds(
    session: AsyncSession,
    worker_labels: list[str],
    dialect: str,
    now: datetime,
    *,
    runs_steps_without_image: bool,
) -> int:
    query = (
        sa.select(sa.func.count())
        .select_from(Build)
        .where(_waiting_for_a_worker(now, runs_steps_without_image))
        .where(_labels_subset_of(worker_labels, dialect))
    )
    return int(await session.scalar(query) or 0)


async def insert_ignoring_duplicates(
    session: AsyncSession, model: type[Base], row: dict[str, Any], dialect: str
) -> bool:
    """Insert a row unless it breaks a unique constraint; True if it was inserted."""
    factory = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = factory(model).values(**row).on_conflict_do_nothing()
    result = await session.execute(statement)
    return bool(getattr(result, "rowcount", 0))


def utc_date(moment: sa.SQLColumnExpression[datetime], dialect: str) -> sa.ColumnElement[date]:
    """The UTC date of a time. SQLite holds times as UTC text (`YYYY-MM-DD HH:MM:SS.ffffff`,
    db/types.py), whose date() is that date."""
    if dialect == "postgresql":
        return sa.cast(sa.func.timezone("UTC", moment), sa.Date)
    return sa.func.date(moment, type_=sa.Date)


def seconds_between(
    start: sa.SQLColumnExpression[datetime],
    end: sa.SQLColumnExpression[datetime | None],
    dialect: str,
) -> sa.ColumnElement[float]:
    """`end - start` in seconds, to the microsecond, as Python's `timedelta.total_seconds()`."""
    if dialect == "postgresql":
        # date_part is double precision; EXTRACT's numeric costs twice the time over a window.
        return sa.func.date_part("epoch", end - start, type_=sa.Float)
    # SQLite's time functions keep milliseconds (and round .9995 s up to the next second):
    # they read the whole seconds of the text, the microseconds come from its fraction.
    seconds = sa.func.round(
        (
            sa.func.julianday(sa.func.substr(end, 1, 19))
            - sa.func.julianday(sa.func.substr(start, 1, 19))
        )
        * 86400
    )
    microseconds = seconds * 1_000_000 + _sqlite_microsecond(end) - _sqlite_microsecond(start)
    return sa.cast(microseconds, sa.Float(asdecimal=False)) / 1e6


def _sqlite_microsecond(moment: sa.SQLColumnExpression[datetime | None]) -> sa.ColumnElement[Any]:
    return sa.func.round(sa.cast(sa.func.substr(moment, 20), sa.Float) * 1_000_000)


def greatest(value: sa.ColumnElement[float], other: float, dialect: str) -> sa.ColumnElement[float]:
    """The greater of two values (SQLite's max() of two arguments)."""
    if dialect == "postgresql":
        return sa.func.greatest(value, other, type_=sa.Float)
    return sa.func.max(value, other, type_=sa.Float)


async def percentiles(
    session: AsyncSession, values: sa.Subquery, pcts: Sequence[int], dialect: str
) -> dict[Any, list[float]]:
    """Per `key` of `values` (a query of columns `key` and `value`), the `pcts`-th percentiles
    of its values, interpolated between them as `statistics.quantiles(method="inclusive")`
    and PostgreSQL's `percentile_cont` do (the 50th is the median). Keys without values are
    missing; the database sends one row per key, or a few, never the values themselves.

    SQLite has no percentile function: its window functions rank each key's values and count
    them, it sends only the ranks each percentile lies between, and they are interpolated here.
    """
    if dialect == "postgresql":
        rows = await session.execute(
            sa.select(
                values.c.key,
                *(sa.func.percentile_cont(pct / 100).within_group(values.c.value) for pct in pcts),
            ).group_by(values.c.key)
        )
        return {key: [float(value) for value in found] for key, *found in rows}
    ranked = sa.select(
        values.c.key,
        values.c.value,
        sa.func.row_number()
        .over(partition_by=values.c.key, order_by=values.c.value)
        .label("value_rank"),
        sa.func.count().over(partition_by=values.c.key).label("value_count"),
    ).subquery()
    # The percentile lies between the values ranked j + 1 and j + 2, j = pct * (count - 1) // 100.
    lower_ranks = [pct * (ranked.c.value_count - 1) // 100 + 1 for pct in pcts]
    rows = await session.execute(
        sa.select(ranked.c.key, ranked.c.value_count, ranked.c.value_rank, ranked.c.value).where(
            sa.or_(*(ranked.c.value_rank.between(rank, rank + 1) for rank in lower_ranks))
        )
    )
    counts: dict[Any, int] = {}
    ranked_values: dict[Any, dict[int, float]] = defaultdict(dict)
    for key, count, rank, value in rows:
        counts[key] = count
        ranked_values[key][rank] = value
    return {
        key: [interpolate(count, ranked_values[key], pct) for pct in pcts]
        for key, count in counts.items()
    }


def interpolate(count: int, ranked_values: dict[int, float], pct: int) -> float:
    """The `pct`-th percentile of `count` sorted values given those ranked (from 1) around it,
    by the arithmetic of `statistics.quantiles(n=100, method="inclusive")`."""
    below, weight = divmod(pct * (count - 1), 100)
    low = ranked_values[below + 1]
    high = ranked_values.get(below + 2, low)  # one value: no rank above it
    return float((low * (100 - weight) + high * weight) / 100)
