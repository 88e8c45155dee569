"""The fake API server's store, errors, authentication and the server that serves them.

Resource modules register routes with ``FakeCluster.add_routes`` before the server starts.
The store is plain dicts of the objects' JSON, keyed by (resource, namespace, name), exactly as
the API server would return them, so tests read back what a client wrote.
"""

import asyncio
import contextlib
import copy
import itertools
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from tests.support.loopback_server import serving_on_loopback

Key = tuple[str, str, str]  # (resource plural, namespace, name)


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def status_error(code: int, reason: str, message: str, **details: Any) -> JSONResponse:
    """An error as the API server sends it: a ``Status`` object with the HTTP code."""
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details:
        body["details"] = details
    return JSONResponse(body, status_code=code)


def not_found(resource: str, name: str) -> JSONResponse:
    return status_error(404, "NotFound", f'{resource} "{name}" not found', name=name, kind=resource)


@dataclass
class FakeCluster:
    """The state of the fake cluster, and what tests script into it."""

    token: str = field(default_factory=lambda: uuid.uuid4().hex)
    url: str = ""
    objects: dict[Key, dict[str, Any]] = field(default_factory=dict)
    # Every request as (method, path with query), in order: tests check what a client did.
    requests: list[tuple[str, str]] = field(default_factory=list)
    # Changes of any object, for code that waits on them (a fake watch).
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    _routes: list[BaseRoute] = field(default_factory=list)
    _versions: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    # Called (in order of registration) when the server stops: resource modules free what
    # they run (the fake kubelet's containers).
    _closers: list[Callable[[], Any]] = field(default_factory=list)

    def add_routes(self, routes: Iterable[BaseRoute]) -> None:
        self._routes.extend(routes)

    def on_close(self, close: Callable[[], Any]) -> None:
        self._closers.append(close)

    # -- the store -------------------------------------------------------------------------

    def get(self, resource: str, namespace: str, name: str) -> dict[str, Any] | None:
        return self.objects.get((resource, namespace, name))

    def list(
        self, resource: str, namespace: str, labels: dict[str, str] | None = None
    ) -> list[dict[str, Any]]:
        found = []
        for (kind, space, _), obj in sorted(self.objects.items()):
            if kind != resource or space != namespace:
                continue
            have = obj.get("metadata", {}).get("labels") or {}
            if labels and any(have.get(key) != value for key, value in labels.items()):
                continue
            found.append(obj)
        return found

    async def put(self, resource: str, namespace: str, obj: dict[str, Any]) -> dict[str, Any]:
        """Store `obj` (a new one gets uid and creation time), bump its resourceVersion."""
        meta = obj.setdefault("metadata", {})
        meta["namespace"] = namespace
        meta.setdefault("uid", str(uuid.uuid4()))
        meta.setdefault("creationTimestamp", now_rfc3339())
        meta["resourceVersion"] = str(next(self._versions))
        self.objects[(resource, namespace, meta["name"])] = obj
        await self._notify()
        return obj

    async def delete(self, resource: str, namespace: str, name: str) -> dict[str, Any] | None:
        obj = self.objects.pop((resource, namespace, name), None)
        await self._notify()
        return obj

    async def _notify(self) -> None:
        async with self.changed:
            self.changed.notify_all()

    async def wait_for(self, check: Callable[[], Any], timeout: float = 10.0) -> Any:
        """Wait until ``check()`` returns something truthy; return it."""
        async with asyncio.timeout(timeout):
            async with self.changed:
                while not (found := check()):
                    await self.changed.wait()
        return found

    # -- serving ---------------------------------------------------------------------------

    def app(self) -> ASGIApp:
        """The routes, behind a bearer-token check of every HTTP request and websocket
        (exec), as an API server with token authentication does."""
        inner = Starlette(routes=list(self._routes))

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] in ("http", "websocket"):
                query = scope.get("query_string", b"").decode()
                self.requests.append(
                    (
                        scope.get("method", "WEBSOCKET"),
                        scope["path"] + (f"?{query}" if query else ""),
                    )
                )
                headers = dict(scope["headers"])
                if headers.get(b"authorization", b"") != f"Bearer {self.token}".encode():
                    if scope["type"] == "websocket":
                        await send({"type": "websocket.close", "code": 1008})
                        return
                    response = status_error(401, "Unauthorized", "Unauthorized")
                    await response(scope, receive, send)
                    return
            await inner(scope, receive, send)

        return app

    def write_kubeconfig(self, path: Path, namespace: str = "default") -> Path:
        """A kubeconfig for this cluster, as ``kubectl config view --raw`` writes one."""
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
            "users": [{"name": "solvyd", "user": {"token": self.token}}],
            "contexts": [
                {
                    "name": "fake",
                    "context": {"cluster": "fake", "user": "solvyd", "namespace": namespace},
                }
            ],
            "current-context": "fake",
        }
        path.write_text(yaml.safe_dump(config))
        path.chmod(0o600)
        return path


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def body_copy(obj: dict[str, Any]) -> dict[str, Any]:
    """What a GET returns: a copy, so that a client changing it changes nothing here."""
    return copy.deepcopy(obj)


@contextlib.asynccontextmanager
async def serving(cluster: FakeCluster) -> AsyncIterator[FakeCluster]:
    """Serve `cluster` on a free loopback port for the life of the block (``cluster.url``)."""
    async with serving_on_loopback(cluster.app()) as url:
        cluster.url = url
        try:
            yield cluster
        finally:
            # What the resource modules run (the kubelet's containers) stops first.
            for close in reversed(cluster._closers):
                result = close()
                if asyncio.iscoroutine(result):
                    await result
