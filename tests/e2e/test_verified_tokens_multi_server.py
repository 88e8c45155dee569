"""Two real `solvyd server` processes on one PostgreSQL database: each believes a worker token,
or a user's login session, it verified for a few seconds (`TTL_SECONDS`) without asking the
database, yet a worker removed or registered anew through one server has its old token refused
by the other at once, and so has a session logged out or a user disabled, because the servers
tell each other through LISTEN/NOTIFY. Only the TTL bounds what no server tells (a row changed
by hand)."""

import asyncio
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import httpx
import pytest

from solvyd.server.auth.verified_tokens import TTL_SECONDS
from tests.support.processes import AGENT_TOKEN, Process, ServerProcess, start_server

USER_PASSWORD = "multi-server-user-password"

pytestmark = [
    pytest.mark.e2e,
    # LISTEN/NOTIFY is PostgreSQL's; SQLite is single-server.
    pytest.mark.parametrize("database_url", ["postgresql"], indirect=True),
]

# Far below the TTL: only the other server's notification explains a refusal this soon.
NOTIFIED_WITHIN_SECONDS = 1.0


@dataclass
class Worker:
    id: str
    name: str
    token: str


@dataclass
class TwoServers:
    a: httpx.Client
    b: httpx.Client
    admin_a: dict[str, str]


@pytest.fixture
def two_servers(database_url: str, tmp_path: Path, log_dir: Path) -> Iterator[TwoServers]:
    started: list[Process] = []
    clients: list[httpx.Client] = []
    try:
        servers: list[ServerProcess] = []
        # One secret, as servers of one installation share: each accepts the other's tokens.
        secret_key = uuid.uuid4().hex * 2
        for name in ("a", "b"):
            server = start_server(
                database_url, tmp_path / name, log_dir, SOLVYD_SECRET_KEY=secret_key
            )
            started.append(server.process)
            servers.append(server)
            clients.append(httpx.Client(base_url=f"{server.url}/api/v1", timeout=30))
        admin = {"Authorization": f"Bearer {servers[0].admin_token()}"}
        yield TwoServers(clients[0], clients[1], admin)
    finally:
        for client in clients:
            client.close()
        for process in reversed(started):
            process.stop()


def _register(http: httpx.Client, name: str, worker_token: str | None = None) -> Worker:
    headers = {"Authorization": f"Bearer {AGENT_TOKEN}"}
    if worker_token is not None:
        headers["X-Solvyd-Worker-Token"] = worker_token
    body = {
        "name": name,
        "hostname": "host.example",
        "ip": "127.0.0.1",
        "capabilities": {"labels": [], "executors": ["local"], "concurrency": 1},
    }
    response = http.post("/workers/register", headers=headers, json=body)
    assert response.status_code == 200, response.text
    answer = response.json()
    return Worker(answer["id"], answer["name"], answer["token"])


def _heartbeat(http: httpx.Client, worker: Worker, token: str | None = None) -> int:
    response = http.post(
        f"/workers/{worker.id}/heartbeat",
        headers={"Authorization": f"Bearer {token or worker.token}"},
        json={},
    )
    return response.status_code


def _verified_on(http: httpx.Client, worker: Worker) -> float:
    """Has the server verify the worker's token now; returns when (monotonic)."""
    verified_at = time.monotonic()
    assert _heartbeat(http, worker) == 200
    return verified_at


def _seconds_until_refused(http: httpx.Client, worker: Worker, since: float) -> float:
    while _heartbeat(http, worker) != 401:
        assert time.monotonic() - since < TTL_SECONDS, "the token still works"
        time.sleep(0.005)
    return time.monotonic() - since


def test_a_worker_removed_through_one_server_is_refused_by_the_other_at_once(
    two_servers: TwoServers,
) -> None:
    a, b = two_servers.a, two_servers.b
    worker = _register(a, f"gone-{uuid.uuid4().hex[:8]}")
    verified_at = _verified_on(b, worker)
    removed = a.delete(f"/workers/{worker.id}", headers=two_servers.admin_a)
    assert removed.status_code == 204, removed.text
    removed_at = time.monotonic()
    assert _seconds_until_refused(b, worker, removed_at) < NOTIFIED_WITHIN_SECONDS
    # B verified the token well within the TTL before: only the notification explains it.
    assert time.monotonic() - verified_at < TTL_SECONDS
    assert _heartbeat(a, worker) == 401


def test_a_worker_registered_anew_through_one_server_has_its_old_token_refused_by_the_other(
    two_servers: TwoServers,
) -> None:
    a, b = two_servers.a, two_servers.b
    first = _register(a, f"restarts-{uuid.uuid4().hex[:8]}")
    verified_at = _verified_on(b, first)
    again = _register(a, first.name, worker_token=first.token)
    registered_at = time.monotonic()
    assert again.id == first.id
    assert _seconds_until_refused(b, first, registered_at) < NOTIFIED_WITHIN_SECONDS
    assert time.monotonic() - verified_at < TTL_SECONDS
    assert _heartbeat(b, again) == 200


