"""One access log line per request, and a request id on everything logged while handling it.

The id comes from the client's `X-Request-ID` when it is a plain token (a proxy's or a
client's own, so their logs and ours join up), else is made here; the answer carries it back
in `X-Request-ID`. It is bound in structlog's context variables, as are the build and worker
ids of routes that have them (`bind_path_ids`, once the router has matched).

The access line says the method, the route's template, the status and the time to the
answer's start; never the path's values, the query or a header: tokens travel there.

Pure ASGI, like `middleware.py` (see why there)."""

import re
import time
import uuid

import structlog
from fastapi import Request
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from solvyd.server.api.http_metrics import RouteTemplates

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
# Path parameters worth having on every line a request logs.
_PATH_IDS = ("build_id", "worker_id")

access_log = structlog.get_logger("solvyd.access")


def request_id_of(scope: Scope) -> str:
    presented = Headers(scope=scope).get(REQUEST_ID_HEADER)
    if presented is not None and _VALID_REQUEST_ID.fullmatch(presented):
        return presented
    return uuid.uuid4().hex


class RequestLog:
    def __init__(self, app: ASGIApp, routes: RouteTemplates) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope)
        started = time.perf_counter()
        status: int | None = None
        duration_ms: float | None = None

        async def send_with_id(message: Message) -> None:
            nonlocal status, duration_ms
            if message["type"] == "http.response.start":
                status = message["status"]
                duration_ms = round((time.perf_counter() - started) * 1000, 3)
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        # The path ids are bound here as structlog's "unset" (Ellipsis), so that the reset
        # below also takes back the values `bind_path_ids` gives them: a connection that
        # serves several requests in one context never logs a previous request's ids.
        tokens = structlog.contextvars.bind_contextvars(
            request_id=request_id, **dict.fromkeys(_PATH_IDS, ...)
        )
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            access_log.info(
                "request",
                method=scope["method"],
                route=self.routes.label(scope),
                status=status,  # None: the client went away before an answer started
                duration_ms=duration_ms,
            )
            structlog.contextvars.reset_contextvars(**tokens)


async def bind_path_ids(request: Request) -> None:
    """A dependency of every API route: binds the build and worker ids of its path. Only
    UUIDs: the path is the client's text, and the route refuses anything else anyway."""
    found = {}
    for name in _PATH_IDS:
        value = request.path_params.get(name)
        if value is not None:
            try:
                found[name] = str(uuid.UUID(str(value)))
            except ValueError:
                continue
    if found:
        structlog.contextvars.bind_contextvars(**found)
