"""HTTP hardening around every answer: security headers, CORS, a request body size limit.

Pure ASGI on purpose: `BaseHTTPMiddleware` runs the app in a task of its own and hands the
answer on through a stream of its own, which gets in the way of the SSE log stream and of long
polls that watch for the client going away. These only look at the messages that pass: the
response start (headers) and the request body (a byte count).

Order, outermost first: security headers (so every answer has them, a 413, a 500 and a CORS
preflight included), CORS (so a browser can read those errors too), the body limit, the check
for text that cannot be stored, and the generic 500 for an exception no handler took.
"""

import json
import re
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers, MutableHeaders, QueryParams
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from solvyd.server.api.errors import (
    UnstorableText,
    error_body,
    internal_error,
    unstorable_text_answer,
)
from solvyd.server.settings import ServerSettings
from solvyd.shared.text import is_storable

# An API answers JSON and never needs to be framed; the React UI will be served from the same
# origin, so 'self' is all it loads from.
CONTENT_SECURITY_POLICY = "default-src 'self'; frame-ancestors 'none'"
# The Swagger UI page (`/api/v1/docs`) loads its script and style from jsDelivr, its icon from
# fastapi.tiangolo.com, and starts itself with one inline script.
DOCS_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' https://cdn.jsdelivr.net 'unsafe-inline'; "
    "style-src 'self' https://cdn.jsdelivr.net; img-src 'self' data: https://fastapi.tiangolo.com; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
# A route that streams its body under a limit of its own names that limit's setting here, in
# `openapi_extra` (it shows in the OpenAPI document too); the general limit skips it.
OWN_BODY_LIMIT = "x-solvyd-body-limit"
# A route whose body's text is stored with lone surrogates and NUL replaced (U+FFFD) instead of
# refused says so here, in `openapi_extra`; `StorableText` leaves its body alone (its query
# and path are still checked). The log batch upload: a log keeps what a step printed.
TEXT_REPLACED = "x-solvyd-unstorable-text"


class SecurityHeaders:
    """Adds the security headers to every answer, and `Cache-Control: no-store` to API
    answers. A header the route set itself is kept."""

    def __init__(self, app: ASGIApp, api_prefix: str, docs_path: str | None) -> None:
        self.app = app
        self.api_prefix = api_prefix.rstrip("/") + "/"
        self.docs_path = docs_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        policy = DOCS_CONTENT_SECURITY_POLICY if path == self.docs_path else CONTENT_SECURITY_POLICY
        no_store = path.startswith(self.api_prefix)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                headers.setdefault("Content-Security-Policy", policy)
                if no_store:
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)


class UnexpectedErrors:
    """The generic 500 for an exception that no handler took, answered here, inside the other
    middleware, so it carries their headers. (Starlette's own last resort answers from outside
    all middleware, then re-raises so the server logs the trace a second time.)"""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_tracking(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, send_tracking)
        except Exception as exc:
            if started:
                raise  # too late for an error answer: the server drops the connection
            await internal_error(scope["path"], exc)(scope, receive, send)


class RequestTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than the limit of {limit} bytes")