def test_a_token_changed_behind_the_servers_backs_works_on_for_the_ttl_at_most(
    two_servers: TwoServers, database_url: str
) -> None:
    a, b = two_servers.a, two_servers.b
    worker = _register(a, f"edited-{uuid.uuid4().hex[:8]}")
    verified_at = _verified_on(b, worker)
    asyncio.run(_replace_token_hash_by_hand(database_url, worker.id))
    # B verified the token moments ago and was told nothing: it believes it still...
    assert _heartbeat(b, worker) == 200
    # ...until the TTL runs out, and then asks the database again.
    refused_after = _seconds_until_refused_or_ttl(b, worker, verified_at)
    assert TTL_SECONDS - 0.5 <= refused_after <= TTL_SECONDS + 2


def _seconds_until_refused_or_ttl(http: httpx.Client, worker: Worker, since: float) -> float:
    while _heartbeat(http, worker) != 401:
        assert time.monotonic() - since < TTL_SECONDS + 2, "the token works past the TTL"
        time.sleep(0.05)
    return time.monotonic() - since


async def _replace_token_hash_by_hand(database_url: str, worker_id: str) -> None:
    connection = await asyncio.wait_for(asyncpg.connect(database_url), 10)
    try:
        updated = await connection.execute(
            "UPDATE workers SET token_hash = $1 WHERE id = $2",
            uuid.uuid4().hex * 2,
            uuid.UUID(worker_id),
        )
        assert updated == "UPDATE 1"
    finally:
        await connection.close(timeout=5)


# Users' login sessions


def _user_session(two_servers: TwoServers) -> tuple[str, str]:
    """A new viewer's id, and an access token of a login through server A."""
    username = f"viewer-{uuid.uuid4().hex[:8]}"
    created = two_servers.a.post(
        "/users",
        headers=two_servers.admin_a,
        json={"username": username, "password": USER_PASSWORD, "role": "viewer"},
    )
    assert created.status_code == 201, created.text
    login = two_servers.a.post(
        "/auth/login", json={"username": username, "password": USER_PASSWORD}
    )
    assert login.status_code == 200, login.text
    return created.json()["id"], login.json()["access_token"]


def _me(http: httpx.Client, token: str) -> int:
    return http.get("/users/me", headers={"Authorization": f"Bearer {token}"}).status_code


def _session_verified_on(http: httpx.Client, token: str) -> float:
    verified_at = time.monotonic()
    assert _me(http, token) == 200
    return verified_at


def _seconds_until_signed_out(http: httpx.Client, token: str, since: float, limit: float) -> float:
    while _me(http, token) != 401:
        assert time.monotonic() - since < limit, "the session still works"
        time.sleep(0.005)
    return time.monotonic() - since


def test_a_session_logged_out_through_one_server_is_refused_by_the_other_at_once(
    two_servers: TwoServers,
) -> None:
    a, b = two_servers.a, two_servers.b
    _, token = _user_session(two_servers)
    verified_at = _session_verified_on(b, token)
    logout = a.post("/auth/logout", headers={"Authorization": f"Bearer {token}"})
    assert logout.status_code == 204, logout.text
    logged_out_at = time.monotonic()
    assert _seconds_until_signed_out(b, token, logged_out_at, TTL_SECONDS) < (
        NOTIFIED_WITHIN_SECONDS
    )
    assert time.monotonic() - verified_at < TTL_SECONDS


def test_a_user_disabled_through_one_server_is_refused_by_the_other_at_once(
    two_servers: TwoServers,
) -> None:
    a, b = two_servers.a, two_servers.b
    user_id, token = _user_session(two_servers)
    verified_at = _session_verified_on(b, token)
    disabled = a.patch(f"/users/{user_id}", headers=two_servers.admin_a, json={"disabled": True})
    assert disabled.status_code == 200, disabled.text
    disabled_at = time.monotonic()
    assert _seconds_until_signed_out(b, token, disabled_at, TTL_SECONDS) < (NOTIFIED_WITHIN_SECONDS)
    assert time.monotonic() - verified_at < TTL_SECONDS


def test_a_session_ended_behind_the_servers_backs_works_on_for_the_ttl_at_most(
    two_servers: TwoServers, database_url: str
) -> None:
    b = two_servers.b
    _, token = _user_session(two_servers)
    verified_at = _session_verified_on(b, token)
    asyncio.run(_end_sessions_by_hand(database_url))
    # B verified the session moments ago and was told nothing: it believes it still...
    assert _me(b, token) == 200
    # ...until the TTL runs out, and then asks the database again.
    refused_after = _seconds_until_signed_out(b, token, verified_at, TTL_SECONDS + 2)
    assert TTL_SECONDS - 0.5 <= refused_after <= TTL_SECONDS + 2


async def _end_sessions_by_hand(database_url: str) -> None:
    connection = await asyncio.wait_for(asyncpg.connect(database_url), 10)
    try:
        await connection.execute("UPDATE login_sessions SET revoked_at = now()")
    finally:
        await connection.close(timeout=5)
