"""Trigger: plan the job's pipeline into a build, queue it, wake waiting agents.

A job whose pipeline lives in its repository (``pipeline_path``) is queued with no steps and
the path: the agent plans the steps after its checkout, and the server records each step when
its first status report arrives."""

import uuid
from dataclasses import asdict, dataclass, field

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from solvyd.pipeline.config import PipelineError
from solvyd.pipeline.plan import BuildContext, PlanRefused, plan_job, system_env
from solvyd.protocol import CHECKOUT_STEP, BuildStatus, JobSpec
from solvyd.server.db.models import Build, BuildStep, Job
from solvyd.server.events import BUILDS, EventHub, build_topic, cancel_topic
from solvyd.server.schemas.builds import TriggerRequest
from solvyd.server.services import audit
from solvyd.server.services.audit import Actor
from solvyd.server.services.builds import lifecycle
from solvyd.server.services.builds.claim_wakeups import claimable, wake_claims
from solvyd.server.services.builds.origin import TAG, BuildOrigin
from solvyd.server.services.commit_statuses.outbox import record_build_state
from solvyd.server.services.context import ServerContext
from solvyd.server.services.errors import InvalidInput, NotFound
from solvyd.server.services.jobs import load_job_pipeline
from solvyd.shared.git_names import branch_problem, commit_sha_problem

# A step's environment carries the commit's message and author (SOLVYD_COMMIT_MESSAGE, ...);
# Linux refuses to start a process with one variable over 128 KiB, so longer text is cut
# (a character is at most 4 bytes of UTF-8).
MAX_COMMIT_MESSAGE_CHARACTERS = 16 * 1024
MAX_COMMIT_AUTHOR_CHARACTERS = 1000


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
        wake_claims(events, [claimable(self.build)])
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
    origin: BuildOrigin | None = None,
) -> QueuedBuild:
    """Plan the job's pipeline into a new queued build, in the caller's transaction.

    `origin`: what started it (the event it is planned for, a tag, a pull request, the
    commit's message and author); None is a build of the event `trigger` and nothing more.
    `from_fork` (or `origin.pull_request.from_fork`): the code comes from a fork's pull request,
    so no secrets unless the job allows, and it waits for an approval if the job asks for one.
    For a pull request the caller passes its source branch as `body.branch`."""
    origin = origin or BuildOrigin(event=trigger)
    pull_request = origin.pull_request
    from_fork = from_fork or (pull_request is not None and pull_request.from_fork)
    superseded: list[uuid.UUID] = []
    # The row lock serialises build numbers per job on PostgreSQL. The caller may have read
    # the job before in this session (the hook service does): the locked read must replace
    # that copy, or the number is taken from it, stale once another transaction committed.
    job = await session.scalar(
        sa.select(Job)
        .where(Job.id == job_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if job is None:
        raise NotFound(f"job {job_id} not found")
    try:
        config = load_job_pipeline(job)
    except PipelineError as exc:
        raise InvalidInput(str(exc), details=[e.as_dict() for e in exc.errors]) from exc
    if config is None and not (job.scm_url and job.pipeline_path):
        raise InvalidInput(f"job {job.name!r} has no pipeline and no repository to read it from")
    # A tag is on no branch: its commit need not be on the job's branch (nor on any), and a
    # branch would give it that branch's protected secrets and `when.branch` steps.
    branch = None if origin.event == TAG else body.branch or job.branch
    _refuse_unsafe_names(branch, body.commit_sha)
    number = job.next_build_number
    job.next_build_number = number + 1
    commit_message = _bounded(origin.commit_message, MAX_COMMIT_MESSAGE_CHARACTERS)
    commit_author = _bounded(origin.commit_author, MAX_COMMIT_AUTHOR_CHARACTERS)
    build = Build(
        id=uuid.uuid4(),
        job_id=job.id,
        number=number,
        status="queued",
        branch=branch,
        commit_sha=body.commit_sha,
        trigger=trigger,
        event=origin.event,
        tag=origin.tag,
        pull_request=asdict(pull_request) if pull_request is not None else None,
        commit_message=commit_message,
        commit_author=commit_author,
        triggered_by=triggered_by,
        env=body.env,
        labels=sorted(set(job.labels)),
        retry_of=retry_of,
        from_fork=from_fork,
        reports_status=bool(job.forge),
        notifies=bool(job.notifications),
        awaiting_approval=from_fork and job.fork_approval,
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
        event=origin.event,
        tag=origin.tag,
        pull_request=pull_request.number if pull_request is not None else None,
        target_branch=pull_request.target_branch if pull_request is not None else None,
        commit_message=commit_message,
        commit_author=commit_author,
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
            event=origin.event,
        )
    else:
        try:
            spec = plan_job(config, context)
        except PlanRefused as exc:
            raise InvalidInput(str(exc)) from exc
    if pull_request is not None:
        # The fork's URL only for a fork: the base repository's own ref is fetched from
        # scm_url (with the job's credentials), the fork never sees them.
        spec = spec.model_copy(
            update={
                "checkout_ref": pull_request.head_ref,
                "checkout_url": pull_request.head_clone_url if from_fork else None,
            }
        )
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
    await record_build_state(session, build, job, new_build=True)
    return QueuedBuild(build, job, superseded)


def _refuse_unsafe_names(branch: str | None, commit_sha: str | None) -> None:
    """The branch and commit reach the agent's git command line. The API's schemas refuse
    bad ones; this catches those stored before they did (a job's branch, a retried build's)."""
    for problem in (
        branch_problem(branch) if branch is not None else None,
        commit_sha_problem(commit_sha) if commit_sha is not None else None,
    ):
        if problem is not None:
            raise InvalidInput(f"the build cannot be queued: {problem}")


def _bounded(text: str | None, limit: int) -> str | None:
    """Text from a forge, cut to what a step's environment can carry; NUL, which neither
    PostgreSQL nor a process environment can hold, removed."""
    if text is None:
        return None
    text = text.replace("\x00", "")
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


async def cancel_superseded_builds(
    session: AsyncSession, job: Job, newer: Build
) -> list[uuid.UUID]:
    """Cancel the job's queued builds that `newer` supersedes: those of the same kind and
    branch (same event, from a fork or not, same pull request, same tag), of which only the
    newest matters. A pull request's build from branch X is not a push build of X, nor another
    pull request's from a branch of the same name (a fork's, say): neither cancels the other.
    Running builds are left to finish."""
    older = await session.scalars(
        sa.select(Build)
        .where(Build.job_id == job.id, Build.status == BuildStatus.QUEUED)
        .where(Build.event == newer.event, Build.from_fork == newer.from_fork)
        .where(_same(Build.branch, newer.branch), _same(Build.tag, newer.tag))
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    cancelled = []
    for build in older:
        # The number lives in a JSON column, compared here rather than in two SQL dialects.
        if _pull_request_number(build) != _pull_request_number(newer):
            continue
        await lifecycle.finish(
            session,
            build,
            BuildStatus.CANCELLED,
            error_message=f"superseded by build #{newer.number}",
        )
        cancelled.append(build.id)
    return cancelled


def _same(column: InstrumentedAttribute[str | None], value: str | None) -> sa.ColumnElement[bool]:
    return column.is_(None) if value is None else column == value


def _pull_request_number(build: Build) -> object:
    return (build.pull_request or {}).get("number")
