"""Every error answer has one shape: {"error": {"code", "message", "details"?}}."""

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from solvyd.server.db.dialects import is_refused_value
from solvyd.server.services.errors import InvalidInput, ServiceError, TooManyRequests
from solvyd.shared.text import replace_unstorable

log = structlog.get_logger(__name__)


def error_body(code: str, message: str, details: list[Any] | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if details:
        error["details"] = details
    return {"error": error}


def _field_path(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path")] or [str(p) for p in loc]
    # A key of the request may be part of the path: never one the answer cannot encode.
    return replace_unstorable(".".join(parts))


class UnstorableText(StarletteHTTPException):
    """A text in the request that cannot be stored or encoded (`middleware.StorableText`).
    An HTTP error, so FastAPI passes it on when it is raised while the body is read."""

    def __init__(self, field: str) -> None:
        self.field = replace_unstorable(field)
        super().__init__(
            422, "the text has a lone UTF-16 surrogate or a NUL character, which cannot be stored"
        )

    @property
    def message(self) -> str:
        return f"{self.field}: {self.detail}"


def unstorable_text_answer(exc: UnstorableText) -> JSONResponse:
    details = [{"field": exc.field, "message": exc.detail}]
    return JSONResponse(error_body("invalid", exc.message, details), status_code=422)


async def _unstorable_text(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, UnstorableText)  # noqa: S101 - registered for this type
    return unstorable_text_answer(exc)


async def _service_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ServiceError)  # noqa: S101 - registered for this type
    details = exc.details if isinstance(exc, InvalidInput) else None
    headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
    if isinstance(exc, TooManyRequests):
        headers = {"Retry-After": str(exc.retry_after_seconds)}
    return JSONResponse(
        error_body(exc.code, exc.message, details), status_code=exc.status_code, headers=headers
    )


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)  # noqa: S101 - registered for this type
    details = [{"field": _field_path(tuple(e["loc"])), "message": e["msg"]} for e in exc.errors()]
    message = "; ".join(f"{d['field']}: {d['message']}" for d in details) or "invalid request"
    return JSONResponse(error_body("invalid", message, details), status_code=422)


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)  # noqa: S101 - registered for this type
    code = {
        401: "unauthorized",
        403: "forbidden",
        404: "not_found",
        405: "method_not_allowed",
        413: "too_large",
    }
    return JSONResponse(
        error_body(code.get(exc.status_code, "error"), str(exc.detail)),
        status_code=exc.status_code,
        headers=exc.headers,
    )


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DBAPIError | OSError)  # noqa: S101 - registered for this type
    if isinstance(exc, DBAPIError) and is_refused_value(exc):
        return _refused_value(request, exc)
    if isinstance(exc, DBAPIError) and not _database_unreachable(exc):
        return await _unexpected_error(request, exc)
    # Expected while the database restarts: one line, no traceback; agents retry on 503.
    log.warning("database unavailable", path=request.url.path, error=type(exc).__name__)
    return JSONResponse(
        error_body("unavailable", "the database is unavailable; try again shortly"),
        status_code=503,
        headers={"Retry-After": "1"},
    )


def _refused_value(request: Request, exc: DBAPIError) -> JSONResponse:
    # The schemas bound what they can (lengths, ranges); this is the net under them for what
    # only the database knows, such as PostgreSQL refusing NUL characters.
    message = "a value in the request cannot be stored (a NUL character, or a number too large)"
    return _invalid_value(request, "database refused a value", str(exc.orig), message)


async def _number_out_of_range(request: Request, exc: Exception) -> JSONResponse:
    # The net under the schemas' bounds for numbers and times: SQLite's driver raises this,
    # unwrapped, for an integer it cannot bind; a datetime raises it past year 1 or 9999.
    message = "a number or time in the request is out of range"
    return _invalid_value(request, "a value overflowed", str(exc), message)


def _invalid_value(request: Request, event: str, error: str, message: str) -> JSONResponse:
    """The request's fault, so a 422, never a 500; the reason goes to the log only."""
    log.warning(event, path=request.url.path, error=error)
    return JSONResponse(error_body("invalid", message), status_code=422)


def _database_unreachable(exc: DBAPIError) -> bool:
    return exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError)


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    return internal_error(request.url.path, exc)


def internal_error(path: str, exc: BaseException) -> JSONResponse:
    """The answer to an exception nothing handled: the trace goes to the server's log, never
    to the client, whose answer is always the same generic message."""
    log.exception("unhandled error", path=path, exc_info=exc)
    return JSONResponse(error_body("internal", "internal server error"), status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(UnstorableText, _unstorable_text)
    app.add_exception_handler(DBAPIError, _database_error)
    app.add_exception_handler(OSError, _database_error)
    app.add_exception_handler(OverflowError, _number_out_of_range)
    # Starlette answers with this one from its outermost layer, outside the middleware that
    # adds the security and CORS headers; `middleware.UnexpectedErrors` answers the same inside
    # them first, so this is left for an error in the middleware itself.
    app.add_exception_handler(Exception, _unexpected_error)
