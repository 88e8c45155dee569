"""Short helpers for API tests: log in, register workers, create jobs, trigger, claim, report.

Every helper talks HTTP through the client it is given (in-process ASGI or a real server), and
every wait is bounded.
"""

import asyncio
import itertools
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import sqlalchemy as sa

from solvyd.server.auth.access_tokens import issue_access_token
from solvyd.server.db.models import LoginSession, User
from solvyd.shared.clock import utcnow
from solvyd.shared.ids import new_token, token_digest
from tests.support.processes import ADMIN_PASSWORD, AGENT_TOKEN

API = "/api/v1"
PIPELINE = (
    "steps:\n  - name: build\n    commands: [echo hi]\n  - name: test\n    commands: [echo ok]\n"
)
FINISHED = {"success", "failure", "cancelled", "error"}

_names = itertools.count(1)

Headers = dict[str, str]


def bearer(token: str) -> Headers:
    return {"Authorization": f"Bearer {token}"}


def unique(prefix: str) -> str:
    return f"{prefix}-{next(_names)}-{uuid.uuid4().hex[:6]}"


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> str:
    """The answer has `status` and the one error shape; returns its message."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    assert isinstance(body["error"]["code"], str)
    assert isinstance(body["error"]["message"], str)
    assert body["error"]["message"]
    if code is not None:
        assert body["error"]["code"] == code, body
    return str(body["error"]["message"])


async def login(http: httpx.AsyncClient, password: str = ADMIN_PASSWORD) -> Headers:
    response = await http.post(
        f"{API}/auth/login", json={"username": "admin", "password": password}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer"
    return bearer(body["access_token"])


async def admin_headers(http: httpx.AsyncClient) -> Headers:
    """The admin's token, minted in-process for the ASGI client (with the login session every
    access token names). Login has its own tests, and its argon2 check costs ~0.1 s, which
    adds up over a suite that logs in per test."""
    ctx = http.app.state.ctx  # type: ignore[attr-defined]
    async with ctx.db.transaction() as session:
        user = await session.scalar(sa.select(User).where(User.username == "admin"))
        assert user is not None
        login_session = LoginSession(
            id=uuid.uuid4(),
            user_id=user.id,
            refresh_token_hash=token_digest(new_token("svr_")),
            expires_at=utcnow() + timedelta(days=1),
        )
        session.add(login_session)
    token = issue_access_token(
        user.id, login_session.id, ctx.keys.jwt_secret, timedelta(minutes=10)
    )
    return bearer(token)


async def user_headers(http: httpx.AsyncClient, admin: Headers, role: str) -> Headers:
    """A new user with `role`, made through the API, signed in."""
    name, password = unique(role), "a-test-password"
    created = await http.post(
        f"{API}/users", headers=admin, json={"username": name, "password": password, "role": role}
    )
    assert created.status_code == 201, created.text
    response = await http.post(f"{API}/auth/login", json={"username": name, "password": password})
    assert response.status_code == 200, response.text
    return bearer(response.json()["access_token"])


@dataclass
class Worker:
    id: str
    name: str
    token: str

    @property
    def headers(self) -> Headers:
        return bearer(self.token)


async def register_worker(
    http: httpx.AsyncClient,
    name: str | None = None,
    *,
    labels: list[str] | None = None,
    concurrency: int = 1,
    worker_token: str | None = None,
    registration_token: str = AGENT_TOKEN,
    executors: list[str] | None = None,
    **capabilities: Any,
) -> Worker:
    """Register `name`; a name already registered needs that worker's `worker_token`.
    `capabilities`: more fields of the registration's capabilities, as the agent sends them."""
    name = name or unique("worker")
    headers = bearer(registration_token)
    if worker_token is not None:
        headers["X-Solvyd-Worker-Token"] = worker_token
    response = await http.post(
        f"{API}/workers/register",
        headers=headers,
        json={
            "name": name,
            "hostname": f"{name}.example",
            "ip": "127.0.0.1",
            "capabilities": {
                "labels": labels or [],
                "executors": executors or ["local"],
                "concurrency": concurrency,
                **capabilities,
            },
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    return Worker(id=body["id"], name=body["name"], token=body["token"])


async def create_job(
    http: httpx.AsyncClient, admin: Headers, name: str | None = None, **fields: Any
) -> dict[str, Any]:
    fields.setdefault("pipeline", PIPELINE)
    response = await http.post(
        f"{API}/jobs", headers=admin, json={"name": name or unique("job"), **fields}
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def trigger(
    http: httpx.AsyncClient, admin: Headers, job_id: str, **body: Any
) -> dict[str, Any]:
    response = await http.post(f"{API}/jobs/{job_id}/trigger", headers=admin, json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def get_build(http: httpx.AsyncClient, admin: Headers, build_id: str) -> dict[str, Any]:
    response = await http.get(f"{API}/builds/{build_id}", headers=admin)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def claim(
    http: httpx.AsyncClient, worker: Worker, wait: float = 0.0, *, timeout: float = 15.0
) -> httpx.Response:
    """One claim long poll, bounded by `timeout` on our side."""
    return await asyncio.wait_for(
        http.post(f"{API}/workers/{worker.id}/claim", headers=worker.headers, json={"wait": wait}),
        timeout,
    )


async def claim_build(http: httpx.AsyncClient, worker: Worker) -> dict[str, Any]:
    """Claim now and expect a job spec."""
    response = await claim(http, worker)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def set_status(
    http: httpx.AsyncClient, worker: Worker, build_id: str, status: str, **fields: Any
) -> httpx.Response:
    return await http.put(
        f"{API}/builds/{build_id}/status",
        headers=worker.headers,
        json={"status": status, **fields},
    )


async def post_logs(
    http: httpx.AsyncClient,
    worker: Worker,
    build_id: str,
    seq: int,
    lines: list[str],
    step: str | None = "build",
) -> httpx.Response:
    return await http.post(
        f"{API}/builds/{build_id}/logs",
        headers=worker.headers,
        json={"seq": seq, "step": step, "lines": [{"text": text} for text in lines]},
    )


async def running_build(
    http: httpx.AsyncClient, admin: Headers, job: dict[str, Any]
) -> tuple[Worker, dict[str, Any]]:
    """A fresh worker that has claimed a new build of `job` and reported it running."""
    worker = await register_worker(http)
    build = await trigger(http, admin, job["id"])
    spec = await claim_build(http, worker)
    assert spec["build_id"] == build["id"]
    response = await set_status(http, worker, build["id"], "running")
    assert response.status_code == 200, response.text
    return worker, build


async def timed(awaitable: Any, timeout: float) -> tuple[Any, float]:
    """Await with a bound; answer the result and the seconds it took."""
    started = time.monotonic()
    result = await asyncio.wait_for(awaitable, timeout)
    return result, time.monotonic() - started
