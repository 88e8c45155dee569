"""Rollback: redeploy an earlier successful deployment's version, as a new deployment of its
own (kind `rollback` by a user, `auto_rollback` by the server after a failed rollout). Only a
deployment the server performed (the `kubernetes` target) can be redeployed this way: a
script deploy's steps are not the server's to run again."""

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from solvyd.server.db.models import Deployment, Environment
from solvyd.server.events import DEPLOYMENTS, deployment_topic
from solvyd.server.services import audit
from solvyd.server.services.audit import SYSTEM, Actor
from solvyd.server.services.context import ServerContext
from solvyd.server.services.deployments import queue
from solvyd.server.services.deployments.environments import get_environment
from solvyd.server.services.errors import Conflict, NotFound
from solvyd.shared.clock import utcnow


async def current_deployment(session: AsyncSession, environment_id: uuid.UUID) -> Deployment | None:
    """What runs in the environment: its latest successful deployment."""
    found: Deployment | None = await session.scalar(
        sa.select(Deployment)
        .where(Deployment.environment_id == environment_id, Deployment.status == queue.SUCCEEDED)
        .order_by(Deployment.finished_at.desc(), Deployment.number.desc())
        .limit(1)
    )
    return found


def _target_key(target: dict[str, Any] | None) -> tuple[str, str, str | None] | None:
    if target is None:
        return None
    return (str(target.get("namespace")), str(target.get("deployment")), target.get("container"))


async def _latest_good_of_target(
    session: AsyncSession,
    environment_id: uuid.UUID,
    target: dict[str, Any] | None,
    *,
    before: Deployment | None = None,
) -> Deployment | None:
    """The environment's latest successful deployment to the same (namespace, deployment,
    container) as `target` (an environment may hold several Deployments: going back must
    not set one's image on another), before `before` and of another version when given."""
    query = (
        sa.select(Deployment)
        .where(Deployment.environment_id == environment_id, Deployment.status == queue.SUCCEEDED)
        .order_by(Deployment.finished_at.desc(), Deployment.number.desc())
    )
    if before is not None:
        query = query.where(
            Deployment.id != before.id,
            Deployment.version != before.version,
            Deployment.finished_at <= before.finished_at,
        )
    # The target is JSON, compared here: read a page at a time, newest first.
    key = _target_key(target)
    offset = 0
    while True:
        page = list(await session.scalars(query.offset(offset).limit(100)))
        for deployment in page:
            if _target_key(deployment.target) == key:
                return deployment
        if len(page) < 100:
            return None
        offset += len(page)


def _not_redeployable(deployment: Deployment) -> str | None:
    if deployment.target is None:
        return (
            f"deployment #{deployment.number} ({deployment.version}) was made by its step's "
            "script, which only its build can run again: rerun that build instead"
        )
    return None


async def queue_rollback(
    session: AsyncSession,
    environment: Environment,
    to: Deployment,
    replacing: Deployment | None,
    actor: Actor,
    *,
    kind: str,
) -> Deployment:
    """A new deployment of `to`'s version, in the queue (rollbacks go first in it)."""
    environment = await queue.lock_environment(session, environment.id)
    number = environment.next_number
    environment.next_number += 1
    now = utcnow()
    rollback = Deployment(
        id=uuid.uuid4(),
        environment_id=environment.id,
        number=number,
        kind=kind,
        status=queue.QUEUED,
        job_id=to.job_id,
        job_name=to.job_name,
        build_id=to.build_id,
        build_number=to.build_number,
        commit_sha=to.commit_sha,
        step=to.step,
        attempt=None,
        version=to.version,
        target=to.target,
        rollback_policy="manual",
        rollout_timeout_seconds=to.rollout_timeout_seconds,
        approval_required=False,
        rolled_back_from=replacing.id if replacing is not None else None,
        requested_by=actor.user_id,
        requested_by_name=actor.name,
        created_at=now,
        queued_at=now,
        message=f"rolling back to deployment #{to.number} ({to.version})",
        log=[],
    )
    session.add(rollback)
    await session.flush()
    if replacing is not None:
        replacing.rolled_back_by = rollback.id
    audit.record(
        session,
        actor if actor.user_id else SYSTEM,
        "deployment.rollback",
        f"deployment:{rollback.id}",
        environment=environment.name,
        number=number,
        kind=kind,
        to_deployment=to.number,
        version=to.version,
        replacing=replacing.number if replacing is not None else None,
    )
    return rollback


async def rollback_environment(
    ctx: ServerContext, name: str, actor: Actor, deployment_id: uuid.UUID | None = None
) -> uuid.UUID:
    """Roll `name` back to `deployment_id` (one of its successful deployments), or else to the
    successful deployment before its current one. Answers the new deployment's id."""
    async with ctx.db.transaction() as session:
        environment = await get_environment(session, name)
        if environment is None:
            raise NotFound(f"environment '{name}' not found")
        current = await current_deployment(session, environment.id)
        if deployment_id is not None:
            chosen = await session.get(Deployment, deployment_id)
            if chosen is None or chosen.environment_id != environment.id:
                raise NotFound(f"environment '{name}' has no deployment {deployment_id}")
            if chosen.status != queue.SUCCEEDED:
                raise Conflict(
                    f"deployment #{chosen.number} did not succeed ({chosen.status}): only a "
                    "version that was deployed can be restored"
                )
            # What it replaces is what runs on its own target now.
            current = await _latest_good_of_target(session, environment.id, chosen.target)
        else:
            if current is None:
                raise Conflict(f"nothing was deployed to '{name}' yet: there is nothing to undo")
            chosen = await _latest_good_of_target(
                session, environment.id, current.target, before=current
            )
            if chosen is None:
                raise Conflict(
                    f"'{name}' has no successful deployment of another version to the same "
                    f"target before #{current.number}: there is nothing to roll back to"
                )
        refused = _not_redeployable(chosen) or (
            _not_redeployable(current) if current is not None else None
        )
        if refused:
            raise Conflict(refused)
        rollback = await queue_rollback(
            session, environment, chosen, current, actor, kind="rollback"
        )
        rollback_id, environment_id = rollback.id, environment.id
    ctx.events.notify(deployment_topic(rollback_id))
    ctx.events.notify(DEPLOYMENTS)
    await queue.advance(ctx, environment_id)
    return rollback_id


async def queue_auto_rollback(session: AsyncSession, failed: Deployment) -> Deployment | None:
    """After `failed`'s rollout failed (its step says `rollback: auto`): a rollback to the
    environment's last successful deployment to the same target, or None when it has none."""
    environment = await session.get(Environment, failed.environment_id)
    if environment is None:
        return None
    last_good = await _latest_good_of_target(session, failed.environment_id, failed.target)
    if last_good is None or last_good.target is None:
        return None
    return await queue_rollback(
        session, environment, last_good, failed, SYSTEM, kind="auto_rollback"
    )
