"""SOLVYD_METRICS_PORT: /metrics on a port of its own, on the API's host (so a server bound to
loopback keeps its metrics on loopback too), served in the API server's event loop and
stopped with it."""

import asyncio
import contextlib
import socket
from collections.abc import Generator

import uvicorn
from starlette.types import ASGIApp


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        # The API server handles the process's signals and stops this one itself.
        yield


class MetricsListener:
    def __init__(self, app: ASGIApp, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._server = _Server(
            uvicorn.Config(
                app,
                host=host,
                port=port,
                lifespan="off",
                # The API server's uvicorn has configured logging already, JSON or not.
                log_config=None,
                access_log=False,
                log_level="warning",
                proxy_headers=False,
            )
        )
        self._task: asyncio.Task[None] | None = None
        self._socket: socket.socket | None = None

    def bind(self, bound: socket.socket | None = None) -> None:
        """Call before the server starts anything else: a port in use (OSError) then stops
        it cleanly, with the reason (uvicorn would exit the process from inside its task).
        `bound`: a socket listening on the port already (the parent of `solvyd server
        --workers N` bound it for all its processes)."""
        if bound is not None:
            self._socket = bound
            return
        family = socket.getaddrinfo(self.host, self.port, type=socket.SOCK_STREAM)[0][0]
        self._socket = socket.create_server((self.host, self.port), family=family)

    async def start(self) -> None:
        """Serves on the socket `bind` made; the app it serves must be started by then."""
        if self._socket is None:
            raise RuntimeError("MetricsListener.start before bind")
        self._task = asyncio.create_task(
            self._server.serve([self._socket]), name="metrics-listener"
        )
        while not self._server.started:
            if self._task.done():
                await self._task  # its error, if it has one
                raise RuntimeError(f"the metrics listener on port {self.port} did not start")
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        if self._task is not None:
            self._server.should_exit = True
            await self._task
            self._task = None
        if self._socket is not None:
            self._socket.close()
            self._socket = None