class BodySizeLimit:
    """413, in the error shape, for a request body over `max_bytes`: as soon as the app starts
    reading a body whose Content-Length says so, or once a body without one (chunked) grows
    past it. Routes with a limit of their own (`OWN_BODY_LIMIT`) are exempt; the check waits
    for the router to have matched the route, which is before anything reads the body."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        received = 0
        exceeded = False
        replaced = False

        def over(size: int | None) -> bool:
            return size is not None and size > self.max_bytes and not _has_own_limit(scope)

        async def receive_limited() -> Message:
            nonlocal received, exceeded
            if exceeded or over(declared):
                exceeded = True
                # Whatever reads the body stops here; the app's handler for HTTP errors turns
                # this into the 413 answer.
                raise RequestTooLarge(self.max_bytes)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if over(received):
                    exceeded = True
                    raise RequestTooLarge(self.max_bytes)
            return message

        async def send_guarded(message: Message) -> None:
            nonlocal replaced
            if replaced:
                return  # the rest of an answer we replaced
            if (
                message["type"] == "http.response.start"
                and message["status"] != 413
                and (exceeded or over(declared))
            ):
                # The route never read the body, or something turned the overflow into
                # another answer (say a 400 for an unreadable body): the 413 is the truth.
                replaced = True
                await self._refuse(scope, receive, send)
                return
            await send(message)

        await self.app(scope, receive_limited, send_guarded)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        error = RequestTooLarge(self.max_bytes)
        response = JSONResponse(error_body("too_large", error.detail), status_code=413)
        # The unread body stays on the connection; closing it is cheaper than draining it.
        response.headers["Connection"] = "close"
        await response(scope, receive, send)


# What a JSON body needs to hold to decode into a lone surrogate or NUL: a `\uD800`-`\uDFFF`
# or `\u0000` escape, the UTF-8 bytes of a surrogate (Python's JSON decoder lets them pass),
# or a NUL byte (a body in UTF-16 or UTF-32, which it also reads). A body with none of these
# is fine without being decoded twice; one with a valid pair (an emoji escaped as two
# surrogates) is decoded and found fine.
_MAYBE_UNSTORABLE = re.compile(rb"\\u[dD][89a-fA-F]|\\u0000|\xed[\xa0-\xbf]|\x00")


class StorableText:
    """422, in the error shape and naming the field, for a request whose text cannot be stored
    or encoded: a lone UTF-16 surrogate or a NUL in any string (or key) of a JSON body, at any
    depth, or a NUL in the query or the path. (Percent-decoding replaces invalid UTF-8 with
    U+FFFD, so no surrogate reaches a query or path.) Checked before the route's code runs, so
    such a value is never half-saved, and for every route at once, including ones added later.

    The body is checked when the app starts reading it, once the router has matched the route
    (as `BodySizeLimit` does): routes that stream their body under their own limit
    (`OWN_BODY_LIMIT`) and routes that replace such text (`TEXT_REPLACED`) are left alone."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        field = _unstorable_in_url(scope)
        if field is not None:
            await unstorable_text_answer(UnstorableText(field))(scope, receive, send)
            return
        if not _json_body(scope):
            await self.app(scope, receive, send)
            return
        checked = False

        async def receive_checked() -> Message:
            nonlocal checked
            if checked or _body_left_alone(scope):
                checked = True
                return await receive()
            checked = True
            message = await _whole_body(receive)
            body = message.get("body", b"")
            if message["type"] == "http.request" and _MAYBE_UNSTORABLE.search(body):
                bad = _unstorable_in_json(body)
                if bad is not None:
                    # Whatever reads the body stops here; the app's handler answers 422.
                    raise UnstorableText(bad)
            return message

        await self.app(scope, receive_checked, send)


def _unstorable_in_url(scope: Scope) -> str | None:
    if "\x00" in scope["path"]:
        return "path"
    query: bytes = scope.get("query_string", b"")
    if b"%00" in query or b"\x00" in query:
        for name, value in QueryParams(query).multi_items():
            if not is_storable(name) or not is_storable(value):
                return name
    return None


def _json_body(scope: Scope) -> bool:
    """Whether FastAPI would read the body as JSON: no content type, or a JSON one."""
    content_type = Headers(scope=scope).get("content-type", "").split(";")[0].strip().lower()
    return not content_type or content_type == "application/json" or content_type.endswith("+json")


def _body_left_alone(scope: Scope) -> bool:
    extra = _route_extra(scope)
    return OWN_BODY_LIMIT in extra or TEXT_REPLACED in extra


async def _whole_body(receive: Receive) -> Message:
    """The body's messages as one (the app reads it whole anyway)."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return message  # the client went away
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return {"type": "http.request", "body": b"".join(chunks), "more_body": False}


def _unstorable_in_json(body: bytes) -> str | None:
    """The path (`env.A`, `labels.1`) of a string or key holding a lone surrogate or NUL; None
    if there is none or the body is no JSON (the route then says why)."""
    try:
        document = json.loads(body)  # as Starlette decodes it
    except (ValueError, RecursionError):
        return None
    # Iterative: the decoder accepts nesting deeper than a recursive walk could follow.
    pending: list[tuple[tuple[str, ...], Any]] = [((), document)]
    while pending:
        path, value = pending.pop()
        if isinstance(value, str):
            if not is_storable(value):
                return ".".join(path) or "body"
        elif isinstance(value, dict):
            for key, item in value.items():
                if not is_storable(key):
                    return ".".join((*path, key)) or "body"
                pending.append(((*path, key), item))
        elif isinstance(value, list):
            pending.extend(((*path, str(index)), item) for index, item in enumerate(value))
    return None


def _content_length(scope: Scope) -> int | None:
    value = Headers(scope=scope).get("content-length")
    return int(value) if value is not None and value.isdigit() else None


def _has_own_limit(scope: Scope) -> bool:
    return OWN_BODY_LIMIT in _route_extra(scope)


def _route_extra(scope: Scope) -> dict[str, object]:
    # The router puts the matched route in the scope (a Starlette convention).
    return getattr(scope.get("route"), "openapi_extra", None) or {}


def install_middleware(app: FastAPI, settings: ServerSettings, api_prefix: str) -> None:
    # add_middleware puts each one outside those added before it.
    app.add_middleware(UnexpectedErrors)
    # Inside the body limit, so what it reads stays within that limit.
    app.add_middleware(StorableText)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_request_bytes)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Last-Event-ID", "Range"],
            expose_headers=["Content-Disposition", "Content-Range", "ETag", "Retry-After"],
            max_age=600,
        )
    app.add_middleware(SecurityHeaders, api_prefix=api_prefix, docs_path=app.docs_url)
