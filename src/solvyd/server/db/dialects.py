"""Where PostgreSQL and SQLite differ: the claim query and idempotent inserts."""

import json
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from solvyd.server.db.models import Base, Build


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


async def lock_next_claimable_build(
    session: AsyncSession, worker_labels: list[str], dialect: str
) -> uuid.UUID | None:
    """The oldest queued, unassigned build the worker can run, locked for this transaction.

    PostgreSQL: FOR UPDATE SKIP LOCKED, so racing claimers each take a different row.
    SQLite: every transaction begins IMMEDIATE (db/session.py), so claims are serialised.
    """
    query = (
        sa.select(Build.id)
        .where(Build.status == "queued", Build.worker_id.is_(None))
        .where(_labels_subset_of(worker_labels, dialect))
        .order_by(Build.queued_at, Build.number)
        .limit(1)
    )
    if dialect == "postgresql":
        query = query.with_for_update(skip_locked=True)
    result: uuid.UUID | None = await session.scalar(query)
    return result


async def count_claimable_builds(
    session: AsyncSession, worker_labels: list[str], dialect: str
) -> int:
    query = (
        sa.select(sa.func.count())
        .select_from(Build)
        .where(Build.status == "queued", Build.worker_id.is_(None))
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
