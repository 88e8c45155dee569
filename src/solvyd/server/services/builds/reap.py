"""Reap: workers that stopped heartbeating go offline, and their builds are retried or ended;
builds running past their timeout are ended even if their agent is gone."""

import uuid
from datetime import timedelta

import sqlalchemy as sa

from solvyd.protocol import BuildStatus
from solvyd.server.db import queries
from solvyd.server.db.models import Build, Job, Worker
from solvyd.server.events import BUILDS, QUEUE, WORKERS, build_topic, cancel_topic
from solvyd.server.services.builds.lifecycle import finish, retry_or_fail
from solvyd.server.services.builds.retry import retry_policy
from solvyd.server.services.context import ServerContext
from solvyd.shared.clock import utcnow

WORKER_LOST = "worker lost"


async def reap_lost_workers(ctx: ServerContext) -> int:
    """Returns how many builds were requeued or ended."""
    cutoff = utcnow() - timedelta(seconds=ctx.settings.heartbeat_ttl_seconds)
    touched = []
    went_offline = False
    async with ctx.db.transaction() as session:
        # SKIP LOCKED: every server runs a reaper; a worker another one is reaping is its.
        lost = await session.scalars(
            sa.select(Worker)
            .where(Worker.last_heartbeat < cutoff, Worker.status != "offline")
            .with_for_update(skip_locked=True)
        )
        for worker in lost:
            worker.status = "offline"
            went_offline = True
            for build in await queries.worker_builds(session, worker.id, queries.ACTIVE_STATUSES):
                job = await session.get(Job, build.job_id)
                await retry_or_fail(session, build, retry_policy(ctx, job), WORKER_LOST)
                touched.append(build.id)
    if went_offline:
        ctx.events.notify(WORKERS)
    _announce_ended(ctx, touched)
    return len(touched)


async def end_overdue_builds(ctx: ServerContext) -> int:
    """End `error` the running builds past their timeout plus a grace: their agent should have
    ended them itself, so it is stuck or gone. Returns how many were ended."""
    now = utcnow()
    grace = ctx.settings.build_timeout_grace_seconds
    ended = []
    async with ctx.db.transaction() as session:
        rows = await session.execute(
            sa.select(Build.id, Build.started_at, Build.timeout_seconds).where(
                Build.status == BuildStatus.RUNNING, Build.timeout_seconds.is_not(None)
            )
        )
        overdue = [
            row.id
            for row in rows
            if row.started_at is not None
            and row.started_at + timedelta(seconds=row.timeout_seconds + grace) <= now
        ]
        for build_id in overdue:
            build = await queries.get_build(session, build_id, lock=True)
            if build is None or build.status != BuildStatus.RUNNING:
                continue  # it ended meanwhile
            assert build.timeout_seconds is not None  # noqa: S101 - selected for having one
            message = f"timed out after {build.timeout_seconds:g}s (ended by the server)"
            await finish(session, build, BuildStatus.ERROR, error_message=message)
            ended.append(build.id)
    _announce_ended(ctx, ended)
    return len(ended)


def _announce_ended(ctx: ServerContext, build_ids: list[uuid.UUID]) -> None:
    for build_id in build_ids:
        ctx.events.notify(cancel_topic(build_id))  # the agent, if any, stops it
        ctx.events.notify(build_topic(build_id))
    if build_ids:
        ctx.events.notify(QUEUE)
        ctx.events.notify(BUILDS)
