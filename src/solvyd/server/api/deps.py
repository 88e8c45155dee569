"""Dependencies as Annotated aliases, so routes read like prose.

Access control lives here and only here: every route names who may call it through exactly one
of the aliases below (`AsViewer`, `AsDeveloper`, `AsAdmin`, `CurrentWorker`/`PathWorker`,
`AgentToken`, `Public`). Each carries its `Access` rule, which the OpenAPI document shows as
`x-solvyd-access` on every operation, and a test walks every route with every kind of caller.
"""

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from solvyd.server.auth.roles import Access
from solvyd.server.db.models import User, Worker
from solvyd.server.services import users, workers
from solvyd.server.services.context import ServerContext
from solvyd.server.services.errors import Forbidden, Unauthorized

_bearer = HTTPBearer(auto_error=False)


# Dependencies are `async def` even when they do not await: FastAPI runs plain `def` ones in a
# thread pool, a costly hop on every request.
async def get_context(request: Request) -> ServerContext:
    ctx: ServerContext = request.app.state.ctx
    return ctx


Ctx = Annotated[ServerContext, Depends(get_context)]
Bearer = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def _token(credentials: HTTPAuthorizationCredentials | None) -> str:
    if credentials is None or not credentials.credentials:
        raise Unauthorized("missing bearer token")
    return credentials.credentials


F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


def _with_access(access: Access, dependency: F) -> F:
    dependency.access = access  # type: ignore[attr-defined]
    return dependency


def _user_with(access: Access) -> Callable[..., Awaitable[User]]:
    needed = access.role
    assert needed is not None

    async def dependency(ctx: Ctx, credentials: Bearer) -> User:
        token = _token(credentials)
        if token.startswith(workers.WORKER_TOKEN_PREFIX):
            raise Forbidden("worker tokens only work on worker endpoints")
        principal = await users.authenticate(ctx, token)
        if not principal.role.includes(needed):
            raise Forbidden(f"this needs the {needed} role")
        return principal.user

    return _with_access(access, dependency)


async def _public() -> None:
    """Anyone, signed in or not."""


async def get_current_worker(ctx: Ctx, credentials: Bearer) -> Worker:
    token = _token(credentials)
    if not token.startswith(workers.WORKER_TOKEN_PREFIX):
        raise Forbidden("this endpoint is for workers")
    return await workers.worker_from_token(ctx, token)


async def get_path_worker(worker_id: uuid.UUID, worker: "CurrentWorker") -> Worker:
    if worker.id != worker_id:
        raise Forbidden("a worker may only act as itself")
    return worker


async def require_agent_token(ctx: Ctx, credentials: Bearer) -> None:
    token = _token(credentials)
    if token.startswith(workers.WORKER_TOKEN_PREFIX):
        raise Forbidden("a worker token cannot register a worker")
    await workers.check_registration_token(ctx, token)


AsViewer = Annotated[User, Depends(_user_with(Access.VIEWER))]
AsDeveloper = Annotated[User, Depends(_user_with(Access.DEVELOPER))]
AsAdmin = Annotated[User, Depends(_user_with(Access.ADMIN))]
CurrentWorker = Annotated[Worker, Depends(_with_access(Access.WORKER, get_current_worker))]
PathWorker = Annotated[Worker, Depends(get_path_worker)]
AgentToken = Depends(_with_access(Access.AGENT_REGISTRATION, require_agent_token))
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
