"""The server's own log: structlog, human-readable on a terminal, JSON in production."""

import logging
import sys

import structlog

# Loggers of the libraries that log through the standard library and install handlers of their
# own (uvicorn's dictConfig): in JSON mode they are sent to the root logger's JSON handler.
OWN_HANDLER_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")


class _NoRequestUrls(logging.Filter):
    """httpx logs every request's URL at INFO ("HTTP Request: POST <url> ..."). Some URLs the
    server calls are credentials (a Slack incoming webhook's, a receiver's with a token in its
    query): none is logged, whoever turns the standard loggers' level up."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (isinstance(record.msg, str) and record.msg.startswith("HTTP Request:"))


def hide_request_urls() -> None:
    """Idempotent: once per process is enough, more changes nothing."""
    httpx_log = logging.getLogger("httpx")
    if not any(isinstance(f, _NoRequestUrls) for f in httpx_log.filters):
        httpx_log.addFilter(_NoRequestUrls())


def configure_logging(log_format: str, level: str) -> None:
    hide_request_urls()
    numeric = logging.getLevelName(level.upper())
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if log_format == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        cache_logger_on_first_use=True,
    )
    if log_format == "json":
        _standard_library_as_json()


def _standard_library_as_json() -> None:
    """In production every line is JSON, the libraries' too (uvicorn's warnings and errors,
    SQLAlchemy's, asyncio's), on the same stream as ours. Warnings and up, as Python's
    last-resort handler let through before: their INFO lines stay quiet. uvicorn must then be
    started with `log_config=None`, or its own dictConfig puts its text handlers back."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.JSONRenderer(),
            ],
            foreign_pre_chain=[
                structlog.contextvars.merge_contextvars,
                structlog.stdlib.add_log_level,
                structlog.stdlib.add_logger_name,
                structlog.processors.TimeStamper(fmt="iso", utc=True),
                structlog.processors.format_exc_info,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(logging.WARNING)
    for name in OWN_HANDLER_LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers = []
        logger.propagate = True
