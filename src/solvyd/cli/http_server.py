"""The uvicorn server `solvyd server` and `solvyd up` run: its own start and stop steps.

A module of its own so that only the commands that serve HTTP load uvicorn and the server's
settings; `solvyd agent` and the client commands import `runners` without them."""

import contextlib
import gc
import os
import signal
import socket
from collections.abc import Callable, Generator
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
    instead of holding the shutdown for their whole wait.

    For a process of `solvyd server --workers N` (server_processes.py): `metrics_socket` is
    the metrics port its parent bound, `on_started` tells the parent it serves, and it stops
    once `parent_pid` is no longer its parent (the parent was killed and cannot stop it)."""

    def __init__(
        self,
        app: "FastAPI",
        host: str,
        port: int,
        *,
        own_signals: bool = True,
        metrics_socket: socket.socket | None = None,
        on_started: Callable[[], None] | None = None,
        parent_pid: int | None = None,
    ) -> None:
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
        self._metrics_socket = metrics_socket
        self._on_started = on_started
        self._parent_pid = parent_pid

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        settings: ServerSettings = self.app.state.settings
        if settings.metrics_port is not None:
            from solvyd.server.api.metrics import metrics_only_app
            from solvyd.server.metrics.listener import MetricsListener

            port = settings.metrics_port
            self._metrics = MetricsListener(metrics_only_app(self.app), self.config.host, port)
            try:
                # Before anything starts: a port in use stops the server with nothing to undo.
                self._metrics.bind(self._metrics_socket)
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
        if self._on_started is not None and self.started and not self.should_exit:
            self._on_started()

    async def on_tick(self, counter: int) -> bool:
        # Once a second: a process whose parent is gone is adopted by another (its pid
        # changes), and nobody would ever stop it.
        if self._parent_pid is not None and counter % 10 == 0 and os.getppid() != self._parent_pid:
            return True
        return await super().on_tick(counter)

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
