"""Moving a build between states: the only code that writes a build's status."""

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from solvyd.protocol import BuildStatus
from solvyd.server.db import queries
from solvyd.server.db.models import Build
from solvyd.server.state import check_build_transition, step_status_for_unfinished
from solvyd.shared.clock import utcnow


def mark_running(build: Build, started_at: datetime | None = None) -> None:
    check_build_transition(BuildStatus(build.status), BuildStatus.RUNNING)
    build.status = BuildStatus.RUNNING
    build.started_at = started_at or utcnow()


async def finish(
    session: AsyncSession,
    build: Build,
    status: BuildStatus,
    *,
    exit_code: int | None = None,
    error_message: str | None = None,
    completed_at: datetime | None = None,
    duration_seconds: float | None = None,
) -> None:
    check_build_transition(BuildStatus(build.status), status)
    build.status = status
    build.completed_at = completed_at or utcnow()
    build.exit_code = exit_code
    build.error_message = error_message
    if duration_seconds is None and build.started_at is not None:
        duration_seconds = max(0.0, (build.completed_at - build.started_at).total_seconds())
    build.duration_seconds = duration_seconds
    await queries.finish_open_steps(session, build, step_status_for_unfinished(status))


def unassign(build: Build) -> None:
    """Hand a claimed but never started build back to the queue."""
    build.worker_id = None
    build.claimed_at = None


async def requeue_or_fail_lost(
    session: AsyncSession, build: Build, max_retries: int, reason: str
) -> BuildStatus:
    """A build whose worker vanished: run it again if retries remain, else end it `error`."""
    if build.status == BuildStatus.QUEUED:
        unassign(build)
        return BuildStatus.QUEUED
    if build.attempt <= max_retries:
        check_build_transition(BuildStatus(build.status), BuildStatus.QUEUED)
        build.status = BuildStatus.QUEUED
        build.attempt += 1
        build.started_at = None
        build.queued_at = utcnow()
        unassign(build)
        await queries.reset_steps(session, build.id)
        await queries.delete_logs(session, build.id)
        return BuildStatus.QUEUED
    await finish(session, build, BuildStatus.ERROR, error_message=reason)
    return BuildStatus.ERROR
