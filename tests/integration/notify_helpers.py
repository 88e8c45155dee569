"""Helpers of the notification tests: the app with its sender loop, a build run as a worker
would run it, and the wait for its notifications to settle."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
import sqlalchemy as sa

from solvyd.server.app import create_app
from solvyd.server.db.models import NotificationDelivery
from solvyd.server.settings import ServerSettings
from solvyd.shared.clock import utcnow
from tests.integration.api_helpers import (
    API,
    Headers,
    claim_build,
    get_build,
    post_logs,
    register_worker,
    set_status,
    trigger,
)

# A value a step prints; it must never reach a receiver.
DEPLOY_TOKEN = "deploy-token-Hq3Vw8Kz5Rj1"
PUBLIC_URL = "https://ci.example.test"


@asynccontextmanager
async def app_client(settings: ServerSettings, **changes: Any) -> AsyncIterator[httpx.AsyncClient]:
    """The app in-process with its background loops (the notification sender among them)."""
    app = create_app(
        settings.model_copy(
            update={
                "public_url": PUBLIC_URL,
                "notification_backoff_seconds": 0.2,
                "notification_backoff_max_seconds": 0.5,
                "notification_timeout_seconds": 3.0,
                # Far off: a delivery must go out on the wake-up after its commit, not a poll.
                "notification_poll_seconds": 60.0,
                "slack_webhook_hosts": ["127.0.0.1"],
                **changes,
            }
        )
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            http.app = app  # type: ignore[attr-defined]
            yield http


async def set_secret(
    http: httpx.AsyncClient, admin: Headers, job_id: str, name: str, value: str
) -> None:
    response = await http.put(
        f"{API}/jobs/{job_id}/secrets/{name}", headers=admin, json={"value": value}
    )
    assert response.status_code in (200, 201), response.text


async def run_build(
    http: httpx.AsyncClient,
    admin: Headers,
    job: dict[str, Any],
    final: str,
    branch: str | None = None,
    error_message: str | None = None,
) -> dict[str, Any]:
    """A build of `job` run by a worker: step `build` prints the deploy token and ends as
    `final` says, then the build ends so."""
    worker = await register_worker(http)
    body = {"branch": branch} if branch else {}
    build = await trigger(http, admin, job["id"], **body)
    assert (await claim_build(http, worker))["build_id"] == build["id"]
    assert (await set_status(http, worker, build["id"], "running")).status_code == 200
    step_url = f"{API}/builds/{build['id']}/steps/build"
    response = await http.put(step_url, headers=worker.headers, json={"status": "running"})
    assert response.status_code == 200, response.text
    lines = [f"line {n}" for n in range(40)] + [f"using {DEPLOY_TOKEN}", "boom: tests failed"]
    assert (await post_logs(http, worker, build["id"], 0, lines[:20])).status_code == 200
    assert (await post_logs(http, worker, build["id"], 1, lines[20:])).status_code == 200
    step_status = "success" if final == "success" else "failure"
    response = await http.put(
        step_url, headers=worker.headers, json={"status": step_status, "exit_code": 1}
    )
    assert response.status_code == 200, response.text
    exit_code = 0 if final == "success" else 1
    extra = {"error_message": error_message} if error_message else {}
    response = await set_status(http, worker, build["id"], final, exit_code=exit_code, **extra)
    assert response.status_code == 200, response.text
    return build


async def settled(
    http: httpx.AsyncClient, admin: Headers, build_id: str, count: int = 1
) -> list[dict[str, Any]]:
    """The build's notifications once `count` exist and none is pending (bounded)."""
    deadline = utcnow() + timedelta(seconds=20)
    while True:
        notes = (await get_build(http, admin, build_id))["notifications"]
        if len(notes) >= count and all(note["status"] != "pending" for note in notes):
            return list(notes)
        assert utcnow() < deadline, notes
        await asyncio.sleep(0.05)


async def delivery_rows(http: httpx.AsyncClient) -> list[NotificationDelivery]:
    ctx = http.app.state.ctx  # type: ignore[attr-defined]
    async with ctx.db.transaction() as session:
        return list(await session.scalars(sa.select(NotificationDelivery)))
