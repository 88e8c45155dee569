"""Agent registration tokens: made by admins, one per fleet or machine, so that one can be
revoked without changing SOLVYD_AGENT_TOKEN everywhere. Stored as their SHA-256 only.

A registration token only lets an agent register; the worker then acts with its own `svw_`
token, so revoking a registration token does not stop agents already registered with it.
A token may grant only some labels: a worker registered with it may neither have nor claim
others (the grant is copied onto the worker, and claims read it there).
"""

import hmac
import uuid
from collections.abc import Collection
from dataclasses import dataclass

import sqlalchemy as sa

from solvyd.server.db.models import AgentRegistrationToken
from solvyd.server.services import audit
from solvyd.server.services.audit import Actor
from solvyd.server.services.context import ServerContext
from solvyd.server.services.errors import NotFound
from solvyd.shared.clock import utcnow
from solvyd.shared.ids import new_token, token_digest

PREFIX = "sva_"


@dataclass(frozen=True)
class Grant:
    """What an accepted registration token lets its agent be: the labels it may have and
    claim, or None for any (SOLVYD_AGENT_TOKEN, and tokens made without labels)."""

    labels: frozenset[str] | None = None

    def refused(self, labels: Collection[str]) -> list[str]:
        """The labels of `labels` this grant does not cover."""
        if self.labels is None:
            return []
        return sorted(set(labels) - self.labels)


async def create_token(
    ctx: ServerContext, name: str, labels: Collection[str] | None, actor: Actor
) -> tuple[AgentRegistrationToken, str]:
    value = new_token(PREFIX)
    token = AgentRegistrationToken(
        id=uuid.uuid4(),
        name=name,
        token_hash=token_digest(value),
        created_by=actor.user_id,
        created_at=utcnow(),
        labels=None if labels is None else sorted(set(labels)),
    )
    async with ctx.db.transaction() as session:
        session.add(token)
        audit.record(
            session,
            actor,
            "agent_token.create",
            f"agent_token:{token.id}",
            name=name,
            labels=token.labels,
        )
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


async def accepts(ctx: ServerContext, value: str) -> Grant | None:
    """What `value` grants if it may register an agent: the server's SOLVYD_AGENT_TOKEN (any
    label), or a registration token that was not revoked (whose use is then noted); else
    None."""
    if hmac.compare_digest(value.encode(), ctx.keys.agent_token.encode()):
        return Grant()
    if not value.startswith(PREFIX):
        return None
    async with ctx.db.transaction() as session:
        used = await session.execute(
            sa.update(AgentRegistrationToken)
            .where(
                AgentRegistrationToken.token_hash == token_digest(value),
                AgentRegistrationToken.revoked_at.is_(None),
            )
            .values(last_used_at=utcnow())
            .returning(AgentRegistrationToken.labels)
        )
        row = used.first()
    if row is None:
        return None
    labels = row[0]
    return Grant(None if labels is None else frozenset(labels))
