"""An httpx transport that calls an ASGI app in-process and hands back its response as soon as
the response starts, the body following as the app sends it.

httpx's own ASGITransport gathers the whole body before it returns, so an answer that never
ends (a Server-Sent Events stream) never comes back through it. Closing a response taken from
this transport tells the app that the client went away, as a closed connection would, and
waits (bounded) for the app to finish.
"""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any

import httpx

Message = MutableMapping[str, Any]
ASGIApp = Callable[
    [
        MutableMapping[str, Any],
        Callable[[], Awaitable[Message]],
        Callable[[Message], Awaitable[None]],
    ],
    Awaitable[None],
]
# How long a closed response's app may take to notice and finish before it is cancelled.
CLOSE_TIMEOUT_SECONDS = 5.0


class StreamingASGITransport(httpx.AsyncBaseTransport):
    def __init__(self, app: ASGIApp, client: tuple[str, int] = ("127.0.0.1", 123)) -> None:
        self.app = app
        self.client = client

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": request.method,
            "headers": [(k.lower(), v) for k, v in request.headers.raw],
            "scheme": request.url.scheme,
            "path": request.url.path,
            "raw_path": request.url.raw_path.split(b"?")[0],
            "query_string": request.url.query,
            "server": (request.url.host, request.url.port),
            "client": self.client,
            "root_path": "",
        }
        messages: asyncio.Queue[Message] = asyncio.Queue()
        disconnected = asyncio.Event()
        body_sent = False

        async def receive() -> Message:
            nonlocal body_sent
            if not body_sent:
                body_sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await disconnected.wait()
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            messages.put_nowait(message)

        app = asyncio.create_task(self.app(scope, receive, send))
        response_body = _ResponseBody(messages, app, disconnected)
        start = await response_body.next_message()
        if start is None or start["type"] != "http.response.start":
            await response_body.aclose()
            raise RuntimeError(f"the app ended without starting a response: {start}")
        return httpx.Response(
            start["status"], headers=start.get("headers", []), stream=response_body
        )


class _ResponseBody(httpx.AsyncByteStream):
    def __init__(
        self, messages: asyncio.Queue[Message], app: asyncio.Task[None], disconnected: asyncio.Event
    ) -> None:
        self._messages = messages
        self._app = app
        self._disconnected = disconnected

    async def next_message(self) -> Message | None:
        """The app's next message, or None once it has returned with nothing more to say (its
        exception, if it raised one)."""
        if not self._messages.empty():
            return self._messages.get_nowait()
        getter = asyncio.ensure_future(self._messages.get())
        try:
            await asyncio.wait({getter, self._app}, return_when=asyncio.FIRST_COMPLETED)
            if getter.done():
                return getter.result()
        finally:
            getter.cancel()
        if not self._messages.empty():
            return self._messages.get_nowait()
        self._app.result()
        return None

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while (message := await self.next_message()) is not None:
            if message["type"] != "http.response.body":
                continue
            if message.get("body"):
                yield message["body"]
            if not message.get("more_body", False):
                return

    async def aclose(self) -> None:
        self._disconnected.set()
        await asyncio.wait({self._app}, timeout=CLOSE_TIMEOUT_SECONDS)
        if not self._app.done():
            self._app.cancel()
            await asyncio.wait({self._app}, timeout=CLOSE_TIMEOUT_SECONDS)
        if self._app.done() and not self._app.cancelled():
            self._app.exception()  # retrieved: a client that hung up does not care
