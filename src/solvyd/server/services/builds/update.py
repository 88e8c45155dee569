"""Reports from the worker that holds a build: the build's status, each step's, and the graph
of the plan it runs."""

import uuid
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from solvyd.protocol import (
    CHECKOUT_STEP,
    BuildStatus,
    BuildStatusUpdate,
    StepGraph,
    StepStatus,
    StepStatusUpdate,
)
from solvyd.server.claim_waiters import ClaimableBuild
from solvyd.server.db.models import Build, BuildStep, Job, Worker
from solvyd.server.events import BUILDS, build_topic
from solvyd.server.services.builds import lifecycle
from solvyd.server.services.builds.access import build_held_by
from solvyd.server.services.builds.claim_wakeups import claimable, freed_job_slot, wake_claims
from solvyd.server.services.builds.retry import retry_policy
from solvyd.server.services.commit_statuses.outbox import record_build_state
from solvyd.server.services.context import ServerContext
from solvyd.server.services.errors import Conflict
from solvyd.server.services.notifications.outbox import record_build_notifications
from solvyd.server.state import IllegalTransition, check_step_transition
from solvyd.shared.clock import utcnow

# How much of the worker's own words a handed-back build keeps as its reason.
_REASON_CHARS = 1000


async def update_build_status(
    ctx: ServerContext, worker_id: uuid.UUID, build_id: uuid.UUID, body: BuildStatusUpdate
) -> Build:
    async with ctx.db.transaction() as session:
        build = await apply_build_status(ctx, session, worker_id, build_id, body)
        to_wake = await claims_to_wake(session, build, body)
    notify_build_status(ctx, build, to_wake, worker_id)
    return build


@dataclass
class ClaimsToWake:
    """What a build status report freed, for the claims to hear once it has committed."""

    # Empty: it freed no slot (the build runs on); else the builds that became claimable.
    builds: list[ClaimableBuild | None] = field(default_factory=list)

    @property
    def freed_slot(self) -> bool:
        return bool(self.builds)


async def claims_to_wake(
    session: AsyncSession, build: Build, body: BuildStatusUpdate
) -> ClaimsToWake:
    """Within the report's transaction: whether it freed a worker's slot and, if so, the
    builds that became claimable (this one handed back, or the next of a job at its limit)."""
    if build.status != BuildStatus.QUEUED and not body.status.finished:
        return ClaimsToWake()
    return ClaimsToWake([claimable(build), await freed_job_slot(session, build.job_id)])


def notify_build_status(
    ctx: ServerContext, build: Build, to_wake: ClaimsToWake, worker_id: uuid.UUID
) -> None:
    """After the commit of a build status report: wake who follows the build, and the claims
    it freed work or a slot for."""
    ctx.events.notify(build_topic(build.id))
    ctx.events.notify(BUILDS)
    if to_wake.freed_slot:
        wake_claims(ctx.events, to_wake.builds, freed_worker=worker_id)


async def apply_build_status(
    ctx: ServerContext,
    session: AsyncSession,
    worker_id: uuid.UUID,
    build_id: uuid.UUID,
    body: BuildStatusUpdate,
) -> Build:
    """A build status report, within the caller's transaction (see `update_build_status`)."""
    build = await build_held_by(session, build_id, worker_id, attempt=body.attempt)
    if body.commit_sha and not BuildStatus(build.status).finished:
        build.commit_sha = body.commit_sha  # what the checkout resolved
    if build.status == body.status and body.status is not BuildStatus.QUEUED:
        if build.status == BuildStatus.RUNNING:
            # A repeated `running` may bring the sha: report what waited for it.
            await record_build_state(session, build)
        return build  # a retried report
    try:
        if body.status is BuildStatus.RUNNING:
            lifecycle.mark_running(build, body.started_at)
            # Also the first report of a build queued without a sha (now resolved).
            await record_build_state(session, build)
            await record_build_notifications(session, build)
        elif body.status is BuildStatus.QUEUED:
            await _hand_back(session, worker_id, build, body)
        elif not await _retried(ctx, session, build, body):
            await lifecycle.finish(
                session,
                build,
                body.status,
                exit_code=body.exit_code,
                error_message=body.error_message,
                completed_at=body.completed_at,
                duration_seconds=body.duration_seconds,
            )
    except IllegalTransition as exc:
        raise Conflict(str(exc)) from exc
    return build


async def _hand_back(
    session: AsyncSession, worker_id: uuid.UUID, build: Build, body: BuildStatusUpdate
) -> None:
    """The worker gives back a build it will not run: one it has not started (it is shutting
    down), or one whose plan needs a worker that runs steps without an image."""
    if body.needs_step_without_image:
        worker = await session.get(Worker, worker_id)
        if worker is None or worker.runs_steps_without_image:
            # Its next claim could hand the build straight back to it: a loop.
            raise Conflict(
                "this worker runs steps without an image, so it cannot hand a build back "
                "for needing one that does"
            )
        if build.status == BuildStatus.RUNNING:
            why = (body.error_message or "its plan has steps that name no image")[:_REASON_CHARS]
            await lifecycle.hand_back_needing_steps_without_image(
                session,
                build,
                f"handed back by worker {worker.name}, which cannot run steps without an "
                f"image ({why}); waiting for a worker that can",
            )
            return
        build.needs_step_without_image = True
    if build.status != BuildStatus.QUEUED:
        raise IllegalTransition("build", build.status, body.status)
    lifecycle.unassign(build)


