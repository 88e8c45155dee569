"""Claim: hand the oldest queued build a worker can run to that worker, atomically.

`claim_next_build` is a long poll: it waits on the queue signal (fired by every trigger and
every build handed back) until it wins a build or its wait runs out.
"""

import time
import uuid

from solvyd.protocol import JobSpec
from solvyd.server.db import dialects, queries
from solvyd.server.db.models import Build, Worker
from solvyd.server.events import QUEUE
from solvyd.server.services.context import ServerContext
from solvyd.server.services.errors import NotFound
from solvyd.shared.clock import utcnow

MAX_ASSIGNED_LISTED = 10


async def _assign_builds(ctx: ServerContext, worker_id: uuid.UUID, limit: int) -> list[Build]:
    """Assign up to `limit` builds (bounded by the worker's free capacity) in one transaction."""
    assigned: list[Build] = []
    async with ctx.db.transaction() as session:
        # Locking the worker row serialises one worker's concurrent claims, so together they
        # never exceed its concurrency (SQLite transactions are serialised anyway).
        worker = await session.get(Worker, worker_id, with_for_update=True)
        if worker is None:
            raise NotFound(f"worker {worker_id} not found")
        if worker.status == "draining":
            return []
        free = worker.concurrency - await queries.count_worker_active_builds(session, worker.id)
        for _ in range(min(free, limit)):
            build_id = await dialects.lock_next_claimable_build(
                session, list(worker.labels), ctx.db.dialect
            )
            if build_id is None:
                break
            build = await queries.get_build(session, build_id)
            assert build is not None
            build.worker_id = worker.id
            build.claimed_at = utcnow()
            await session.flush()
            assigned.append(build)
    return assigned


async def claim_next_build(ctx: ServerContext, worker_id: uuid.UUID, wait: float) -> JobSpec | None:
    deadline = time.monotonic() + min(wait, ctx.settings.max_claim_wait_seconds)
    while True:
        signal = ctx.events.listen(QUEUE)
        claimed = await _assign_builds(ctx, worker_id, limit=1)
        if claimed:
            return JobSpec.model_validate(claimed[0].spec)
        remaining = deadline - time.monotonic()
        if remaining <= 0 or ctx.events.closed:
            return None
        await signal.wait(remaining)


async def assigned_builds(ctx: ServerContext, worker_id: uuid.UUID) -> list[Build]:
    """The seed's polling path: assign what fits, then list what is assigned and not started."""
    await _assign_builds(ctx, worker_id, limit=MAX_ASSIGNED_LISTED)
    async with ctx.db.transaction() as session:
        builds = await queries.worker_builds(session, worker_id, ("queued",))
    return builds[:MAX_ASSIGNED_LISTED]
