"""Every route in the OpenAPI document, called by every kind of caller: nobody, a viewer, a
developer, an admin, a worker and an agent registration token. Each answer must be what the
route's declared access rule (`x-solvyd-access`) allows: 401 without credentials, 403 for a
caller the rule leaves out, and neither for one it lets in. A route that declares no rule
fails here, so a new endpoint cannot ship unguarded by accident."""

import re
import uuid
from typing import Any

import httpx
import pytest

from solvyd.server.auth.passwords import hash_password
from solvyd.server.auth.roles import Access, Role
from solvyd.server.db.models import User
from tests.integration.api_helpers import AGENT_TOKEN, API, admin_headers, bearer, register_worker
from tests.support.asgi_streaming import StreamingASGITransport

# The policy, written down independently of the code that enforces it: who may call what.
# A route missing here, or whose code declares another rule, fails the test.
POLICY = {
    "POST /api/v1/auth/login": "public",
    "POST /api/v1/auth/refresh": "public",
    "POST /api/v1/auth/logout": "viewer",
    "GET /api/v1/users/me": "viewer",
    "POST /api/v1/users/me/password": "viewer",
    "GET /api/v1/users": "admin",
    "POST /api/v1/users": "admin",
    "GET /api/v1/users/{user_id}": "admin",
    "PATCH /api/v1/users/{user_id}": "admin",
    "GET /api/v1/tokens": "viewer",
    "POST /api/v1/tokens": "viewer",
    "DELETE /api/v1/tokens/{token_id}": "viewer",
    "GET /api/v1/agent-tokens": "admin",
    "POST /api/v1/agent-tokens": "admin",
    "DELETE /api/v1/agent-tokens/{token_id}": "admin",
    "GET /healthz": "public",
    "GET /readyz": "public",
    "GET /api/v1/jobs": "viewer",
    "GET /api/v1/jobs/{job_id}": "viewer",
    "POST /api/v1/jobs": "developer",
    "PATCH /api/v1/jobs/{job_id}": "developer",
    "POST /api/v1/jobs/{job_id}/notifications/test": "developer",
    "DELETE /api/v1/jobs/{job_id}": "admin",
    "POST /api/v1/jobs/{job_id}/trigger": "developer",
    "GET /api/v1/builds": "viewer",
    "GET /api/v1/builds/{build_id}": "viewer",
    "POST /api/v1/builds/{build_id}/cancel": "developer",
    "POST /api/v1/builds/{build_id}/retry": "developer",
    "POST /api/v1/builds/{build_id}/approve": "developer",
    "GET /api/v1/builds/{build_id}/logs": "viewer",
    "GET /api/v1/builds/{build_id}/logs/stream": "viewer",
    "GET /api/v1/builds/{build_id}/artifacts": "viewer",
    "GET /api/v1/builds/{build_id}/artifacts/{name}": "viewer",
    "GET /api/v1/workers": "viewer",
    "POST /api/v1/workers/{worker_id}/drain": "admin",
    "POST /api/v1/workers/{worker_id}/resume": "admin",
    "DELETE /api/v1/workers/{worker_id}": "admin",
    "POST /api/v1/pipelines/validate": "developer",
    "GET /api/v1/stats": "viewer",
    # Reads only: the settings, and counts of what retention would remove. The counts scan
    # every old build: not for anyone who can read to set off at will.
    "GET /api/v1/retention": "viewer",
    "GET /api/v1/retention/preview": "admin",
    "GET /api/v1/plugins": "viewer",
    "GET /api/v1/events/stream": "viewer",
    "POST /api/v1/workers/register": "agent-registration",
    "POST /api/v1/workers/{worker_id}/heartbeat": "worker",
    "POST /api/v1/workers/{worker_id}/claim": "worker",
    "GET /api/v1/workers/{worker_id}/builds": "worker",
    "POST /api/v1/builds/{build_id}/logs": "worker",
    "PUT /api/v1/builds/{build_id}/status": "worker",
    "POST /api/v1/builds/{build_id}/reports": "worker",
    "PUT /api/v1/builds/{build_id}/steps/{step_name}": "worker",
    "PUT /api/v1/builds/{build_id}/graph": "worker",
    "GET /api/v1/builds/{build_id}/cancel-wait": "worker",
    "PUT /api/v1/builds/{build_id}/artifacts/{name}": "worker",
    "GET /api/v1/audit": "admin",
    "GET /api/v1/secrets": "admin",
    "PUT /api/v1/secrets/{name}": "admin",
    "DELETE /api/v1/secrets/{name}": "admin",
    "GET /api/v1/jobs/{job_id}/secrets": "admin",
    "PUT /api/v1/jobs/{job_id}/secrets/{name}": "admin",
    "DELETE /api/v1/jobs/{job_id}/secrets/{name}": "admin",
    "POST /api/v1/builds/{build_id}/secrets": "worker",
    # A forge's webhook: no user token, the request's signature is checked against the
    # secrets of the jobs of its repository (401 when none verifies it).
    "POST /api/v1/hooks/{forge}": "public",
    "GET /api/v1/hooks/deliveries": "admin",
    "GET /api/v1/hooks/deliveries/{delivery_id}": "admin",
    "POST /api/v1/hooks/deliveries/{delivery_id}/replay": "admin",
    "GET /api/v1/badges/{job_name}.svg": "public",
    "GET /api/v1/environments": "viewer",
    "GET /api/v1/environments/{name}": "viewer",
    "PUT /api/v1/environments/{name}": "admin",
    "POST /api/v1/environments/{name}/rollback": "developer",
    "GET /api/v1/builds/{build_id}/deployments": "viewer",
    "GET /api/v1/deployments/{deployment_id}": "viewer",
    "POST /api/v1/deployments/{deployment_id}/approve": "developer",
    "POST /api/v1/deployments/{deployment_id}/reject": "developer",
    "POST /api/v1/builds/{build_id}/deployments": "worker",
    "GET /api/v1/deployments/{deployment_id}/state": "worker",
    "PUT /api/v1/deployments/{deployment_id}/outcome": "worker",
    "POST /api/v1/deployments/{deployment_id}/step-stopped": "worker",
}
# Walked last, in this order: the first removes the worker, and with it the worker's token; the
# second ends the caller's login session, and with it the caller's token.
WALKED_LAST = ("DELETE /api/v1/workers/{worker_id}", "POST /api/v1/auth/logout")
PASSWORD = "table-test-password"
CALLERS = ("nobody", "viewer", "developer", "admin", "worker", "registration")
ALLOWED = "allowed"


