"""solvyd_http_requests_total and solvyd_http_request_duration_seconds, by the matched route's
template (`/api/v1/builds/{build_id}`), never the path itself: a path holds ids and whatever
a client makes up, and a label's values must stay bounded.

Pure ASGI, like `middleware.py` (see why there): it only watches the answer's start, so SSE
streams and long polls pass untouched. The duration is the time to that start."""

import time
from collections.abc import Iterable

from fastapi import APIRouter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from solvyd.server.metrics.registry import ServerMetrics
from solvyd.server.web_ui import SERVED_BY_UI

UI_ROUTE = "ui"
UNMATCHED_ROUTE = "unmatched"


class RouteTemplates:
    """Route label of a request: the template of the route the router matched, `ui` for the
    web UI's files and pages, `unmatched` for anything else.

    The router puts the matched route in the scope, but FastAPI hands over the route of the
    router it was declared in, whose path lacks the prefixes of the routers that include it
    (`/builds/{build_id}`, not `/api/v1/builds/{build_id}`): the full templates are known
    here, from the routers and the prefix each is included under."""

    def __init__(self, routers: Iterable[tuple[str, APIRouter]]) -> None:
        self._templates: dict[int, str] = {}
        for prefix, router in routers:
            for route in router.routes:
                path = getattr(route, "path", None)
                if isinstance(path, str):
                    self._templates[id(route)] = prefix + path

    def label(self, scope: Scope) -> str:
        route = scope.get("route")
        if route is not None:
            template = self._templates.get(id(route), getattr(route, "path", None))
            if isinstance(template, str):
                return template
        return UI_ROUTE if scope.get(SERVED_BY_UI) else UNMATCHED_ROUTE


class HttpMetrics:
    def __init__(self, app: ASGIApp, metrics: ServerMetrics, routes: RouteTemplates) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        metrics = self.metrics

        async def send_observed(message: Message) -> None:
            if message["type"] == "http.response.start":
                method = metrics.http_method(scope["method"])
                route = self.routes.label(scope)
                metrics.http_request_duration_seconds.labels(method, route).observe(
                    time.perf_counter() - started
                )
                metrics.http_requests.labels(method, route, str(message["status"])).inc()
            await send(message)

        await self.app(scope, receive, send_observed)
