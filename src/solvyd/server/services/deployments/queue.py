"""The environment's queue: which deployment runs next, and why the others wait.

Concurrency 1 per environment: a deployment starts only under the lock of its environment's
row, and only if none of the environment's deployments is running. On PostgreSQL the row lock
makes this hold across server processes; SQLite has one writer at a time anyway."""

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from solvyd.protocol.messages import FINISHED_DEPLOYMENT_STATUSES
from solvyd.server.db.models import Deployment, Environment
from solvyd.server.events import DEPLOYMENTS, deployment_topic
from solvyd.server.services.context import ServerContext
from solvyd.server.services.deployments.environments import bind_target, target_refused
from solvyd.shared.clock import utcnow

AWAITING_APPROVAL = "awaiting_approval"
QUEUED = "queued"
RUNNING = "running"
SUCCEEDED = "succeeded"
FAILED = "failed"
CANCELLED = "cancelled"
REJECTED = "rejected"
WAITING = (AWAITING_APPROVAL, QUEUED)
# Progress lines kept per deployment (the first ones and the last ones matter; a rollout that
# says more is cut in the middle).
MAX_LOG_LINES = 500


def is_finished(deployment: Deployment) -> bool:
    return deployment.status in FINISHED_DEPLOYMENT_STATUSES


async def lock_environment(session: AsyncSession, environment_id: uuid.UUID) -> Environment:
    """The environment's row, locked for this transaction (PostgreSQL; SQLite's transactions
    take the database's write lock at their start)."""
    query = sa.select(Environment).where(Environment.id == environment_id).with_for_update()
    environment: Environment = (await session.scalars(query)).one()
    return environment


def _next_in_queue() -> sa.Select[Any]:
    # Rollbacks go first: they restore a working version, which is what waits most urgently.
    return (
        sa.select(Deployment)
        .where(Deployment.status == QUEUED)
        .order_by(sa.case((Deployment.kind == "deploy", 1), else_=0), Deployment.queued_at)
        .order_by(Deployment.number)
    )


async def start_next(
    session: AsyncSession, environment_id: uuid.UUID, refused: list[uuid.UUID] | None = None
) -> Deployment | None:
    """Start the environment's next queued deployment unless one runs; the one started. One
    whose Kubernetes Deployment another environment's deployment bound first fails (its id
    is added to `refused`), and the next one is tried."""
    environment = await lock_environment(session, environment_id)
    running = await session.scalar(
        sa.select(Deployment.id).where(
            Deployment.environment_id == environment_id, Deployment.status == RUNNING
        )
    )
    if running is not None:
        return None
    while True:
        deployment: Deployment | None = await session.scalar(
            _next_in_queue().where(Deployment.environment_id == environment_id).limit(1)
        )
        if deployment is None:
            return None
        target = deployment.target
        if target is None:
            break
        namespace, name = str(target.get("namespace")), str(target.get("deployment"))
        owner = await bind_target(session, environment_id, namespace, name)
        if owner == environment.name:
            break
        finish(deployment, FAILED, target_refused(namespace, name, owner or "?"))
        await session.flush()
        if refused is not None:
            refused.append(deployment.id)
    deployment.status = RUNNING
    deployment.started_at = utcnow()
    deployment.message = None
    # No server rolls it out yet: the first runner to look takes it (runner.py).
    deployment.lease_until = None
    deployment.lease_holder = None
    return deployment


async def advance(ctx: ServerContext, environment_id: uuid.UUID) -> Deployment | None:
    """`start_next` in a transaction of its own, and wake who waits on what it started."""
    refused: list[uuid.UUID] = []
    async with ctx.db.transaction() as session:
        started = await start_next(session, environment_id, refused)
        started_id = started.id if started is not None else None
    for deployment_id in [*refused, *([started_id] if started_id is not None else [])]:
        ctx.events.notify(deployment_topic(deployment_id))
    if started_id is not None or refused:
        ctx.events.notify(DEPLOYMENTS)
    return started


async def environments_with_queued(session: AsyncSession) -> list[uuid.UUID]:
    query = sa.select(Deployment.environment_id).where(Deployment.status == QUEUED).distinct()
    return list(await session.scalars(query))


async def any_running(session: AsyncSession) -> bool:
    query = sa.select(Deployment.id).where(Deployment.status == RUNNING).limit(1)
    return (await session.scalar(query)) is not None


def finish(deployment: Deployment, status: str, message: str | None) -> None:
    deployment.status = status
    deployment.finished_at = utcnow()
    deployment.message = message
    deployment.lease_until = None
    deployment.lease_holder = None


def add_log_line(deployment: Deployment, text: str) -> None:
    """Append a progress line (a new list: the JSON column is written whole)."""
    lines = list(deployment.log or [])
    lines.append({"ts": utcnow().isoformat(), "text": text[:2000]})
    if len(lines) > MAX_LOG_LINES:
        keep = MAX_LOG_LINES // 2
        lines = [*lines[:keep], {"ts": lines[keep]["ts"], "text": "[...]"}, *lines[-keep + 1 :]]
    deployment.log = lines


async def waiting_reasons(
    session: AsyncSession, deployments: list[Deployment]
) -> dict[uuid.UUID, str]:
    """Why each waiting deployment waits: its approval, or the deployment before it in its
    environment (the running one, else the next in line)."""
    reasons: dict[uuid.UUID, str] = {}
    queued_envs = {d.environment_id for d in deployments if d.status == QUEUED}
    ahead: dict[uuid.UUID, list[Deployment]] = {}
    names: dict[uuid.UUID, str] = {}
    if queued_envs:
        rows = await session.scalars(
            sa.select(Deployment)
            .where(
                Deployment.environment_id.in_(queued_envs),
                Deployment.status.in_((RUNNING, QUEUED)),
            )
            .order_by(sa.case((Deployment.status == RUNNING, 0), else_=1))
            .order_by(sa.case((Deployment.kind == "deploy", 1), else_=0), Deployment.queued_at)
            .order_by(Deployment.number)
        )
        for row in rows:
            ahead.setdefault(row.environment_id, []).append(row)
        found = await session.execute(
            sa.select(Environment.id, Environment.name).where(Environment.id.in_(queued_envs))
        )
        names = {row.id: row.name for row in found}
    for deployment in deployments:
        if deployment.status == AWAITING_APPROVAL:
            reasons[deployment.id] = "waiting for approval"
        elif deployment.status == QUEUED:
            line = ahead.get(deployment.environment_id, [])
            position = next((i for i, d in enumerate(line) if d.id == deployment.id), 0)
            before = line[position - 1] if position > 0 else None
            if before is not None:
                reasons[deployment.id] = (
                    f"waiting for deployment #{before.number} to "
                    f"{names.get(deployment.environment_id, 'its environment')}"
                )
            else:
                reasons[deployment.id] = "waiting for its turn"
    return reasons
