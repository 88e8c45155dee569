"""Users: the first admin, who a bearer token belongs to, and the admins' user management."""

import asyncio
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from solvyd.server.auth.passwords import hash_password
from solvyd.server.auth.roles import Role
from solvyd.server.db.models import User
from solvyd.server.services import api_tokens, audit, sessions
from solvyd.server.services.audit import Actor
from solvyd.server.services.context import ServerContext
from solvyd.server.services.errors import Conflict, NotFound


async def ensure_admin(ctx: ServerContext) -> str | None:
    """Create the admin user if there are no users yet.

    Returns the password only when it was generated here, so the caller can show it once.
    """
    async with ctx.db.transaction() as session:
        if await session.scalar(sa.select(sa.func.count()).select_from(User)):
            return None
        given = ctx.settings.admin_password
        password = given.get_secret_value() if given else secrets.token_urlsafe(12)
        session.add(
            User(
                username=ctx.settings.admin_username,
                password_hash=hash_password(password),
                role="admin",
            )
        )
    return None if given else password


@dataclass(frozen=True)
class Principal:
    """A signed-in user and the role this request acts with (a token's scopes may narrow it).
    `session_id` is the login session of an access token; None for a personal API token."""

    user: User
    role: Role
    session_id: uuid.UUID | None = None
    # When the personal API token of the request expires; None for an access token.
    token_expires_at: datetime | None = None


async def authenticate(ctx: ServerContext, token: str, *, fresh: bool = False) -> Principal:
    """The user behind a bearer token (an access token or a personal API token); Unauthorized
    for anything not valid now, including any token of a disabled user. An access token's
    session is believed from this server's look of the last few seconds unless `fresh`."""
    if token.startswith(api_tokens.PREFIX):
        owner, role, expires_at = await api_tokens.owner_of_token(ctx, token)
        return Principal(owner, role, token_expires_at=expires_at)
    user, session_id = await sessions.user_of_access_token(ctx, token, fresh=fresh)
    return Principal(user, Role(user.role), session_id)


async def create_user(
    ctx: ServerContext, username: str, password: str, role: Role, actor: Actor
) -> User:
    password_hash = await asyncio.to_thread(hash_password, password)
    user = User(id=uuid.uuid4(), username=username, password_hash=password_hash, role=role)
    try:
        async with ctx.db.transaction() as session:
            if await session.scalar(sa.select(User.id).where(User.username == username)):
                raise Conflict(f"a user named {username!r} already exists")
            session.add(user)
            await session.flush()
            audit.record(session, actor, "user.create", f"user:{username}", role=role.value)
    except IntegrityError as exc:  # created by a concurrent request since the check
        raise Conflict(f"a user named {username!r} already exists") from exc
    return user


async def list_users(ctx: ServerContext) -> list[User]:
    async with ctx.db.transaction() as session:
        return list(await session.scalars(sa.select(User).order_by(User.username)))


async def get_user(ctx: ServerContext, user_id: uuid.UUID) -> User:
    async with ctx.db.transaction() as session:
        user = await session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id} not found")
    return user


async def update_user(
    ctx: ServerContext,
    user_id: uuid.UUID,
    actor: Actor,
    *,
    role: Role | None = None,
    disabled: bool | None = None,
    password: str | None = None,
) -> User:
    """Change a user's role, disabled flag or password. The last enabled admin can be neither
    demoted nor disabled (nobody could manage users any more). Disabling a user or setting a
    new password ends the user's login sessions."""
    password_hash = await asyncio.to_thread(hash_password, password) if password else None
    async with ctx.db.transaction() as session:
        admins = await _enabled_admins(session) if role or disabled is not None else []
        user = await session.get(User, user_id, with_for_update=True)
        if user is None:
            raise NotFound(f"user {user_id} not found")
        target = f"user:{user.username}"
        stays_admin = (role or user.role) == Role.ADMIN
        stays_enabled = not (user.disabled if disabled is None else disabled)
        if admins == [user.id] and not (stays_admin and stays_enabled):
            raise Conflict(
                f"{user.username!r} is the last enabled admin; make another user admin first"
            )
        if role is not None and role != user.role:
            audit.record(session, actor, "user.role", target, old=user.role, new=role.value)
            user.role = role
        if disabled is not None and disabled != user.disabled:
            user.disabled = disabled
            audit.record(session, actor, "user.disable" if disabled else "user.enable", target)
            if disabled:
                await sessions.end_sessions_of(session, user.id)
        if password_hash is not None:
            await _set_password(session, user, password_hash, actor)
    # Its sessions may have ended, or stand for another role now.
    sessions.sessions_changed(ctx)
    return user


async def _set_password(
    session: AsyncSession,
    user: User,
    password_hash: str,
    actor: Actor,
    *,
    keep_session: uuid.UUID | None = None,
) -> None:
    """A new password ends the user's login sessions (but `keep_session`): whoever knew the old
    one may hold one of them."""
    user.password_hash = password_hash
    audit.record(session, actor, "user.password", f"user:{user.username}")
    await sessions.end_sessions_of(session, user.id, keep=keep_session)


async def _enabled_admins(session: AsyncSession) -> list[uuid.UUID]:
    # Locked, and in one order, before the user to change: two admins demoting each other at
    # once then take turns, and the second sees the first's change (no deadlock either).
    query = (
        sa.select(User.id)
        .where(User.role == Role.ADMIN, User.disabled.is_(False))
        .order_by(User.id)
        .with_for_update()
    )
    return list(await session.scalars(query))


async def change_own_password(
    ctx: ServerContext, caller: Principal, current: str, new: str, ip: str | None
) -> None:
    """A signed-in user sets a new password, proving the current one. Every other login
    session of theirs ends (one of them may be whoever made the user change it); the session
    of this request, if any, stays. Personal API tokens stay: revoke them on their own."""
    user = caller.user
    await sessions.check_own_password(ctx, user, current, ip)
    password_hash = await asyncio.to_thread(hash_password, new)
    async with ctx.db.transaction() as session:
        locked = await session.get(User, user.id, with_for_update=True)
        if locked is None:
            raise NotFound(f"user {user.id} not found")
        await _set_password(
            session, locked, password_hash, Actor.of(locked, ip), keep_session=caller.session_id
        )
    sessions.sessions_changed(ctx)
