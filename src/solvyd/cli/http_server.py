"""The uvicorn server `solvyd server` and `solvyd up` run: its own start and stop steps.

A module of its own so that only the commands that serve HTTP load uvicorn and the server's
settings; `solvyd agent` and the client commands import `runners` without them."""

import contextlib
import gc
import signal
import socket
from collections.abc import Generator
from typing import TYPE_CHECKING

import uvicorn
from uvicorn.config import LOGGING_CONFIG

from solvyd.cli.errors import CliError
from solvyd.server.settings import ServerSettings

if TYPE_CHECKING:
    from fastapi import FastAPI

    from solvyd.server.metrics.listener import MetricsListener

GC_YOUNG_THRESHOLD = 50_000


class SolvydServer(uvicorn.Server):
    """Ends the server's long polls as soon as shutdown starts, so connections close at once
    instead of holding the shutdown for their whole wait."""

    def __init__(self, app: "FastAPI", host: str, port: int, *, own_signals: bool = True) -> None:
        super().__init__(
            uvicorn.Config(
                app,
                host=host,
                port=port,
                log_level="warning",
                # JSON logs: configure_logging routed uvicorn's loggers to the JSON handler;
                # uvicorn's own config would put its text handlers back.
                log_config=None if app.state.settings.log_format == "json" else LOGGING_CONFIG,
                access_log=False,
                lifespan="on",
                # The API has no WebSocket route (live logs are server-sent events): uvicorn's
                # default would load the websockets library into every server for nothing.
                ws="none",
                timeout_graceful_shutdown=5,
                # uvicorn believes X-Forwarded-For from 127.0.0.1 by default; the server
                # decides whom to believe itself (SOLVYD_TRUSTED_PROXIES).
                proxy_headers=False,
            )
        )
        self.app = app
        self._own_signals = own_signals
        self._metrics: MetricsListener | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        settings: ServerSettings = self.app.state.settings
        if settings.metrics_port is not None:
            from solvyd.server.api.metrics import metrics_only_app
            from solvyd.server.metrics.listener import MetricsListener

            port = settings.metrics_port
            self._metrics = MetricsListener(metrics_only_app(self.app), self.config.host, port)
            try:
                # Before anything starts: a port in use stops the server with nothing to undo.
                self._metrics.bind()
            except OSError as exc:
                raise CliError(
                    f"cannot serve the metrics on {self.config.host}:{port}: {exc.strerror}"
                ) from None
        await super().startup(sockets)
        if self._metrics is not None and not self.should_exit:
            await self._metrics.start()
        # Log ingest makes thousands of short-lived objects per batch, so CPython's default
        # collector (a young collection every 700 allocations, the whole heap now and then)
        # took 27% of the server's CPU in bench/logs.py. Collect the young generation less
        # often, and leave everything loaded at start-up out of the full collections.
        gc.freeze()
        gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        ctx = getattr(self.app.state, "ctx", None)
        if ctx is not None:
            ctx.events.close()
        if self._metrics is not None:
            await self._metrics.stop()
        await super().shutdown(sockets)

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        # Unlike uvicorn's own, these handlers do not re-raise the signal after a graceful
        # shutdown, so a SIGTERM'd server exits 0. `up` handles signals itself (to stop its
        # agent before the server) and installs none here.
        if not self._own_signals:
            yield
            return
        previous = {
            sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
