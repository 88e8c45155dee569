"""Environments: made by the first deployment to them, or by an admin who protects one
(`approval_required`) before anything is deployed there. A Kubernetes Deployment belongs to
the environment that first deployed it (`bind_target`)."""

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


async def bind_target(
    session: AsyncSession, environment: Environment, namespace: str, deployment: str, dialect: str
) -> None:
    """Bind the Kubernetes Deployment `namespace/deployment` to `environment` if it is
    nobody's yet; Conflict if another environment has it. Protection is per environment and
    a pipeline names both: without this, a branch could roll production's Deployment out
    under a new, unprotected environment name, with the server's credentials."""
    await dialects.insert_ignoring_duplicates(
        session,
        EnvironmentTarget,
        {
            "id": uuid.uuid4(),
            "environment_id": environment.id,
            "namespace": namespace,
            "deployment": deployment,
            "created_at": utcnow(),
        },
        dialect,
    )
    owner = await session.scalar(
        sa.select(Environment.name)
        .join(EnvironmentTarget, EnvironmentTarget.environment_id == Environment.id)
        .where(EnvironmentTarget.namespace == namespace, EnvironmentTarget.deployment == deployment)
    )
    if owner != environment.name:
        raise Conflict(
            f"deployment {namespace}/{deployment} belongs to environment '{owner}': only "
            f"deployments to '{owner}' may change it"
        )


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
