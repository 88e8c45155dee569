"""Log in, refresh, log out. A login is a session: see services/sessions.py."""

from typing import Any

from fastapi import APIRouter, Response, status

from solvyd.server.api.deps import Caller, ClientIp, Ctx, Public
from solvyd.server.schemas.auth import LoginRequest, LoginTokens, RefreshRequest
from solvyd.server.services import sessions
from solvyd.server.services.audit import Actor
from solvyd.server.services.errors import ServiceError
from solvyd.server.services.sessions import IssuedTokens

router = APIRouter(prefix="/auth", tags=["auth"])

_THROTTLED: dict[int | str, dict[str, Any]] = {
    429: {
        "description": "too many failed logins for this username or from this address; "
        "`Retry-After` says how many seconds to wait"
    }
}


def _answer(tokens: IssuedTokens) -> LoginTokens:
    return LoginTokens(
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        expires_in=tokens.expires_in,
    )


@router.post("/login", dependencies=[Public], operation_id="login", responses=_THROTTLED)
async def login(ctx: Ctx, ip: ClientIp, body: LoginRequest) -> LoginTokens:
    return _answer(await sessions.log_in(ctx, body.username, body.password, ip))


@router.post("/refresh", dependencies=[Public], operation_id="refresh_login")
async def refresh(ctx: Ctx, ip: ClientIp, body: RefreshRequest) -> LoginTokens:
    """A new access token and a new refresh token; the refresh token sent stops working.
    Sending one that was already used ends the whole session."""
    return _answer(await sessions.refresh(ctx, body.refresh_token, ip))


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, operation_id="logout")
async def logout(ctx: Ctx, caller: Caller, ip: ClientIp) -> Response:
    """End the login session of the access token sent: its access and refresh tokens stop
    working at once."""
    if caller.session_id is None:
        raise ServiceError(
            "a personal API token is no login session; revoke it with DELETE /api/v1/tokens/{id}"
        )
    await sessions.log_out(ctx, caller.session_id, Actor.of(caller.user, ip))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
