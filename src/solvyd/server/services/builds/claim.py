"""Claim: hand a worker the build it should run next (see `dialects.lock_next_claimable_build`
for the order), atomically, within the job's concurrency limit.

`claim_next_build` is a long poll: it waits until a build it can run becomes claimable (the
server wakes one waiting claim per such build, `claim_waiters.py`) and it wins a build, or its
wait runs out.
"""

import asyncio
import time
import uuid
from dataclasses import dataclass, field

import structlog
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from solvyd.protocol import BuildStatus, JobSpec
from solvyd.server.db import dialects, queries
from solvyd.server.db.models import Build, Job, Worker
from solvyd.server.events import BUILDS, build_topic
from solvyd.server.services.builds import lifecycle
from solvyd.server.services.context import ServerContext
from solvyd.server.services.errors import NotFound
from solvyd.server.services.workers import claimable_labels
from solvyd.shared.clock import utcnow

log = structlog.get_logger(__name__)

MAX_ASSIGNED_LISTED = 10


# A claim that passed over a build because another transaction held its job's lock tries
# again this soon: the holder commits in milliseconds, and nothing else would wake the claim.
CONTENDED_RETRY_SECONDS = 0.01
# ...even past its wait (a claim with `wait` 0 included): it lost a lock race for a build it
# could run, and answering "nothing to run" would leave a free worker idle beside a free slot.
# Bounded, so that a lock held for long does not hold the request.
CONTENDED_GRACE_SECONDS = 1.0


@dataclass
class _Assignment:
    builds: list[Build] = field(default_factory=list)
    # The spec handed out for each of `builds`, in order.
    specs: list[JobSpec] = field(default_factory=list)
    # Builds ended with `error` because they could not be handed out.
    failed: list[uuid.UUID] = field(default_factory=list)
    # A build was passed over only because its job was locked by another transaction.
    contended: bool = False
    # Whether the worker could take a build at all (not draining, a slot free), and what it
    # can run: what wakes its claim next.
    able: bool = False
    labels: list[str] = field(default_factory=list)
    runs_steps_without_image: bool = True


async def _assign_builds(ctx: ServerContext, worker_id: uuid.UUID, limit: int) -> _Assignment:
    """Assign up to `limit` builds (bounded by the worker's free capacity) in one transaction."""
    assignment = _Assignment()
    now = utcnow()
    async with ctx.db.transaction() as session:
        # Locking the worker row serialises one worker's concurrent claims, so together they
        # never exceed its concurrency (SQLite transactions are serialised anyway).
        worker = await session.get(Worker, worker_id, with_for_update=True)
        if worker is None:
            raise NotFound(f"worker {worker_id} not found")
        assignment.labels = claimable_labels(worker)
        assignment.runs_steps_without_image = worker.runs_steps_without_image
        if worker.status == "draining":
            return assignment
        free = worker.concurrency - await queries.count_worker_active_builds(session, worker.id)
        assignment.able = free > 0
        passed_over: list[uuid.UUID] = []
        while len(assignment.builds) < min(free, limit):
            build_id = await dialects.lock_next_claimable_build(
                session,
                assignment.labels,
                ctx.db.dialect,
                now,
                runs_steps_without_image=worker.runs_steps_without_image,
                skip=passed_over,
            )
            if build_id is None:
                break
            build = await queries.get_build(session, build_id)
            assert build is not None  # noqa: S101 - locked just now, so it exists
            if not await _job_has_a_free_slot(ctx, session, build, assignment):
                passed_over.append(build.id)
                continue
            spec = await _spec_or_fail(session, build)
            if spec is None:
                assignment.failed.append(build.id)
                continue
            build.worker_id = worker.id
            build.claimed_at = now
            await session.flush()
            assignment.builds.append(build)
            assignment.specs.append(spec)
    for build in assignment.builds:
        # Committed: the build is this worker's now.
        # A fork's build waits for a person's approval first: the queue starts when it came.
        queued_since = max(build.queued_at, build.approved_at or build.queued_at)
        ctx.metrics.build_queue_seconds.observe(max(0.0, (now - queued_since).total_seconds()))
    for build_id in assignment.failed:
        ctx.events.notify(build_topic(build_id))
    if assignment.builds or assignment.failed:
        ctx.events.notify(BUILDS)  # they show their worker (or their end) now
    return assignment


