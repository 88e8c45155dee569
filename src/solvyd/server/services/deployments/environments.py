"""Environments: made by the first deployment to them, or by an admin who protects one
(`approval_required`) before anything is deployed there."""

import uuid

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from solvyd.server.db import dialects
from solvyd.server.db.models import Environment
from solvyd.server.services import audit
from solvyd.server.services.audit import Actor
from solvyd.server.services.context import ServerContext
from solvyd.shared.clock import utcnow


async def get_environment(session: AsyncSession, name: str) -> Environment | None:
    found: Environment | None = await session.scalar(
        sa.select(Environment).where(Environment.name == name)
    )
    return found


async def ensure_environment(session: AsyncSession, name: str, dialect: str) -> Environment:
    """The environment named `name`, made if new. Two servers making it at once make one."""
    now = utcnow()
    await dialects.insert_ignoring_duplicates(
        session,
        Environment,
        {
            "id": uuid.uuid4(),
            "name": name,
            "approval_required": False,
            "next_number": 1,
            "created_at": now,
            "updated_at": now,
        },
        dialect,
    )
    environment = await get_environment(session, name)
    assert environment is not None  # noqa: S101 - inserted or already there, in this transaction
    return environment


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
