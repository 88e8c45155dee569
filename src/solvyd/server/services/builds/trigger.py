"""Trigger: plan the job's pipeline into a build, queue it, wake waiting agents.

A job whose pipeline lives in its repository (``pipeline_path``) is queued with no steps and
the path: the agent plans the steps after its checkout, and the server records each step when
its first status report arrives."""

import uuid
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from solvyd.pipeline.config import PipelineError
from solvyd.pipeline.plan import BuildContext, PlanRefused, plan_job, system_env
from solvyd.protocol import CHECKOUT_STEP, BuildStatus, JobSpec
from solvyd.server.db.models import Build, BuildStep, Job
from solvyd.server.events import BUILDS, QUEUE, EventHub, build_topic, cancel_topic
from solvyd.server.schemas.builds import TriggerRequest
from solvyd.server.services import audit
from solvyd.server.services.audit import Actor
from solvyd.server.services.builds import lifecycle
from solvyd.server.services.context import ServerContext
from solvyd.server.services.errors import InvalidInput, NotFound
from solvyd.server.services.jobs import load_job_pipeline


@dataclass
class QueuedBuild:
    """A build just queued, and the older builds it superseded; `wake` tells the waiters once
    the transaction has committed."""

    build: Build
    job: Job
    superseded: list[uuid.UUID] = field(default_factory=list)

    def wake(self, events: EventHub) -> None:
        for old_id in self.superseded:
            events.notify(cancel_topic(old_id))
            events.notify(build_topic(old_id))
        events.notify(QUEUE)
        events.notify(BUILDS)


async def trigger_build(
    ctx: ServerContext,
    job_id: uuid.UUID,
    body: TriggerRequest,
    *,
    actor: Actor,
    trigger: str = "manual",
) -> Build:
    async with ctx.db.transaction() as session:
        queued = await queue_build(
            session, job_id, body, triggered_by=actor.user_id, trigger=trigger
        )
        build = queued.build
        audit.record(
            session,
            actor,
            "build.trigger",
            f"build:{build.id}",
            job=queued.job.name,
            number=build.number,
            trigger=trigger,
        )
    queued.wake(ctx.events)
    return build


async def queue_build(
    session: AsyncSession,
    job_id: uuid.UUID,
    body: TriggerRequest,
    *,
    triggered_by: uuid.UUID | None,
    trigger: str,
    retry_of: uuid.UUID | None = None,
    from_fork: bool = False,
) -> QueuedBuild:
    """Plan the job's pipeline into a new queued build, in the caller's transaction.
    `from_fork`: the code comes from a fork's pull request (no secrets unless the job allows)."""
    superseded: list[uuid.UUID] = []
    # The row lock serialises build numbers per job on PostgreSQL.
    job = await session.scalar(sa.select(Job).where(Job.id == job_id).with_for_update())
    if job is None:
        raise NotFound(f"job {job_id} not found")
    try:
        config = load_job_pipeline(job)
    except PipelineError as exc:
        raise InvalidInput(str(exc), details=[e.as_dict() for e in exc.errors]) from exc
    if config is None and not (job.scm_url and job.pipeline_path):
        raise InvalidInput(f"job {job.name!r} has no pipeline and no repository to read it from")
    number = job.next_build_number
    job.next_build_number = number + 1
    build = Build(
        id=uuid.uuid4(),
        job_id=job.id,
        number=number,
        status="queued",
        branch=body.branch or job.branch,
        commit_sha=body.commit_sha,
        trigger=trigger,
        triggered_by=triggered_by,
        env=body.env,
        labels=sorted(set(job.labels)),
        retry_of=retry_of,
        from_fork=from_fork,
    )
    context = BuildContext(
        build_id=build.id,
        build_number=number,
        job_id=job.id,
        job_name=job.name,
        scm_url=job.scm_url,
        branch=build.branch,
        commit_sha=build.commit_sha,
        job_env=dict(job.env),
        trigger_env=dict(body.env),
        labels=build.labels,
        timeout_seconds=job.timeout_seconds,
        event=trigger,
    )
    if config is None:
        # The pipeline is read from the repository by the agent, after the checkout.
        spec = JobSpec(
            build_id=build.id,
            build_number=number,
            job_id=job.id,
            job_name=job.name,
            scm_url=job.scm_url,
            branch=build.branch,
            commit_sha=build.commit_sha,
            env={**context.job_env, **context.trigger_env, **system_env(context)},
            steps=[],
            timeout_seconds=job.timeout_seconds,
            labels=list(build.labels),
            pipeline_path=job.pipeline_path,
            event=trigger,
        )
    else:
        try:
            spec = plan_job(config, context)
        except PlanRefused as exc:
            raise InvalidInput(str(exc)) from exc
    if job.checkout_credentials and (not from_fork or job.secrets_for_forks):
        # A fork's pull request gets no secret unless the job allows it: not even for the
        # checkout (its code could otherwise be fetched with the job's credentials).
        spec = spec.model_copy(update={"checkout_credentials": job.checkout_credentials})
    build.spec = spec.model_dump(mode="json")
    # The pipeline may require labels of its own on top of the job's.
    build.labels = list(spec.labels)
    build.timeout_seconds = spec.timeout_seconds
    build.needs_step_without_image = bool(spec.steps_without_image())
    if job.cancel_previous:
        superseded = await cancel_superseded_builds(session, job, build)
    session.add(build)
    await session.flush()
    # The agent's checkout comes first; it reports that step under this name.
    names = [step.name for step in spec.steps]
    if job.scm_url:
        if CHECKOUT_STEP in names:
            raise InvalidInput(
                f"step name {CHECKOUT_STEP!r} is taken by the repository checkout; rename it"
            )
        names.insert(0, CHECKOUT_STEP)
    session.add_all(
        BuildStep(build_id=build.id, position=position, name=name)
        for position, name in enumerate(names)
    )
    return QueuedBuild(build, job, superseded)


async def cancel_superseded_builds(
    session: AsyncSession, job: Job, newer: Build
) -> list[uuid.UUID]:
    """Cancel the job's queued builds of the same branch as `newer`: only the newest matters.
    Running builds are left to finish."""
    older = await session.scalars(
        sa.select(Build)
        .where(Build.job_id == job.id, Build.status == BuildStatus.QUEUED)
        .where(Build.branch.is_(None) if newer.branch is None else Build.branch == newer.branch)
        .with_for_update()
    )
    cancelled = []
    for build in older:
        await lifecycle.finish(
            session,
            build,
            BuildStatus.CANCELLED,
            error_message=f"superseded by build #{newer.number}",
        )
        cancelled.append(build.id)
    return cancelled