def expected(rule: str, caller: str) -> int | str:
    """401, 403, or ALLOWED (any answer but 401/403, and never a 5xx)."""
    access = Access(rule)
    if access is Access.PUBLIC:
        return ALLOWED
    if caller == "nobody":
        return 401
    if access.role is not None:
        if caller in ("viewer", "developer", "admin"):
            return ALLOWED if Role(caller).includes(access.role) else 403
        # A worker token is refused by its prefix; a registration token is no user's token.
        return 403 if caller == "worker" else 401
    if access is Access.WORKER:
        return ALLOWED if caller == "worker" else 403
    assert access is Access.AGENT_REGISTRATION
    if caller == "registration":
        return ALLOWED
    return 403 if caller == "worker" else 401


async def _user_token(client: httpx.AsyncClient, role: Role) -> str:
    name = f"table-{role}-{uuid.uuid4().hex[:6]}"
    ctx = client.app.state.ctx  # type: ignore[attr-defined]
    async with ctx.db.transaction() as session:
        session.add(User(username=name, password_hash=hash_password(PASSWORD), role=role))
    response = await client.post(f"{API}/auth/login", json={"username": name, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def _url(path: str, worker_id: str) -> str:
    path = path.replace("{worker_id}", worker_id)
    # Unknown ids: a caller the rule lets in gets 404, which proves it got past the guard.
    return re.sub(r"\{[^}]+\}", lambda m: "x" if "name" in m.group() else str(uuid.uuid4()), path)


async def _call(
    client: httpx.AsyncClient, method: str, url: str, token: str | None, *, streams: bool
) -> httpx.Response:
    headers = bearer(token) if token else {}
    # Long polls answer at once; bodies are empty objects (a 422 is past the guard too).
    params: dict[str, Any] = {"wait": 0}
    if streams:
        # An event stream may never end: its status is the answer, then we hang up.
        transport = StreamingASGITransport(client.app)  # type: ignore[attr-defined]
        async with (
            httpx.AsyncClient(transport=transport, base_url=client.base_url) as streaming,
            streaming.stream(method, url, headers=headers, params=params) as response,
        ):
            return response
    if method in ("post", "put", "patch"):
        return await client.request(method, url, headers=headers, params=params, json={"wait": 0})
    return await client.request(method, url, headers=headers, params=params)


def _streams(operation: dict[str, Any]) -> bool:
    content = operation.get("responses", {}).get("200", {}).get("content", {})
    return "text/event-stream" in content


@pytest.mark.timeout(300)
async def test_every_route_answers_each_caller_as_its_rule_says(
    client: httpx.AsyncClient,
) -> None:
    worker = await register_worker(client)
    tokens: dict[str, str | None] = {
        "nobody": None,
        "viewer": await _user_token(client, Role.VIEWER),
        "developer": await _user_token(client, Role.DEVELOPER),
        "admin": (await admin_headers(client))["Authorization"].removeprefix("Bearer "),
        "worker": worker.token,
        "registration": AGENT_TOKEN,
    }
    document = (await client.get(f"{API}/openapi.json")).json()

    operations = [
        (f"{method.upper()} {path}", path, method, operation)
        for path, by_method in document["paths"].items()
        for method, operation in by_method.items()
    ]
    operations.sort(
        key=lambda walked: WALKED_LAST.index(walked[0]) if walked[0] in WALKED_LAST else -1
    )

    wrong: list[str] = []
    checked = 0
    for route, path, method, operation in operations:
        rule = POLICY.get(route)
        declared = operation.get("x-solvyd-access")
        if rule is None:
            wrong.append(f"{route}: not in the policy table (its code says {declared!r})")
            continue
        if declared != rule:
            wrong.append(f"{route}: the code declares {declared!r}, the policy says {rule}")
        for caller in CALLERS:
            want = expected(rule, caller)
            url = _url(path, worker.id)
            response = await _call(client, method, url, tokens[caller], streams=_streams(operation))
            got = response.status_code
            checked += 1
            if (
                got >= 500
                or (want == ALLOWED and got in (401, 403))
                or (want != ALLOWED and got != want)
            ):
                wrong.append(f"{route} as {caller}: {got}, expected {want}")
    assert not wrong, "\n".join(wrong)
    assert checked == len(CALLERS) * len(POLICY)  # every route of the policy was walked
