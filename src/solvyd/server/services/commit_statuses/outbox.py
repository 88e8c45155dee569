"""Recording a build's new state for its commit status, in the transaction that changed it.

The sender (`sender.py`) sends rows after commit. One row per build and context: a newer state
overwrites the row (and bumps its version), so an unsent older state is never sent after a
newer one, and a report in flight for an older state does not mark the newer one sent."""

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from solvyd.server.db.models import Build, CommitStatusReport, Job
from solvyd.server.services.commit_statuses.forges import describe
from solvyd.shared.clock import utcnow

# Set on a session that recorded a report: the sender wakes once that session commits.
ADDED = "commit_status_added"


def context_for(job_name: str) -> str:
    return f"solvyd/{job_name}"


async def record_build_state(
    session: AsyncSession, build: Build, job: Job | None = None, *, new_build: bool = False
) -> None:
    """Queue a report of `build`'s current state, if its job reports to a forge. Costs nothing
    (no query) for a build whose job has no forge: `reports_status` is on the row.

    `new_build`: the build was created in this transaction, so it has no row yet, and the row
    is added without reading or locking anything (triggering is the hot path)."""
    if not build.reports_status or not build.commit_sha:
        # A build queued without a sha is reported once the agent tells the sha it resolved.
        return
    if job is None or job.id != build.job_id:
        job = await session.get(Job, build.job_id)
    if job is None or not job.forge:
        return
    context = context_for(job.name)
    description = describe(build.status, build.number, build.error_message)
    now = utcnow()
    row = None
    if not new_build:
        # Locked: not every caller holds the build's row (a lost worker's builds are read
        # unlocked), and the version read here must be the one this transaction bumps.
        row = await session.scalar(
            sa.select(CommitStatusReport)
            .where(CommitStatusReport.build_id == build.id, CommitStatusReport.context == context)
            .with_for_update()
        )
    if row is None:
        session.add(
            CommitStatusReport(
                build_id=build.id,
                forge=str(job.forge["type"]),
                context=context,
                commit_sha=build.commit_sha,
                state=str(build.status),
                description=description,
                status="pending",
                version=1,
                attempts=0,
                next_attempt_at=now,
            )
        )
    elif row.state == build.status and row.commit_sha == build.commit_sha:
        return  # nothing new to say
    else:
        row.forge = str(job.forge["type"])
        row.commit_sha = build.commit_sha
        row.state = str(build.status)
        row.description = description
        row.status = "pending"
        row.version += 1
        row.attempts = 0
        row.first_attempt_at = None
        # A row in flight is sent again once its sender answers (see sender.py); others now.
        row.next_attempt_at = now
        row.last_error = None
        row.response_status = None
        row.response_body = None
    session.info[ADDED] = True
