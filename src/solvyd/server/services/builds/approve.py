"""Approve: a build of a pull request from a fork, whose job asks for an approval
(`fork_approval`), waits in the queue unclaimable until a developer or an admin lets it run."""

import uuid

from solvyd.protocol import BuildStatus
from solvyd.server.db import queries
from solvyd.server.db.models import Build
from solvyd.server.events import BUILDS, QUEUE, build_topic
from solvyd.server.services import audit
from solvyd.server.services.audit import Actor
from solvyd.server.services.context import ServerContext
from solvyd.server.services.errors import Conflict, NotFound
from solvyd.shared.clock import utcnow

WAITING_FOR_APPROVAL = "waiting for approval"


def approve(build: Build, actor: Actor) -> None:
    """Let a build that awaits approval be claimed; who and when are kept on it."""
    build.awaiting_approval = False
    build.approved_by = actor.user_id
    build.approved_at = utcnow()


async def approve_build(ctx: ServerContext, build_id: uuid.UUID, actor: Actor) -> Build:
    async with ctx.db.transaction() as session:
        build = await queries.get_build(session, build_id, lock=True)
        if build is None:
            raise NotFound(f"build {build_id} not found")
        if BuildStatus(build.status).finished:
            raise Conflict(f"build {build_id} already finished ({build.status})")
        if not build.awaiting_approval:
            raise Conflict(f"build {build_id} does not await an approval")
        approve(build, actor)
        audit.record(
            session,
            actor,
            "build.approve",
            f"build:{build.id}",
            job_id=str(build.job_id),
            number=build.number,
        )
    ctx.events.notify(QUEUE)
    ctx.events.notify(build_topic(build_id))
    ctx.events.notify(BUILDS)
    return build