async def _spec_or_fail(session: AsyncSession, build: Build) -> JobSpec | None:
    """The spec to hand out, checked to encode as the answer will; None if it cannot be (a row
    stored before the API refused such values, or by an older version), and the build is then
    ended with `error` saying why. Handing it back to the queue would fail the same way on
    every claim, and hold up the builds behind it."""
    try:
        spec = handed_out_spec(build)
        spec.model_dump_json()
    except (ValidationError, ValueError, TypeError) as exc:
        reason = _unusable_spec_reason(exc)
        log.warning("build cannot be handed out", build_id=str(build.id), reason=reason)
        await lifecycle.finish(
            session,
            build,
            BuildStatus.ERROR,
            error_message=f"the server cannot hand out this build: {reason}",
        )
        await session.flush()
        return None
    return spec


def _unusable_spec_reason(exc: Exception) -> str:
    # Never the values themselves: a spec holds the values to mask in the log.
    if isinstance(exc, ValidationError):
        fields = ", ".join(".".join(str(p) for p in e["loc"]) or "spec" for e in exc.errors())
        return f"its stored job spec is not valid ({fields})"
    if "surrogate" in str(exc):
        return "its stored job spec holds text that cannot be encoded (a lone UTF-16 surrogate)"
    return f"its stored job spec cannot be encoded ({type(exc).__name__})"


async def _job_has_a_free_slot(
    ctx: ServerContext, session: AsyncSession, build: Build, assignment: _Assignment
) -> bool:
    """Re-check the job's concurrency limit under the job's lock: the claim query saw a free
    slot, but a racing claim may have taken it since."""
    job = await session.get(Job, build.job_id)
    if job is None or job.max_concurrent_builds is None:
        return True
    if not await dialects.lock_job_unless_busy(session, job.id, ctx.db.dialect):
        assignment.contended = True
        return False
    held = await queries.count_job_builds_holding_a_worker(session, job.id)
    return held < job.max_concurrent_builds


async def claim_next_build(ctx: ServerContext, worker_id: uuid.UUID, wait: float) -> JobSpec | None:
    deadline = time.monotonic() + min(wait, ctx.settings.max_claim_wait_seconds)
    claims = ctx.events.claims
    # In line before the first look: a build committed during a look wakes this claim.
    waiter = claims.join(worker_id)
    try:
        while True:
            woken_for = claims.look(waiter)
            try:
                assignment = await _assign_builds(ctx, worker_id, limit=1)
            except BaseException:
                # Removed worker, agent gone, database error: the build it was woken for
                # still needs a claim that looks.
                if woken_for is not None:
                    claims.wake_one(woken_for)
                raise
            waiter.labels = frozenset(assignment.labels)
            waiter.runs_steps_without_image = assignment.runs_steps_without_image
            waiter.able = assignment.able
            won = str(assignment.builds[0].id) if assignment.builds else None
            claims.handled(waiter, woken_for, won=won)
            if assignment.specs:
                return assignment.specs[0]
            if ctx.events.closed:
                return None
            now = time.monotonic()
            if assignment.contended and now < deadline + CONTENDED_GRACE_SECONDS:
                await asyncio.sleep(CONTENDED_RETRY_SECONDS)
                continue
            if now >= deadline:
                return None
            await waiter.wait(deadline - now)
    finally:
        claims.leave(waiter)


def handed_out_spec(build: Build) -> JobSpec:
    """The spec planned at trigger time, for the build's current attempt."""
    return JobSpec.model_validate({**build.spec, "attempt": build.attempt})


async def assigned_builds(ctx: ServerContext, worker_id: uuid.UUID) -> list[Build]:
    """The seed's polling path: assign what fits, then list what is assigned and not started."""
    await _assign_builds(ctx, worker_id, limit=MAX_ASSIGNED_LISTED)
    async with ctx.db.transaction() as session:
        builds = await queries.worker_builds(session, worker_id, ("queued",))
    return builds[:MAX_ASSIGNED_LISTED]
