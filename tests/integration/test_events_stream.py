"""GET /events/stream: Server-Sent Events that tell a UI what to refetch. A build created or
changing status is a `builds` change, a worker's visible change a `workers` change, a
deployment registered, approved or ended a `deployments` change; bursts
come as one event; the stream ends at shutdown and once the viewer's token stops working.

The app runs in-process behind a transport that hands over the response as it streams."""

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from httpx_sse import EventSource, aconnect_sse

from solvyd.server.events import BUILDS
from tests.integration.api_helpers import (
    API,
    Headers,
    admin_headers,
    claim_build,
    create_job,
    register_worker,
    set_status,
    trigger,
    user_headers,
)
from tests.support.asgi_streaming import StreamingASGITransport

URL = f"{API}/events/stream"
# Wake-ups are coalesced for 0.2 s: an event is due well within this.
DUE_SECONDS = 5.0


class ChangeReader:
    """Reads a change stream in a task of its own, so a test can wait for an event with a
    bound."""

    def __init__(self, source: EventSource) -> None:
        self.events: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
        self.ended = asyncio.Event()
        self.task = asyncio.create_task(self._read(source))

    async def _read(self, source: EventSource) -> None:
        try:
            async for sse in source.aiter_sse():
                self.events.put_nowait((sse.event, json.loads(sse.data)))
        finally:
            self.ended.set()

    async def next_change(self, timeout: float = DUE_SECONDS) -> str:
        """The `what` of the next `changed` event."""
        async with asyncio.timeout(timeout):
            while True:
                kind, data = await self.events.get()
                if kind == "changed":
                    return str(data["what"])

    async def wait_for(self, what: str, timeout: float = DUE_SECONDS) -> None:
        """Until a `changed` event about `what` arrives (others are passed over)."""
        async with asyncio.timeout(timeout):
            while await self.next_change(timeout) != what:
                pass

    async def changes_within(self, seconds: float) -> list[str]:
        """Every `changed` event's `what` that arrives within `seconds`."""
        seen: list[str] = []
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                while True:
                    seen.append(await self.next_change(seconds))
        return seen


@pytest.fixture
async def admin(client: httpx.AsyncClient) -> Headers:
    return await admin_headers(client)


