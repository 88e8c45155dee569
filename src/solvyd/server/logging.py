"""The server's own log: structlog, human-readable on a terminal, JSON in production."""

import logging

import structlog


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
