"""Users: the first admin, login."""

import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select

from solvyd.server.auth.access_tokens import (
    InvalidAccessToken,
    issue_access_token,
    read_access_token,
)
from solvyd.server.auth.passwords import hash_password, verify_password
from solvyd.server.auth.roles import Role
from solvyd.server.db.models import User
from solvyd.server.services.context import ServerContext
from solvyd.server.services.errors import Unauthorized


async def ensure_admin(ctx: ServerContext) -> str | None:
    """Create the admin user if there are no users yet.

    Returns the password only when it was generated here, so the caller can show it once.
    """
    async with ctx.db.transaction() as session:
        if await session.scalar(select(func.count()).select_from(User)):
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


async def log_in(ctx: ServerContext, username: str, password: str) -> str:
    """An access token for valid credentials; one answer for every kind of failure."""
    async with ctx.db.transaction() as session:
        user = await session.scalar(select(User).where(User.username == username))
    valid = verify_password(user.password_hash if user else None, password)
    if user is None or not valid or user.disabled:
        raise Unauthorized("invalid username or password")
    return issue_access_token(
        user.id, ctx.keys.jwt_secret, timedelta(minutes=ctx.settings.access_token_minutes)
    )


@dataclass(frozen=True)
class Principal:
    """A signed-in user and the role this request acts with (a token's scopes may narrow it)."""

    user: User
    role: Role


async def authenticate(ctx: ServerContext, token: str) -> Principal:
    """The user behind a bearer token; Unauthorized for anything not valid now."""
    user = await user_from_access_token(ctx, token)
    return Principal(user, Role(user.role))


async def user_from_access_token(ctx: ServerContext, token: str) -> User:
    try:
        user_id = read_access_token(token, ctx.keys.jwt_secret)
    except InvalidAccessToken as exc:
        raise Unauthorized("invalid or expired token") from exc
    async with ctx.db.transaction() as session:
        user = await session.get(User, user_id)
    if user is None or user.disabled:
        raise Unauthorized("invalid or expired token")
    return user


async def get_user(ctx: ServerContext, user_id: uuid.UUID) -> User | None:
    async with ctx.db.transaction() as session:
        return await session.get(User, user_id)
