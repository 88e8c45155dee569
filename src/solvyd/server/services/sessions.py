"""Login sessions: log in (password -> access + refresh token), refresh (rotation, with reuse
detection), log out. Failed logins are throttled per username and per client address.

An access token is a JWT naming its session (`sid`), valid for `access_token_minutes`; the
session is checked on every request (from what this server verified in the last few seconds,
which whatever ends a session empties on every server: `sessions_changed`), so logging out
ends its access tokens at once. A refresh
token works once: each refresh answers a new one and the old one stops working. Presenting an
already rotated one means two parties hold the session's tokens (one of them stole them), so
the whole session ends.
"""

import asyncio
import math
import uuid
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
import structlog
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached

from solvyd.server.auth.access_tokens import (
    InvalidAccessToken,
    VerifiedSession,
    issue_access_token,
    read_access_token,
)
from solvyd.server.auth.passwords import verify_password
from solvyd.server.auth.refresh_tokens import issue_refresh_token, session_of_refresh_token
from solvyd.server.db.models import LoginSession, User
from solvyd.server.events import USER_SESSIONS
from solvyd.server.services import audit
from solvyd.server.services.audit import Actor
from solvyd.server.services.context import ServerContext
from solvyd.server.services.errors import Forbidden, TooManyRequests, Unauthorized
from solvyd.shared.clock import utcnow
from solvyd.shared.ids import token_digest

log = structlog.get_logger(__name__)

# One answer for every failure, so an answer never tells whether a username exists.
INVALID_LOGIN = "invalid username or password"
THROTTLED = "too many failed logins; try again later"
INVALID_REFRESH = "invalid or expired refresh token"
INVALID_TOKEN = "invalid or expired token"  # noqa: S105 - a message, not a secret


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    refresh_token: str
    expires_in: int  # seconds the access token is valid


def _throttle_keys(ctx: ServerContext, username: str, ip: str | None) -> list[tuple[str, int]]:
    keys = [(f"user:{username}", ctx.settings.login_failures_per_user)]
    if ip:
        keys.append((f"ip:{ip}", ctx.settings.login_failures_per_ip))
    return keys


async def log_in(ctx: ServerContext, username: str, password: str, ip: str | None) -> IssuedTokens:
    """A new session for valid credentials. Unknown users, wrong passwords and disabled users
    get the same answer after the same work (a hash check against a dummy hash for unknown
    ones); too many failures, by username or by address, get TooManyRequests before any."""
    keys = _count_an_attempt(ctx, username, ip)
    async with ctx.db.transaction() as session:
        user = await session.scalar(sa.select(User).where(User.username == username))
    # Argon2 takes tens of milliseconds of CPU: off the event loop, which serves everyone.
    valid = await asyncio.to_thread(verify_password, user.password_hash if user else None, password)

    tokens = None
    async with ctx.db.transaction() as session:
        if user is not None and valid:
            # Read again, locked: a new password or a disable committed while the hash was
            # checked ends every session, and must end this one too, by never opening it.
            checked = user.password_hash
            user = await session.get(User, user.id, with_for_update=True, populate_existing=True)
            valid = user is not None and user.password_hash == checked
        if user is None or not valid or user.disabled:
            reason = "unknown user" if user is None else "disabled" if valid else "bad password"
            audit.record(
                session, Actor(ip=ip), "login", f"user:{username}", outcome="failure", reason=reason
            )
        else:
            tokens = _open_session(ctx, session, user)
            audit.record(session, Actor.of(user, ip), "login", f"user:{username}")
    if tokens is None:
        raise Unauthorized(INVALID_LOGIN)
    _take_back_the_attempt(ctx, keys)
    return tokens


