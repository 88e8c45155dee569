"""Which waiting claims a change to the queue wakes: for each build that became claimable,
one claim of a worker that can run it (`claim_waiters.py`), not every waiting claim."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from solvyd.protocol import BuildStatus
from solvyd.server.claim_waiters import ClaimableBuild, worker_slot_topic
from solvyd.server.db import dialects
from solvyd.server.db.models import Build
from solvyd.server.events import EventHub
from solvyd.shared.clock import utcnow


def claimable(build: Build) -> ClaimableBuild | None:
    """The build, if a worker may claim it now: queued, free, approved, past its backoff."""
    if (
        build.status != BuildStatus.QUEUED
        or build.worker_id is not None
        or build.awaiting_approval
        or (build.not_before is not None and build.not_before > utcnow())
    ):
        return None
    return ClaimableBuild.of(build.id, build.labels, build.needs_step_without_image)


async def freed_job_slot(session: AsyncSession, job_id: uuid.UUID) -> ClaimableBuild | None:
    """A build of the job stopped holding a worker: the job's next build, if the job's
    concurrency limit held it back."""
    build = await dialects.next_waiting_build_of_limited_job(session, job_id, utcnow())
    if build is None:
        return None
    # Selected as waiting for a worker, so claimable now.
    return ClaimableBuild.of(build.id, build.labels, build.needs_step_without_image)


def wake_claims(
    events: EventHub,
    builds: list[ClaimableBuild | None],
    *,
    freed_worker: uuid.UUID | None = None,
) -> None:
    """After the commit: wake a claim for each of `builds` that is claimable, and the claims
    of `freed_worker` (a slot of it is free) that could take nothing."""
    for build in builds:
        if build is not None:
            events.notify(build.topic())
    if freed_worker is not None:
        events.notify(worker_slot_topic(freed_worker))
