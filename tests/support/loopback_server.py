"""Serve an ASGI app (a test's fake of a third party) on a free loopback port, in the test's
own event loop, for the life of a block."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import uvicorn


@contextlib.asynccontextmanager
async def serving_on_loopback(app: Any) -> AsyncIterator[str]:
    """The app's base URL (``http://127.0.0.1:PORT``) while the block runs; the server stops
    after it (bounded: a client holding a stream open cannot keep the test waiting)."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(10):
            while not server.started:
                await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(task, 10)