@pytest.fixture
async def streaming(client: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    transport = StreamingASGITransport(client.app)  # type: ignore[attr-defined]
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


@contextlib.asynccontextmanager
async def watching(http: httpx.AsyncClient, headers: Headers) -> AsyncIterator[ChangeReader]:
    async with aconnect_sse(http, "GET", URL, headers=headers) as source:
        assert source.response.status_code == 200, source.response.status_code
        assert source.response.headers["content-type"].startswith("text/event-stream")
        reader = ChangeReader(source)
        try:
            yield reader
        finally:
            reader.task.cancel()
            await asyncio.wait({reader.task}, timeout=DUE_SECONDS)


async def test_a_trigger_and_each_status_change_are_builds_changes(
    client: httpx.AsyncClient, streaming: httpx.AsyncClient, admin: Headers
) -> None:
    job = await create_job(client, admin)
    worker = await register_worker(client)
    viewer = await user_headers(client, admin, "viewer")
    async with watching(streaming, viewer) as changes:
        build = await trigger(client, admin, job["id"])
        assert await changes.next_change() == "builds"

        await claim_build(client, worker)
        await changes.wait_for("builds")
        assert (await set_status(client, worker, build["id"], "running")).status_code == 200
        await changes.wait_for("builds")
        step = await client.put(
            f"{API}/builds/{build['id']}/steps/build",
            headers=worker.headers,
            json={"status": "running"},
        )
        assert step.status_code == 200, step.text
        await changes.wait_for("builds")
        cancelled = await client.post(f"{API}/builds/{build['id']}/cancel", headers=admin)
        assert cancelled.status_code == 200, cancelled.text
        await changes.wait_for("builds")


async def test_a_deployment_registered_approved_and_ended_are_deployments_changes(
    client: httpx.AsyncClient, streaming: httpx.AsyncClient, admin: Headers
) -> None:
    ship = {
        "name": "ship",
        "commands": ["./deploy.sh"],
        "deploy": {"environment": "staging", "approval": "required"},
    }
    job = await create_job(client, admin, pipeline=json.dumps({"steps": [ship]}))
    worker = await register_worker(client)
    build = await trigger(client, admin, job["id"])
    spec = await claim_build(client, worker)
    assert (await set_status(client, worker, build["id"], "running")).status_code == 200
    viewer = await user_headers(client, admin, "viewer")
    async with watching(streaming, viewer) as changes:
        registered = await client.post(
            f"{API}/builds/{build['id']}/deployments",
            headers=worker.headers,
            json={"step": "ship", "deploy": spec["steps"][-1]["deploy"], "attempt": 1},
        )
        assert registered.status_code == 200, registered.text
        deployment_id = registered.json()["id"]
        await changes.wait_for("deployments")
        approved = await client.post(f"{API}/deployments/{deployment_id}/approve", headers=admin)
        assert approved.status_code == 200, approved.text
        await changes.wait_for("deployments")
        ended = await client.put(
            f"{API}/deployments/{deployment_id}/outcome",
            headers=worker.headers,
            json={"status": "succeeded", "attempt": 1},
        )
        assert ended.status_code == 200, ended.text
        await changes.wait_for("deployments")


async def test_worker_changes_a_viewer_sees_are_workers_changes(
    client: httpx.AsyncClient, streaming: httpx.AsyncClient, admin: Headers
) -> None:
    worker = await register_worker(client)
    heartbeat = f"{API}/workers/{worker.id}/heartbeat"
    async with watching(streaming, admin) as changes:
        drained = await client.post(f"{API}/workers/{worker.id}/drain", headers=admin)
        assert drained.status_code == 200, drained.text
        assert await changes.next_change() == "workers"

        # A heartbeat that changes nothing a viewer sees is no change.
        for _ in range(3):
            beat = await client.post(heartbeat, headers=worker.headers, json={})
            assert beat.status_code == 200, beat.text
        assert await changes.changes_within(0.5) == []
        beat = await client.post(heartbeat, headers=worker.headers, json={"current_builds": 1})
        assert beat.status_code == 200, beat.text
        assert await changes.next_change() == "workers"

        resumed = await client.post(f"{API}/workers/{worker.id}/resume", headers=admin)
        assert resumed.status_code == 200, resumed.text
        assert await changes.next_change() == "workers"
        other = await register_worker(client)
        assert await changes.next_change() == "workers"
        removed = await client.delete(f"{API}/workers/{other.id}", headers=admin)
        assert removed.status_code == 204, removed.text
        assert await changes.next_change() == "workers"


async def test_a_burst_of_changes_is_one_event(
    client: httpx.AsyncClient, streaming: httpx.AsyncClient, admin: Headers
) -> None:
    hub = client.app.state.ctx.events  # type: ignore[attr-defined]
    async with watching(streaming, admin) as changes:
        for _ in range(20):
            hub.notify(BUILDS)
        assert await changes.changes_within(1.0) == ["builds"]
        # The stream listens again: the next change is told too.
        hub.notify(BUILDS)
        assert await changes.next_change() == "builds"


async def test_the_stream_ends_when_the_server_shuts_down(
    client: httpx.AsyncClient, streaming: httpx.AsyncClient, admin: Headers
) -> None:
    async with watching(streaming, admin) as changes:
        client.app.state.ctx.events.close()  # type: ignore[attr-defined]
        await asyncio.wait_for(changes.ended.wait(), DUE_SECONDS)


async def test_the_stream_ends_once_the_viewers_token_stops_working(
    client: httpx.AsyncClient, streaming: httpx.AsyncClient, admin: Headers
) -> None:
    viewer = await user_headers(client, admin, "viewer")
    async with watching(streaming, viewer) as changes:
        logged_out = await client.post(f"{API}/auth/logout", headers=viewer)
        assert logged_out.status_code == 204, logged_out.text
        started = time.monotonic()
        # Rechecked every 5 s of the stream, with or without changes.
        await asyncio.wait_for(changes.ended.wait(), 15)
        assert time.monotonic() - started < 11
    refused = await streaming.get(URL, headers=viewer)
    assert refused.status_code == 401