async def _retried(
    ctx: ServerContext, session: AsyncSession, build: Build, body: BuildStatusUpdate
) -> bool:
    """An error the agent reports is retried (after a backoff) if its kind may go better on
    another run and the job allows (see `RetryPolicy`): True if the build went back to the
    queue."""
    if body.status is not BuildStatus.ERROR or build.status != BuildStatus.RUNNING:
        return False
    policy = retry_policy(ctx, await session.get(Job, build.job_id))
    if not policy.retries(build, body.error_kind, body.error_message):
        return False
    await lifecycle.requeue(session, build, policy.delay_before_next(build))
    return True


async def update_step_status(
    ctx: ServerContext,
    worker_id: uuid.UUID,
    build_id: uuid.UUID,
    step_name: str,
    body: StepStatusUpdate,
) -> BuildStep:
    async with ctx.db.transaction() as session:
        step = await apply_step_status(session, worker_id, build_id, step_name, body)
    ctx.events.notify(build_topic(build_id))
    ctx.events.notify(BUILDS)
    return step


async def apply_step_status(
    session: AsyncSession,
    worker_id: uuid.UUID,
    build_id: uuid.UUID,
    step_name: str,
    body: StepStatusUpdate,
) -> BuildStep:
    """A step status report, within the caller's transaction (see `update_step_status`)."""
    build = await build_held_by(session, build_id, worker_id, attempt=body.attempt)
    step = await session.scalar(
        sa.select(BuildStep).where(BuildStep.build_id == build.id, BuildStep.name == step_name)
    )
    if step is None:
        # Steps the agent adds itself (e.g. a checkout) are recorded as they appear.
        last = await session.scalar(
            sa.select(sa.func.max(BuildStep.position)).where(BuildStep.build_id == build.id)
        )
        step = BuildStep(
            build_id=build.id,
            name=step_name,
            position=(last or 0) + 1,
            status=StepStatus.PENDING,
        )
        session.add(step)
    if step.status == body.status:
        return step
    try:
        check_step_transition(StepStatus(step.status), body.status)
    except IllegalTransition as exc:
        raise Conflict(str(exc)) from exc
    step.status = body.status
    if body.status is StepStatus.RUNNING:
        step.started_at = body.started_at or utcnow()
    elif body.status.finished:
        step.completed_at = body.completed_at or utcnow()
        step.exit_code = body.exit_code
        step.error_message = body.error_message
    await session.flush()
    return step


async def record_step_graph(
    ctx: ServerContext, worker_id: uuid.UUID, build_id: uuid.UUID, body: StepGraph
) -> None:
    """Keep the graph of the plan the worker runs (the message checked its shape), replacing
    one the same attempt sent before; steps of it not recorded yet are added as pending, in
    the plan's order, so the whole plan shows before it runs."""
    async with ctx.db.transaction() as session:
        await apply_step_graph(session, worker_id, build_id, body)
    ctx.events.notify(build_topic(build_id))
    ctx.events.notify(BUILDS)


async def apply_step_graph(
    session: AsyncSession, worker_id: uuid.UUID, build_id: uuid.UUID, body: StepGraph
) -> None:
    """A step graph report, within the caller's transaction (see `record_step_graph`)."""
    build = await build_held_by(session, build_id, worker_id, attempt=body.attempt)
    if BuildStatus(build.status).finished:
        raise Conflict(f"build {build_id} is {build.status}; its graph is final")
    build.step_graph = [
        {"name": step.name, "depends_on": list(step.depends_on)} for step in body.steps
    ]
    rows = await session.execute(
        sa.select(BuildStep.name, BuildStep.position).where(BuildStep.build_id == build.id)
    )
    recorded = {name: position for name, position in rows}
    # A repeated report replaces the plan: the last one's steps that never started go, so
    # reports cannot pile up rows (and a retried attempt shows only its own plan).
    planned = {step.name for step in body.steps}
    stale = [name for name in recorded if name not in planned and name != CHECKOUT_STEP]
    if stale:
        await session.execute(
            sa.delete(BuildStep).where(
                BuildStep.build_id == build.id,
                BuildStep.name.in_(stale),
                BuildStep.status == StepStatus.PENDING,
            )
        )
    position = max(recorded.values(), default=0)
    for step in body.steps:
        if step.name not in recorded:
            position += 1
            session.add(
                BuildStep(
                    build_id=build.id,
                    name=step.name,
                    position=position,
                    status=StepStatus.PENDING,
                )
            )
    await session.flush()