def _count_an_attempt(ctx: ServerContext, username: str, ip: str | None) -> list[str]:
    """Refuse a password check past the failure limits; else count it as a failure until it
    succeeds. Returns the throttle keys, for `_take_back_the_attempt`."""
    throttle = ctx.login_throttle
    keys = _throttle_keys(ctx, username, ip)
    window = ctx.settings.login_failure_window_seconds
    wait = max(throttle.wait_seconds(key, limit, window) for key, limit in keys)
    if wait > 0:
        # Not in the audit log: these cost an attacker nothing, so they could flood it; the
        # failures that led here are there.
        log.warning("login throttled", username=username, ip=ip)
        raise TooManyRequests(THROTTLED, math.ceil(wait))
    # Counted before the slow hash check, so guesses sent in parallel cannot all slip under
    # the limit while it runs; a success takes its count back.
    for key, _ in keys:
        throttle.add_failure(key)
    return [key for key, _ in keys]


def _take_back_the_attempt(ctx: ServerContext, keys: list[str]) -> None:
    user_key, *address_keys = keys
    ctx.login_throttle.clear(user_key)
    for key in address_keys:
        ctx.login_throttle.forget_one(key)


async def check_own_password(ctx: ServerContext, user: User, password: str, ip: str | None) -> None:
    """Forbidden unless `password` is the user's: asked before a signed-in user changes it, so
    a stolen token alone cannot take the account over. Throttled and counted like logins."""
    keys = _count_an_attempt(ctx, user.username, ip)
    if not await asyncio.to_thread(verify_password, user.password_hash, password):
        raise Forbidden("the current password is not right")
    _take_back_the_attempt(ctx, keys)


def _open_session(ctx: ServerContext, session: AsyncSession, user: User) -> IssuedTokens:
    login = LoginSession(
        id=uuid.uuid4(),
        user_id=user.id,
        expires_at=utcnow() + timedelta(days=ctx.settings.refresh_token_days),
    )
    refresh_token = issue_refresh_token(login.id, ctx.keys.jwt_secret)
    login.refresh_token_hash = token_digest(refresh_token)
    session.add(login)
    return IssuedTokens(_access_token(ctx, user.id, login.id), refresh_token, _lifetime(ctx))


def _lifetime(ctx: ServerContext) -> int:
    return ctx.settings.access_token_minutes * 60


def _access_token(ctx: ServerContext, user_id: uuid.UUID, session_id: uuid.UUID) -> str:
    lifetime = timedelta(seconds=_lifetime(ctx))
    return issue_access_token(user_id, session_id, ctx.keys.jwt_secret, lifetime)


async def refresh(ctx: ServerContext, refresh_token: str, ip: str | None) -> IssuedTokens:
    """A new access token and a new refresh token for the current refresh token of a live
    session of an enabled user. An earlier token of the session ends the session."""
    session_id = session_of_refresh_token(refresh_token, ctx.keys.jwt_secret)
    if session_id is None:
        raise Unauthorized(INVALID_REFRESH)
    now = utcnow()
    new_refresh_token = issue_refresh_token(session_id, ctx.keys.jwt_secret)
    enabled_users = sa.select(User.id).where(User.disabled.is_(False))
    async with ctx.db.transaction() as session:
        # One conditional update: of two refreshes racing with the same token only one can
        # match, and the other is then a reuse.
        rotated = await session.execute(
            sa.update(LoginSession)
            .where(
                LoginSession.id == session_id,
                LoginSession.refresh_token_hash == token_digest(refresh_token),
                LoginSession.revoked_at.is_(None),
                LoginSession.expires_at > now,
                LoginSession.user_id.in_(enabled_users),
            )
            .values(refresh_token_hash=token_digest(new_refresh_token), refreshed_at=now)
        )
        user_id = None
        ended = False
        if getattr(rotated, "rowcount", 0) == 1:
            user_id = await session.scalar(
                sa.select(LoginSession.user_id).where(LoginSession.id == session_id)
            )
        else:
            ended = await _end_if_reused(session, session_id, refresh_token, ip)
    if ended:
        sessions_changed(ctx)
    if user_id is None:
        raise Unauthorized(INVALID_REFRESH)
    return IssuedTokens(_access_token(ctx, user_id, session_id), new_refresh_token, _lifetime(ctx))


