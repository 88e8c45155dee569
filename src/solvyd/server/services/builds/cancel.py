"""Cancel: a queued build never starts; a running one is told to stop at once."""

import uuid

from solvyd.protocol import BuildStatus
from solvyd.server.db import queries
from solvyd.server.db.models import Build
from solvyd.server.events import BUILDS, build_topic, cancel_topic
from solvyd.server.services import audit
from solvyd.server.services.audit import Actor
from solvyd.server.services.builds import lifecycle
from solvyd.server.services.builds.access import build_held_by
from solvyd.server.services.builds.claim_wakeups import freed_job_slot, wake_claims
from solvyd.server.services.context import ServerContext
from solvyd.server.services.errors import Conflict, NotFound


async def cancel_build(ctx: ServerContext, build_id: uuid.UUID, actor: Actor) -> Build:
    async with ctx.db.transaction() as session:
        build = await queries.get_build(session, build_id, lock=True)
        if build is None:
            raise NotFound(f"build {build_id} not found")
        if BuildStatus(build.status).finished:
            raise Conflict(f"build {build_id} already finished ({build.status})")
        was = build.status
        # The build ends now; the agent's watcher hears it and kills the processes, and its
        # own later "cancelled" report is a no-op.
        holder = build.worker_id
        await lifecycle.finish(session, build, BuildStatus.CANCELLED, error_message="cancelled")
        freed = await freed_job_slot(session, build.job_id) if holder is not None else None
        audit.record(
            session,
            actor,
            "build.cancel",
            f"build:{build.id}",
            job_id=str(build.job_id),
            number=build.number,
            was=was,
        )
    ctx.events.notify(cancel_topic(build_id))
    ctx.events.notify(build_topic(build_id))
    wake_claims(ctx.events, [freed], freed_worker=holder)
    ctx.events.notify(BUILDS)
    return build


async def wait_for_cancel(
    ctx: ServerContext, worker_id: uuid.UUID, build_id: uuid.UUID, wait: float
) -> bool:
    """Long poll for the agent: True as soon as the build must stop (see `_must_stop`),
    False when `wait` seconds pass first. A build not assigned to the worker is not its
    business (403; an agent stops a build whose watch is refused), though one taken from it
    during the wait answers True."""
    signal = ctx.events.listen(cancel_topic(build_id))
    async with ctx.db.transaction() as session:
        held = await build_held_by(session, build_id, worker_id, lock=False)
    if _must_stop(held, worker_id):
        return True
    if await signal.wait(min(wait, ctx.settings.max_claim_wait_seconds)):
        async with ctx.db.transaction() as session:
            build = await queries.get_build(session, build_id)
        return build is None or _must_stop(build, worker_id)
    return False


def _must_stop(build: Build, worker_id: uuid.UUID) -> bool:
    """Cancelled, ended by the server (e.g. timed out), or taken from this worker."""
    return BuildStatus(build.status).finished or build.worker_id != worker_id
