"""A deploy step's deployment, as the agent running the step registers it; and what happens to
the waiting deployments of a build that ends."""

import uuid

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from solvyd.protocol import BuildStatus, DeploymentRequest, DeploymentState, DeploySpec
from solvyd.protocol.messages import StepSpec
from solvyd.server.db.models import Build, Deployment, User
from solvyd.server.events import DEPLOYMENTS
from solvyd.server.services.builds.access import build_held_by
from solvyd.server.services.context import ServerContext
from solvyd.server.services.deployments import queue
from solvyd.server.services.deployments.environments import check_target, ensure_environment
from solvyd.server.services.deployments.state import agent_state
from solvyd.server.services.errors import Conflict, Forbidden
from solvyd.shared.clock import utcnow


async def register_step_deployment(
    ctx: ServerContext, worker_id: uuid.UUID, build_id: uuid.UUID, request: DeploymentRequest
) -> DeploymentState:
    """The step's deployment in its build's current attempt: made on the first call, the same
    one on a repeat (an agent retrying a request whose answer it lost)."""
    async with ctx.db.transaction() as session:
        build = await build_held_by(session, build_id, worker_id, attempt=request.attempt)
        if BuildStatus(build.status).finished:
            raise Conflict(f"build {build_id} already finished ({build.status})")
        if build.from_fork:
            # Its code is anyone's: it never reaches an environment.
            raise Forbidden("a build of a pull request from a fork does not deploy")
        existing = await session.scalar(
            sa.select(Deployment).where(
                Deployment.build_id == build.id,
                Deployment.step == request.step,
                Deployment.attempt == build.attempt,
            )
        )
        made = existing is None
        if existing is None:
            existing = await _create(session, ctx.db.dialect, build, request)
        deployment_id, environment_id = existing.id, existing.environment_id
    if made:
        ctx.events.notify(DEPLOYMENTS)
        # It may start at once (its environment is free): the answer then says so.
        await queue.advance(ctx, environment_id)
    async with ctx.db.transaction() as session:
        deployment = await session.get(Deployment, deployment_id)
        assert deployment is not None  # noqa: S101 - deployments are never deleted alone
        return await agent_state(session, deployment)


def _planned_deploy(build: Build, request: DeploymentRequest) -> tuple[DeploySpec, bool]:
    """The server's own plan of the step when it made one (the agent's copy of it could have
    been changed on the way); the agent's for a plan read from the repository. True with the
    latter: the repository's committer wrote it."""
    for step in build.spec.get("steps") or []:
        if isinstance(step, dict) and step.get("name") == request.step:
            planned = StepSpec.model_validate(step).deploy
            if planned is None:
                raise Conflict(f"step '{request.step}' of this build does not deploy")
            return planned, False
    if not build.spec.get("pipeline_path"):
        raise Conflict(f"this build has no step '{request.step}'")
    return request.deploy, True


async def _create(
    session: AsyncSession, dialect: str, build: Build, request: DeploymentRequest
) -> Deployment:
    spec, from_repository = _planned_deploy(build, request)
    # An environment is protected by an admin, so a new name that any branch's pipeline file
    # can make must not be a way around approval: made by such a plan, it starts protected
    # (an admin who made it first, or unprotects it, decides otherwise).
    environment = await ensure_environment(
        session, spec.environment, dialect, protect_if_new=from_repository
    )
    if spec.kubernetes is not None:
        await check_target(
            session, environment, spec.kubernetes.namespace, spec.kubernetes.deployment
        )
    environment = await queue.lock_environment(session, environment.id)
    number = environment.next_number
    environment.next_number += 1
    approval = environment.approval_required or spec.approval == "required"
    requester = await session.get(User, build.triggered_by) if build.triggered_by else None
    target = spec.kubernetes.model_dump(mode="json") if spec.kubernetes is not None else None
    if spec.kubernetes is not None:
        version = spec.kubernetes.image
    else:
        version = (
            spec.version or build.commit_sha or f"{build.spec.get('job_name')} #{build.number}"
        )
    now = utcnow()
    deployment = Deployment(
        id=uuid.uuid4(),
        environment_id=environment.id,
        number=number,
        kind="deploy",
        status=queue.AWAITING_APPROVAL if approval else queue.QUEUED,
        job_id=build.job_id,
        job_name=str(build.spec.get("job_name") or "")[:200] or None,
        build_id=build.id,
        build_number=build.number,
        commit_sha=build.commit_sha,
        step=request.step,
        attempt=build.attempt,
        version=version,
        target=target,
        rollback_policy=spec.rollback,
        rollout_timeout_seconds=spec.rollout_timeout_seconds,
        approval_required=approval,
        requested_by=requester.id if requester else None,
        requested_by_name=requester.username if requester else None,
        created_at=now,
        queued_at=None if approval else now,
        log=[],
    )
    session.add(deployment)
    await session.flush()
    return deployment


async def end_waiting_deployments(session: AsyncSession, build: Build) -> list[uuid.UUID]:
    """The build ended: its deployments that wait are cancelled, and a script deploy that
    runs (whose agent can no longer report) fails. A server's rollout goes on to its end: a
    rollout stopped half-way leaves the environment worse than either version.

    Each change is a conditional UPDATE on the status read: an approval or a start that
    commits in between (they lock the row, this does not read under a lock) makes it change
    nothing, so a deployment that started is never overwritten as cancelled while its
    rollout runs."""
    rows = await session.execute(
        sa.select(Deployment.id, Deployment.status, Deployment.target).where(
            Deployment.build_id == build.id,
            Deployment.kind == "deploy",
            Deployment.status.in_((*queue.WAITING, queue.RUNNING)),
        )
    )
    ended = []
    for deployment_id, status, target in rows.all():
        changes: list[tuple[tuple[str, ...], str, str]] = []
        if status in queue.WAITING:
            changes.append((queue.WAITING, queue.CANCELLED, f"its build ended ({build.status})"))
        if target is None:
            # Also one that started in between: its agent can no longer report either.
            message = f"its build ended ({build.status}) before the step did"
            changes.append(((queue.RUNNING,), queue.FAILED, message))
        for was, new, message in changes:
            result = await session.execute(
                sa.update(Deployment)
                .where(Deployment.id == deployment_id, Deployment.status.in_(was))
                .values(status=new, finished_at=utcnow(), message=message, lease_until=None)
                .execution_options(synchronize_session="fetch")
            )
            if getattr(result, "rowcount", 0):
                ended.append(deployment_id)
                break
    return ended
