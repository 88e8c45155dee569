"""Short-lived JWT access tokens for users. Each names the login session it was issued for
(`sid`), so ending the session ends its access tokens before they expire."""

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import jwt

from solvyd.shared.clock import utcnow

_ALGORITHM = "HS256"
_AUDIENCE = "solvyd"


class InvalidAccessToken(Exception):
    pass


@dataclass(frozen=True)
class AccessClaims:
    user_id: uuid.UUID
    session_id: uuid.UUID


@dataclass(frozen=True, slots=True)
class VerifiedSession:
    """What the database said of a live login session of an enabled user, for the cache of
    verified sessions (`verified_tokens.py`): its user's row, by column, as it was read."""

    user_id: uuid.UUID
    user: Mapping[str, Any]


def issue_access_token(
    user_id: uuid.UUID, session_id: uuid.UUID, secret: str, lifetime: timedelta
) -> str:
    now = utcnow()
    claims = {
        "sub": str(user_id),
        "sid": str(session_id),
        "aud": _AUDIENCE,
        "iat": now,
        "exp": now + lifetime,
    }
    return jwt.encode(claims, secret, algorithm=_ALGORITHM)


def read_access_token(token: str, secret: str) -> AccessClaims:
    """The claims of a valid, unexpired token; InvalidAccessToken for anything else, including
    a token without a session (issued before sessions existed)."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[_ALGORITHM],
            audience=_AUDIENCE,
            options={"require": ["sub", "sid", "exp"]},
        )
        return AccessClaims(uuid.UUID(claims["sub"]), uuid.UUID(claims["sid"]))
    except (jwt.PyJWTError, KeyError, ValueError, TypeError, AttributeError) as exc:
        raise InvalidAccessToken(str(exc)) from exc