async def _end_if_reused(
    session: AsyncSession, session_id: uuid.UUID, refresh_token: str, ip: str | None
) -> bool:
    """Whether it ended the session."""
    login = await session.get(LoginSession, session_id)
    if login is None or login.revoked_at is not None:
        return False
    if login.refresh_token_hash == token_digest(refresh_token):
        return False  # the current token, refused for another reason (expired, user disabled)
    # The server signed this token for this session, and it is not the current one: it was
    # rotated away, and whoever presents it now is not (only) the session's owner.
    login.revoked_at = utcnow()
    user = await session.get(User, login.user_id)
    target = f"user:{user.username}" if user else None
    audit.record(session, Actor(ip=ip), "session.revoke", target, reason="refresh token reused")
    log.warning("refresh token reused; session ended", session_id=str(session_id), ip=ip)
    return True


async def log_out(ctx: ServerContext, session_id: uuid.UUID, actor: Actor) -> None:
    """End the session: its access tokens and its refresh token stop working at once."""
    async with ctx.db.transaction() as session:
        await session.execute(
            sa.update(LoginSession)
            .where(LoginSession.id == session_id, LoginSession.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
        audit.record(session, actor, "logout", f"user:{actor.name}")
    sessions_changed(ctx)


async def end_sessions_of(
    session: AsyncSession, user_id: uuid.UUID, *, keep: uuid.UUID | None = None
) -> None:
    """End every live session of a user (disabled, or given a new password), but `keep`. The
    caller calls `sessions_changed` once it committed."""
    await session.execute(
        sa.update(LoginSession)
        .where(
            LoginSession.user_id == user_id,
            LoginSession.revoked_at.is_(None),
            LoginSession.id != keep if keep else sa.true(),
        )
        .values(revoked_at=utcnow())
    )


async def user_of_access_token(
    ctx: ServerContext, token: str, *, fresh: bool = False
) -> tuple[User, uuid.UUID]:
    """The enabled user behind a valid access token of a live session, and the session. The
    session is believed from this server's recent look (`auth/verified_tokens.py`: whatever
    ends a session or changes its user empties that at once, on every server), or with
    `fresh` asked of the database whatever it said lately."""
    try:
        claims = read_access_token(token, ctx.keys.jwt_secret)
    except InvalidAccessToken as exc:
        raise Unauthorized(INVALID_TOKEN) from exc
    verified = ctx.user_sessions
    known = None if fresh else verified.get(claims.session_id)
    if known is not None and known.user_id == claims.user_id:
        return _detached_user(known), claims.session_id
    ticket = verified.ticket()
    # A read: on SQLite, a lookup takes no write lock from the reports.
    async with ctx.db.read() as session:
        # Both by primary key: the session check costs one indexed lookup.
        row = (
            await session.execute(
                sa.select(User, LoginSession.revoked_at)
                .join(LoginSession, LoginSession.user_id == User.id)
                .where(LoginSession.id == claims.session_id, User.id == claims.user_id)
            )
        ).one_or_none()
    if row is None or row.revoked_at is not None or row.User.disabled:
        raise Unauthorized(INVALID_TOKEN)
    user: User = row.User
    columns = {column.key: getattr(user, column.key) for column in _USER_COLUMNS}
    verified.put(claims.session_id, VerifiedSession(user.id, columns), ticket)
    return user, claims.session_id


_USER_COLUMNS = sa.inspect(User).column_attrs


def _detached_user(verified: VerifiedSession) -> User:
    """A User of its own for each request, as a lookup would give: no request sees what
    another did to its copy."""
    user = User(**verified.user)
    make_transient_to_detached(user)
    return user


def sessions_changed(ctx: ServerContext) -> None:
    """After the commit of what ended a login session or changed a user: every server asks
    the database again about the sessions it verified."""
    ctx.events.notify(USER_SESSIONS)
