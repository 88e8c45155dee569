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
                access_log=False,
                log_level="warning",
                proxy_headers=False,
            )
        )
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Binds now, so a port in use fails the server's start with the reason (uvicorn
        would exit the process from inside its own task)."""
        family = socket.getaddrinfo(self.host, self.port, type=socket.SOCK_STREAM)[0][0]
        sock = socket.create_server((self.host, self.port), family=family)
        self._task = asyncio.create_task(self._server.serve([sock]), name="metrics-listener")
        while not self._server.started:
            if self._task.done():
                await self._task  # its error, if it has one
                raise RuntimeError(f"the metrics listener on port {self.port} did not start")
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        if self._task is None:
            return
        self._server.should_exit = True
        await self._task
        self._task = None
