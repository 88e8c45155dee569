"""Personal API tokens: long-lived bearer tokens a user makes for scripts and the CLI.

Stored as their SHA-256 only. A token acts with its owner's role capped by its scopes
(`roles.role_with_scopes`), until it expires or is revoked, and never while its owner is
disabled. `last_used_at` is written at most once a minute, not on every request.
"""

import uuid
from datetime import datetime, timedelta

import sqlalchemy as sa

from solvyd.server.auth.roles import Role, role_with_scopes
from solvyd.server.db.models import ApiToken, User
from solvyd.server.services import audit
from solvyd.server.services.audit import Actor
from solvyd.server.services.context import ServerContext
from solvyd.server.services.errors import Forbidden, NotFound, Unauthorized
from solvyd.shared.clock import as_utc, utcnow
from solvyd.shared.ids import new_token, token_digest

PREFIX = "svp_"
LAST_USED_RESOLUTION = timedelta(minutes=1)


async def create_token(
    ctx: ServerContext,
    owner: User,
    caller_role: Role,
    name: str,
    scopes: list[str],
    expires_in_days: int,
    actor: Actor,
    *,
    not_after: datetime | None = None,
) -> tuple[ApiToken, str]:
    """A new token of `owner`, and its value (shown this once). A caller signed in with a
    narrower token cannot make a wider one: that would undo its own scopes. A caller using a
    personal token passes its expiry as `not_after`, and the new token expires no later: a
    leaked short-lived token cannot mint itself a long-lived successor."""
    if not caller_role.includes(role_with_scopes(Role(owner.role), scopes)):
        raise Forbidden(f"a {caller_role} token cannot create a token with more rights")
    value = new_token(PREFIX)
    now = utcnow()
    expires_at = now + timedelta(days=expires_in_days)
    if not_after is not None:
        expires_at = min(expires_at, as_utc(not_after))
    token = ApiToken(
        id=uuid.uuid4(),
        user_id=owner.id,
        name=name,
        token_hash=token_digest(value),
        scopes=scopes,
        created_at=now,
        expires_at=expires_at,
    )
    async with ctx.db.transaction() as session:
        session.add(token)
        audit.record(
            session,
            actor,
            "token.create",
            f"token:{token.id}",
            name=name,
            owner=owner.username,
            scopes=scopes,
            expires_at=expires_at.isoformat(),
        )
    return token, value


async def list_tokens(ctx: ServerContext, user_id: uuid.UUID | None) -> list[ApiToken]:
    """The tokens of one user, or of everyone for None; newest first."""
    query = sa.select(ApiToken).order_by(ApiToken.created_at.desc(), ApiToken.id)
    if user_id is not None:
        query = query.where(ApiToken.user_id == user_id)
    async with ctx.db.transaction() as session:
        return list(await session.scalars(query))


async def revoke_token(
    ctx: ServerContext, token_id: uuid.UUID, caller: User, caller_role: Role, actor: Actor
) -> None:
    """Revoke a token of the caller's own, or anyone's for an admin; 404 for the tokens of
    others, so nobody learns which ids exist. Revoking twice changes nothing."""
    async with ctx.db.transaction() as session:
        token = await session.get(ApiToken, token_id)
        if token is None or (token.user_id != caller.id and caller_role is not Role.ADMIN):
            raise NotFound(f"token {token_id} not found")
        if token.revoked_at is not None:
            return
        token.revoked_at = utcnow()
        audit.record(session, actor, "token.revoke", f"token:{token.id}", name=token.name)


async def owner_of_token(ctx: ServerContext, value: str) -> tuple[User, Role, datetime | None]:
    """The owner of a valid token, the role the token acts with, and when it expires."""
    now = utcnow()
    async with ctx.db.transaction() as session:
        row = (
            await session.execute(
                sa.select(ApiToken, User)
                .join(User, User.id == ApiToken.user_id)
                .where(ApiToken.token_hash == token_digest(value))
            )
        ).one_or_none()
        if row is None:
            raise Unauthorized("invalid or expired token")
        token, owner = row.ApiToken, row.User
        if (
            token.revoked_at is not None
            or (token.expires_at is not None and token.expires_at <= now)
            or owner.disabled
        ):
            raise Unauthorized("invalid or expired token")
        if token.last_used_at is None or token.last_used_at <= now - LAST_USED_RESOLUTION:
            token.last_used_at = now
    return owner, role_with_scopes(Role(owner.role), list(token.scopes)), token.expires_at
