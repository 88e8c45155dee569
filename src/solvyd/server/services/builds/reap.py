"""Reap: workers that stopped heartbeating go offline, and their builds are requeued or ended."""

from datetime import timedelta

import sqlalchemy as sa

from solvyd.server.db import queries
from solvyd.server.db.models import Job, Worker
from solvyd.server.events import QUEUE, build_topic
from solvyd.server.services.builds.lifecycle import requeue_or_fail_lost
from solvyd.server.services.context import ServerContext
from solvyd.shared.clock import utcnow


async def reap_lost_workers(ctx: ServerContext) -> int:
    """Returns how many builds were requeued or ended."""
    cutoff = utcnow() - timedelta(seconds=ctx.settings.heartbeat_ttl_seconds)
    touched = []
    async with ctx.db.transaction() as session:
        lost = await session.scalars(
            sa.select(Worker).where(Worker.last_heartbeat < cutoff, Worker.status != "offline")
        )
        for worker in lost:
            worker.status = "offline"
            for build in await queries.worker_builds(session, worker.id, queries.ACTIVE_STATUSES):
                job = await session.get(Job, build.job_id)
                await requeue_or_fail_lost(
                    session, build, job.max_retries if job else 0, "worker lost"
                )
                touched.append(build.id)
    for build_id in touched:
        ctx.events.notify(build_topic(build_id))
    if touched:
        ctx.events.notify(QUEUE)
    return len(touched)
