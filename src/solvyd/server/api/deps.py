"""Dependencies as Annotated aliases, so routes read like prose."""

import hmac
import uuid
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

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


async def get_current_user(ctx: Ctx, credentials: Bearer) -> User:
    token = _token(credentials)
    if token.startswith(workers.WORKER_TOKEN_PREFIX):
        raise Forbidden("worker tokens only work on worker endpoints")
    return await users.user_from_access_token(ctx, token)


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
    if not hmac.compare_digest(token.encode(), ctx.keys.agent_token.encode()):
        raise Unauthorized("invalid agent registration token")


CurrentUser = Annotated[User, Depends(get_current_user)]
CurrentWorker = Annotated[Worker, Depends(get_current_worker)]
PathWorker = Annotated[Worker, Depends(get_path_worker)]
AgentToken = Depends(require_agent_token)
