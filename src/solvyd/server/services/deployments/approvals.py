"""Approve or reject a deployment that waits for a developer (its step or its environment
asks for one). Who and when are kept on the deployment and in the audit log."""

import uuid

from solvyd.server.db.models import Deployment, Environment
from solvyd.server.events import DEPLOYMENTS, deployment_topic
from solvyd.server.services import audit
from solvyd.server.services.audit import Actor
from solvyd.server.services.context import ServerContext
from solvyd.server.services.deployments import queue
from solvyd.server.services.errors import Conflict, NotFound
from solvyd.shared.clock import utcnow


async def _decide(
    ctx: ServerContext, deployment_id: uuid.UUID, actor: Actor, *, approve: bool, reason: str | None
) -> uuid.UUID:
    async with ctx.db.transaction() as session:
        deployment = await session.get(Deployment, deployment_id, with_for_update=True)
        if deployment is None:
            raise NotFound(f"deployment {deployment_id} not found")
        if deployment.status != queue.AWAITING_APPROVAL:
            raise Conflict(
                f"deployment #{deployment.number} does not wait for an approval "
                f"(it is {deployment.status})"
            )
        environment = await session.get(Environment, deployment.environment_id)
        now = utcnow()
        deployment.approved_by = actor.user_id
        deployment.approved_by_name = actor.name
        deployment.approved_at = now
        if approve:
            deployment.status = queue.QUEUED
            deployment.queued_at = now
        else:
            why = f"rejected by {actor.name or 'an admin'}" + (f": {reason}" if reason else "")
            queue.finish(deployment, queue.REJECTED, why)
        audit.record(
            session,
            actor,
            "deployment.approve" if approve else "deployment.reject",
            f"deployment:{deployment.id}",
            environment=environment.name if environment else None,
            number=deployment.number,
            version=deployment.version,
            build_id=str(deployment.build_id) if deployment.build_id else None,
            **({"reason": reason} if reason else {}),
        )
        environment_id = deployment.environment_id
    ctx.events.notify(deployment_topic(deployment_id))
    ctx.events.notify(DEPLOYMENTS)
    return environment_id


async def approve_deployment(ctx: ServerContext, deployment_id: uuid.UUID, actor: Actor) -> None:
    environment_id = await _decide(ctx, deployment_id, actor, approve=True, reason=None)
    await queue.advance(ctx, environment_id)


async def reject_deployment(
    ctx: ServerContext, deployment_id: uuid.UUID, actor: Actor, reason: str | None
) -> None:
    await _decide(ctx, deployment_id, actor, approve=False, reason=reason)
