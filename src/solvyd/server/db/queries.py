"""Queries shared by several use cases. They take a session and flush; they never commit."""

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from solvyd.server.db.models import Build, BuildLog, BuildStep, Worker

ACTIVE_STATUSES = ("queued", "running")


async def get_build(
    session: AsyncSession, build_id: uuid.UUID, *, lock: bool = False
) -> Build | None:
    query = sa.select(Build).where(Build.id == build_id)
    if lock:
        query = query.with_for_update()
    result: Build | None = await session.scalar(query)
    return result


def holds_a_worker() -> sa.ColumnElement[bool]:
    """A build that is running, or claimed and about to run."""
    return sa.or_(
        Build.status == "running", sa.and_(Build.status == "queued", Build.worker_id.is_not(None))
    )


async def count_job_builds_holding_a_worker(session: AsyncSession, job_id: uuid.UUID) -> int:
    query = (
        sa.select(sa.func.count())
        .select_from(Build)
        .where(Build.job_id == job_id, holds_a_worker())
    )
    return int(await session.scalar(query) or 0)


async def count_worker_active_builds(session: AsyncSession, worker_id: uuid.UUID) -> int:
    query = (
        sa.select(sa.func.count())
        .select_from(Build)
        .where(Build.worker_id == worker_id, Build.status.in_(ACTIVE_STATUSES))
    )
    return int(await session.scalar(query) or 0)


async def online_worker_capabilities(session: AsyncSession) -> list[tuple[list[str], bool]]:
    """Of each worker that takes builds now (online, not draining): its labels, and whether it
    runs steps that name no image."""
    rows = await session.execute(
        sa.select(Worker.labels, Worker.runs_steps_without_image).where(Worker.status == "online")
    )
    return [(list(labels), bool(runs)) for labels, runs in rows]


async def worker_builds(
    session: AsyncSession, worker_id: uuid.UUID, statuses: Sequence[str]
) -> list[Build]:
    query = (
        sa.select(Build)
        .where(Build.worker_id == worker_id, Build.status.in_(statuses))
        .order_by(Build.queued_at)
    )
    return list(await session.scalars(query))


async def finish_open_steps(session: AsyncSession, build: Build, step_status: str) -> None:
    """Give every step that had not finished the status its build's end implies."""
    await session.execute(
        sa.update(BuildStep)
        .where(BuildStep.build_id == build.id, BuildStep.status.in_(("pending", "running")))
        .values(status=step_status, completed_at=build.completed_at)
    )


async def reset_steps(session: AsyncSession, build_id: uuid.UUID) -> None:
    await session.execute(
        sa.update(BuildStep)
        .where(BuildStep.build_id == build_id)
        .values(
            status="pending", exit_code=None, error_message=None, started_at=None, completed_at=None
        )
    )


async def delete_logs(session: AsyncSession, build_id: uuid.UUID) -> None:
    """A retried attempt starts its log afresh (its seq numbers start at 0 again)."""
    await session.execute(sa.delete(BuildLog).where(BuildLog.build_id == build_id))
