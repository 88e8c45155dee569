"""Dependencies as Annotated aliases, so routes read like prose.

Access control lives here and only here: every route names who may call it through exactly one
of the aliases below (`AsViewer`, `AsDeveloper`, `AsAdmin`, `Caller` (a viewer, as the
Principal), `CurrentWorker`/`PathWorker`, `AgentToken`, `Public`). Each carries its `Access`
rule, which the OpenAPI document shows as `x-solvyd-access` on every operation, and a test
walks every route with every kind of caller.
"""

import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Header, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from solvyd.server.api.client_address import client_address
from solvyd.server.auth.roles import Access
from solvyd.server.auth.worker_tokens import WorkerIdentity
from solvyd.server.db.models import User
from solvyd.server.services import users, workers
from solvyd.server.services.agent_tokens import Grant
from solvyd.server.services.context import ServerContext
from solvyd.server.services.errors import Forbidden, Unauthorized
from solvyd.server.services.users import Principal

_bearer = HTTPBearer(auto_error=False)


# Dependencies are `async def` even when they do not await: FastAPI runs plain `def` ones in a
# thread pool, a costly hop on every request.
async def get_context(request: Request) -> ServerContext:
    ctx: ServerContext = request.app.state.ctx
    return ctx


Ctx = Annotated[ServerContext, Depends(get_context)]


async def get_client_ip(ctx: Ctx, request: Request) -> str | None:
    """The caller's address for the login throttle and the audit log: the connection's, or,
    from a trusted proxy (`SOLVYD_TRUSTED_PROXIES`), the client it names in X-Forwarded-For
    (`client_address`). Says nothing about who may call: a route still declares one access
    rule of its own."""
    return client_address(
        request.client.host if request.client else None,
        request.headers.getlist("x-forwarded-for"),
        ctx.settings.trusted_proxies,
    )


Bearer = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
ClientIp = Annotated[str | None, Depends(get_client_ip)]


def _token(credentials: HTTPAuthorizationCredentials | None) -> str:
    if credentials is None or not credentials.credentials:
        raise Unauthorized("missing bearer token")
    return credentials.credentials


F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


# How often an answer that goes on for long asks the database whether its token still works.
STREAM_AUTH_RECHECK_SECONDS = 5.0


async def get_signed_in_check(ctx: Ctx, credentials: Bearer) -> Callable[[], Awaitable[bool]]:
    """For an answer that goes on for long (the log and events streams): whether the request's
    token still works (not logged out or revoked, its user not disabled). Call it as often as
    convenient: it asks the database at most once per STREAM_AUTH_RECHECK_SECONDS and answers
    from the last look in between. Says nothing about who may call: the route declares one
    access rule of its own, which checked the token."""
    token = credentials.credentials if credentials else ""
    checked_at = time.monotonic()

    async def still_signed_in() -> bool:
        nonlocal checked_at
        if time.monotonic() - checked_at < STREAM_AUTH_RECHECK_SECONDS:
            return True
        try:
            # From the database: a look the cache of verified sessions kept would add its
            # seconds to these.
            await users.authenticate(ctx, token, fresh=True)
        except Unauthorized:
            return False
        checked_at = time.monotonic()
        return True

    return still_signed_in


StillSignedIn = Annotated[Callable[[], Awaitable[bool]], Depends(get_signed_in_check)]


def _with_access(access: Access, dependency: F) -> F:
    dependency.access = access  # type: ignore[attr-defined]
    return dependency


def _principal_with(access: Access) -> Callable[..., Awaitable[Principal]]:
    needed = access.role
    assert needed is not None  # noqa: S101 - at import time: the user rules have a role

    async def dependency(ctx: Ctx, credentials: Bearer) -> Principal:
        token = _token(credentials)
        if token.startswith(workers.WORKER_TOKEN_PREFIX):
            raise Forbidden("worker tokens only work on worker endpoints")
        principal = await users.authenticate(ctx, token)
        if not principal.role.includes(needed):
            raise Forbidden(f"this needs the {needed} role")
        return principal

    return _with_access(access, dependency)


def _user_of(principal: Callable[..., Awaitable[Principal]]) -> Callable[..., Awaitable[User]]:
    async def dependency(caller: Annotated[Principal, Depends(principal)]) -> User:
        return caller.user

    return dependency


async def _public() -> None:
    """Anyone, signed in or not."""


async def get_current_worker(ctx: Ctx, credentials: Bearer) -> WorkerIdentity:
    token = _token(credentials)
    if not token.startswith(workers.WORKER_TOKEN_PREFIX):
        raise Forbidden("this endpoint is for workers")
    return await workers.worker_from_token(ctx, token)


async def get_path_worker(worker_id: uuid.UUID, worker: "CurrentWorker") -> WorkerIdentity:
    if worker.id != worker_id:
        raise Forbidden("a worker may only act as itself")
    return worker


async def require_agent_token(ctx: Ctx, credentials: Bearer) -> Grant:
    token = _token(credentials)
    if token.startswith(workers.WORKER_TOKEN_PREFIX):
        raise Forbidden("a worker token cannot register a worker")
    return await workers.check_registration_token(ctx, token)


async def get_presented_worker_token(
    x_solvyd_worker_token: Annotated[
        str | None,
        Header(
            max_length=200,
            description="A registering agent's current worker token, to register again under "
            "its own name. Says nothing about who may call.",
        ),
    ] = None,
) -> str | None:
    return x_solvyd_worker_token


_as_viewer = _principal_with(Access.VIEWER)
AsViewer = Annotated[User, Depends(_user_of(_as_viewer))]
AsDeveloper = Annotated[User, Depends(_user_of(_principal_with(Access.DEVELOPER)))]
AsAdmin = Annotated[User, Depends(_user_of(_principal_with(Access.ADMIN)))]
# Any signed-in user (the viewer rule), as the Principal: for routes whose answer depends on
# the role the request acts with, which a token's scopes may set below its owner's.
Caller = Annotated[Principal, Depends(_as_viewer)]
# Who the worker token stands for (verified, perhaps a few seconds ago: auth/worker_tokens.py).
CurrentWorker = Annotated[WorkerIdentity, Depends(_with_access(Access.WORKER, get_current_worker))]
PathWorker = Annotated[WorkerIdentity, Depends(get_path_worker)]
# The labels the request's registration token grants.
AgentToken = Annotated[Grant, Depends(_with_access(Access.AGENT_REGISTRATION, require_agent_token))]
PresentedWorkerToken = Annotated[str | None, Depends(get_presented_worker_token)]
Public = Depends(_with_access(Access.PUBLIC, _public))


def route_access(route: APIRoute) -> set[Access]:
    """The access rules a route declares (through its dependencies, at any depth)."""
    found: set[Access] = set()

    def walk(dependant: Dependant) -> None:
        access = getattr(dependant.call, "access", None)
        if isinstance(access, Access):
            found.add(access)
        for sub in dependant.dependencies:
            walk(sub)

    walk(route.dependant)
    return found
