"""Agent registration tokens: made by admins, one per fleet or machine, so that one can be
revoked without changing SOLVYD_AGENT_TOKEN everywhere. Stored as their SHA-256 only.

A registration token only lets an agent register; the worker then acts with its own `svw_`
token, so revoking a registration token does not stop agents already registered with it.
"""

import hmac
import uuid

import sqlalchemy as sa

from solvyd.server.db.models import AgentRegistrationToken
from solvyd.server.services import audit
from solvyd.server.services.audit import Actor
from solvyd.server.services.context import ServerContext
from solvyd.server.services.errors import NotFound
from solvyd.shared.clock import utcnow
from solvyd.shared.ids import new_token, token_digest

PREFIX = "sva_"


async def create_token(
    ctx: ServerContext, name: str, actor: Actor
) -> tuple[AgentRegistrationToken, str]:
    value = new_token(PREFIX)
    token = AgentRegistrationToken(
        id=uuid.uuid4(),
        name=name,
        token_hash=token_digest(value),
        created_by=actor.user_id,
        created_at=utcnow(),
    )
    async with ctx.db.transaction() as session:
        session.add(token)
        audit.record(session, actor, "agent_token.create", f"agent_token:{token.id}", name=name)
    return token, value


async def list_tokens(ctx: ServerContext) -> list[AgentRegistrationToken]:
    query = sa.select(AgentRegistrationToken).order_by(
        AgentRegistrationToken.created_at.desc(), AgentRegistrationToken.id
    )
    async with ctx.db.transaction() as session:
        return list(await session.scalars(query))


async def revoke_token(ctx: ServerContext, token_id: uuid.UUID, actor: Actor) -> None:
    """Revoking twice changes nothing."""
    async with ctx.db.transaction() as session:
        token = await session.get(AgentRegistrationToken, token_id)
        if token is None:
            raise NotFound(f"agent registration token {token_id} not found")
        if token.revoked_at is not None:
            return
        token.revoked_at = utcnow()
        target = f"agent_token:{token.id}"
        audit.record(session, actor, "agent_token.revoke", target, name=token.name)


async def accepts(ctx: ServerContext, value: str) -> bool:
    """Whether `value` may register an agent: the server's SOLVYD_AGENT_TOKEN, or a
    registration token that was not revoked (whose use is then noted)."""
    if hmac.compare_digest(value.encode(), ctx.keys.agent_token.encode()):
        return True
    if not value.startswith(PREFIX):
        return False
    async with ctx.db.transaction() as session:
        used = await session.execute(
            sa.update(AgentRegistrationToken)
            .where(
                AgentRegistrationToken.token_hash == token_digest(value),
                AgentRegistrationToken.revoked_at.is_(None),
            )
            .values(last_used_at=utcnow())
        )
    return bool(getattr(used, "rowcount", 0))
