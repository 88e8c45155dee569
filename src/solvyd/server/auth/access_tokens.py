"""Short-lived JWT access tokens for users."""

import uuid
from datetime import timedelta

import jwt

from solvyd.shared.clock import utcnow

_ALGORITHM = "HS256"
_AUDIENCE = "solvyd"


class InvalidAccessToken(Exception):
    pass


def issue_access_token(user_id: uuid.UUID, secret: str, lifetime: timedelta) -> str:
    now = utcnow()
    claims = {"sub": str(user_id), "aud": _AUDIENCE, "iat": now, "exp": now + lifetime}
    return jwt.encode(claims, secret, algorithm=_ALGORITHM)


def read_access_token(token: str, secret: str) -> uuid.UUID:
    try:
        claims = jwt.decode(token, secret, algorithms=[_ALGORITHM], audience=_AUDIENCE)
        return uuid.UUID(claims["sub"])
    except (jwt.PyJWTError, KeyError, ValueError) as exc:
        raise InvalidAccessToken(str(exc)) from exc
