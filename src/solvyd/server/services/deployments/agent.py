"""The agent's side of a deploy step: wait for the deployment's turn (and approval, and the
server's rollout), and report how a script deploy ended."""

import time
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from solvyd.protocol import DeploymentOutcome, DeploymentState
from solvyd.server.db.models import Deployment
from solvyd.server.events import DEPLOYMENTS, deployment_topic
from solvyd.server.services.builds.access import build_held_by
from solvyd.server.services.context import ServerContext
from solvyd.server.services.deployments import queue
from solvyd.server.services.deployments.state import agent_state
from solvyd.server.services.errors import Conflict, Forbidden, NotFound


async def _visible_to_worker(
    session: AsyncSession, deployment_id: uuid.UUID, worker_id: uuid.UUID, *, lock: bool = False
) -> Deployment:
    """The deployment, if the worker holds its build, or the build of the deployment it rolls
    back (a deploy step follows the automatic rollback of its failed rollout)."""
    deployment = await session.get(Deployment, deployment_id, with_for_update=lock)
    if deployment is None:
        raise NotFound(f"deployment {deployment_id} not found")
    build_id = deployment.build_id
    if deployment.kind == "auto_rollback" and deployment.rolled_back_from is not None:
        failed = await session.get(Deployment, deployment.rolled_back_from)
        build_id = failed.build_id if failed is not None else None
    if build_id is None:
        raise Forbidden("this deployment is not one of this worker's builds")
    await build_held_by(session, build_id, worker_id, lock=False)
    return deployment


async def wait_for_change(
    ctx: ServerContext,
    worker_id: uuid.UUID,
    deployment_id: uuid.UUID,
    *,
    status: str | None,
    after_line: int,
    wait: float,
) -> DeploymentState:
    """Answer when the deployment's status is not `status` or it has lines past
    `after_line`, or once `wait` seconds passed."""
    deadline = time.monotonic() + min(wait, ctx.settings.max_claim_wait_seconds)
    while True:
        signal = ctx.events.listen(deployment_topic(deployment_id))
        async with ctx.db.transaction() as session:
            deployment = await _visible_to_worker(session, deployment_id, worker_id)
            state = await agent_state(session, deployment, after_line)
        left = deadline - time.monotonic()
        if state.status != status or state.lines or left <= 0:
            return state
        await signal.wait(left)


async def report_outcome(
    ctx: ServerContext, worker_id: uuid.UUID, deployment_id: uuid.UUID, body: DeploymentOutcome
) -> DeploymentState:
    """How a running script deploy ended. The same report twice is a no-op."""
    async with ctx.db.transaction() as session:
        deployment = await _visible_to_worker(session, deployment_id, worker_id, lock=True)
        if body.attempt is not None and deployment.attempt != body.attempt:
            raise Conflict(
                f"this report is about attempt {body.attempt}; the deployment is of attempt "
                f"{deployment.attempt}"
            )
        if deployment.target is not None or deployment.kind != "deploy":
            raise Conflict("the server performs this deployment; an agent does not report it")
        if deployment.status == body.status:
            return await agent_state(session, deployment)
        if deployment.status != queue.RUNNING:
            raise Conflict(f"deployment #{deployment.number} is {deployment.status}, not running")
        queue.finish(deployment, body.status, body.message)
        environment_id = deployment.environment_id
        state = await agent_state(session, deployment)
    ctx.events.notify(deployment_topic(deployment_id))
    ctx.events.notify(DEPLOYMENTS)
    await queue.advance(ctx, environment_id)
    return state


async def step_stopped(
    ctx: ServerContext, worker_id: uuid.UUID, deployment_id: uuid.UUID
) -> DeploymentState:
    """The deploy step stopped before its deployment ended (its timeout, or a cancel the
    build went on from): a waiting deployment is cancelled, a script deploy that ran fails
    (its commands were stopped with the step). A server's rollout is carried to its end, as
    when a build ends: stopped half-way it would leave the environment worse than either
    version. Repeating it, or calling it after the end, changes nothing."""
    async with ctx.db.transaction() as session:
        deployment = await _visible_to_worker(session, deployment_id, worker_id, lock=True)
        if deployment.kind != "deploy":
            raise Conflict("only a deploy step's own deployment is stopped with its step")
        changed = True
        if deployment.status in queue.WAITING:
            queue.finish(deployment, queue.CANCELLED, "its step stopped before it deployed")
        elif deployment.status == queue.RUNNING and deployment.target is None:
            queue.finish(deployment, queue.FAILED, "its step stopped before the script ended")
        else:
            changed = False
        environment_id = deployment.environment_id
        state = await agent_state(session, deployment)
    if changed:
        ctx.events.notify(deployment_topic(deployment_id))
        ctx.events.notify(DEPLOYMENTS)
        await queue.advance(ctx, environment_id)
    return state
