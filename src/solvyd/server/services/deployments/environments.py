"""Environments: made by the first deployment to them, or by an admin who protects one
(`approval_required`) before anything is deployed there. A Kubernetes Deployment belongs to
the environment whose deployment to it started first (`bind_target`)."""

import uuid

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from solvyd.server.db import dialects
from solvyd.server.db.models import Environment, EnvironmentTarget
from solvyd.server.services import audit
from solvyd.server.services.audit import Actor
from solvyd.server.services.context import ServerContext
from solvyd.server.services.errors import Conflict
from solvyd.shared.clock import utcnow


async def get_environment(session: AsyncSession, name: str) -> Environment | None:
    found: Environment | None = await session.scalar(
        sa.select(Environment).where(Environment.name == name)
    )
    return found


async def ensure_environment(
    session: AsyncSession, name: str, dialect: str, *, protect_if_new: bool = False
) -> Environment:
    """The environment named `name`, made if new (protected when `protect_if_new`). Two
    servers making it at once make one."""
    now = utcnow()
    await dialects.insert_ignoring_duplicates(
        session,
        Environment,
        {
            "id": uuid.uuid4(),
            "name": name,
            "approval_required": protect_if_new,
            "next_number": 1,
            "created_at": now,
            "updated_at": now,
        },
        dialect,
    )
    environment = await get_environment(session, name)
    assert environment is not None  # noqa: S101 - inserted or already there, in this transaction
    return environment


def target_refused(namespace: str, deployment: str, owner: str) -> str:
    return (
        f"deployment {namespace}/{deployment} belongs to environment '{owner}': only "
        f"deployments to '{owner}' may change it"
    )


async def target_owner(session: AsyncSession, namespace: str, deployment: str) -> str | None:
    """The name of the environment the Kubernetes Deployment is bound to, if any."""
    owner: str | None = await session.scalar(
        sa.select(Environment.name)
        .join(EnvironmentTarget, EnvironmentTarget.environment_id == Environment.id)
        .where(EnvironmentTarget.namespace == namespace, EnvironmentTarget.deployment == deployment)
    )
    return owner


async def check_target(
    session: AsyncSession, environment: Environment, namespace: str, deployment: str
) -> None:
    """Conflict if another environment has the Kubernetes Deployment `namespace/deployment`.
    Protection is per environment and a pipeline names both: without this, a branch could
    roll production's Deployment out under a new, unprotected environment name, with the
    server's credentials."""
    owner = await target_owner(session, namespace, deployment)
    if owner is not None and owner != environment.name:
        raise Conflict(target_refused(namespace, deployment, owner))


async def bind_target(
    session: AsyncSession, environment_id: uuid.UUID, namespace: str, deployment: str
) -> str | None:
    """Bind `namespace/deployment` to the environment if it is nobody's yet, as one of its
    deployments starts (the first to touch it: a deployment rejected or cancelled before
    binds nothing, so merely registering one cannot squat a Deployment). The name of the
    environment it belongs to now (two servers binding at once bind it once)."""
    dialect = session.get_bind().dialect.name
    await dialects.insert_ignoring_duplicates(
        session,
        EnvironmentTarget,
        {
            "id": uuid.uuid4(),
            "environment_id": environment_id,
            "namespace": namespace,
            "deployment": deployment,
            "created_at": utcnow(),
        },
        dialect,
    )
    return await target_owner(session, namespace, deployment)


async def bound_targets(session: AsyncSession, environment_id: uuid.UUID) -> list[tuple[str, str]]:
    """The Kubernetes Deployments bound to the environment, as (namespace, deployment)."""
    rows = await session.execute(
        sa.select(EnvironmentTarget.namespace, EnvironmentTarget.deployment)
        .where(EnvironmentTarget.environment_id == environment_id)
        .order_by(EnvironmentTarget.namespace, EnvironmentTarget.deployment)
    )
    return [(row.namespace, row.deployment) for row in rows]


async def update_environment(
    ctx: ServerContext, name: str, *, approval_required: bool, actor: Actor
) -> Environment:
    async with ctx.db.transaction() as session:
        environment = await ensure_environment(session, name, ctx.db.dialect)
        was = environment.approval_required
        environment.approval_required = approval_required
        environment.updated_at = utcnow()
        audit.record(
            session,
            actor,
            "environment.update",
            f"environment:{name}",
            approval_required=approval_required,
            was=was,
        )
    return environment
