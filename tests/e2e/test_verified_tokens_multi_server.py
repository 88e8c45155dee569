"""Two real `solvyd server` processes on one PostgreSQL database: each believes a worker token,
or a user's login session, it verified for a few seconds (`TTL_SECONDS`) without asking the
database, yet a worker removed or registered anew through one server has its old token refused
by the other at once, and so has a session logged out or a user disabled, because the servers
tell each other through LISTEN/NOTIFY. Only the TTL bounds what no server tells (a row changed
by hand)."""

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
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


# A request that answers its status code: a worker's heartbeat, a user's look at themselves.
Probe = Callable[[], int]


def _verified_now(probe: Probe) -> float:
    """Has the server verify the probe's credential now; returns when (monotonic)."""
    verified_at = time.monotonic()
    assert probe() == 200
    return verified_at


def _seconds_until_refused(probe: Probe, since: float, limit: float, poll: float = 0.005) -> float:
    """Seconds from `since` until the probe's credential is refused; fails past `limit`."""
    while probe() != 401:
        assert time.monotonic() - since < limit, f"the credential still works after {limit} s"
        time.sleep(poll)
    return time.monotonic() - since


def test_a_worker_removed_through_one_server_is_refused_by_the_other_at_once(
    two_servers: TwoServers,
) -> None:
    a, b = two_servers.a, two_servers.b
    worker = _register(a, f"gone-{uuid.uuid4().hex[:8]}")
    on_b = partial(_heartbeat, b, worker)
    verified_at = _verified_now(on_b)
    removed = a.delete(f"/workers/{worker.id}", headers=two_servers.admin_a)
    assert removed.status_code == 204, removed.text
    removed_at = time.monotonic()
    assert _seconds_until_refused(on_b, removed_at, TTL_SECONDS) < NOTIFIED_WITHIN_SECONDS
    # B verified the token well within the TTL before: only the notification explains it.
    assert time.monotonic() - verified_at < TTL_SECONDS
    assert _heartbeat(a, worker) == 401


def test_a_worker_registered_anew_through_one_server_has_its_old_token_refused_by_the_other(
    two_servers: TwoServers,
) -> None:
    a, b = two_servers.a, two_servers.b
    first = _register(a, f"restarts-{uuid.uuid4().hex[:8]}")
    on_b = partial(_heartbeat, b, first)
    verified_at = _verified_now(on_b)
    again = _register(a, first.name, worker_token=first.token)
    registered_at = time.monotonic()
    assert again.id == first.id
    assert _seconds_until_refused(on_b, registered_at, TTL_SECONDS) < NOTIFIED_WITHIN_SECONDS
    assert time.monotonic() - verified_at < TTL_SECONDS
    assert _heartbeat(b, again) == 200


def test_a_token_changed_behind_the_servers_backs_works_on_for_the_ttl_at_most(
    two_servers: TwoServers, database_url: str
) -> None:
    a, b = two_servers.a, two_servers.b
    worker = _register(a, f"edited-{uuid.uuid4().hex[:8]}")
    on_b = partial(_heartbeat, b, worker)
    verified_at = _verified_now(on_b)
    asyncio.run(_replace_token_hash_by_hand(database_url, worker.id))
    # B verified the token moments ago and was told nothing: it believes it still...
    assert on_b() == 200
    # ...until the TTL runs out, and then asks the database again.
    refused_after = _seconds_until_refused(on_b, verified_at, TTL_SECONDS + 2, poll=0.05)
    assert TTL_SECONDS - 0.5 <= refused_after <= TTL_SECONDS + 2


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


def test_a_session_logged_out_through_one_server_is_refused_by_the_other_at_once(
    two_servers: TwoServers,
) -> None:
    a, b = two_servers.a, two_servers.b
    _, token = _user_session(two_servers)
    on_b = partial(_me, b, token)
    verified_at = _verified_now(on_b)
    logout = a.post("/auth/logout", headers={"Authorization": f"Bearer {token}"})
    assert logout.status_code == 204, logout.text
    logged_out_at = time.monotonic()
    assert _seconds_until_refused(on_b, logged_out_at, TTL_SECONDS) < NOTIFIED_WITHIN_SECONDS
    assert time.monotonic() - verified_at < TTL_SECONDS


def test_a_user_disabled_through_one_server_is_refused_by_the_other_at_once(
    two_servers: TwoServers,
) -> None:
    a, b = two_servers.a, two_servers.b
    user_id, token = _user_session(two_servers)
    on_b = partial(_me, b, token)
    verified_at = _verified_now(on_b)
    disabled = a.patch(f"/users/{user_id}", headers=two_servers.admin_a, json={"disabled": True})
    assert disabled.status_code == 200, disabled.text
    disabled_at = time.monotonic()
    assert _seconds_until_refused(on_b, disabled_at, TTL_SECONDS) < NOTIFIED_WITHIN_SECONDS
    assert time.monotonic() - verified_at < TTL_SECONDS


def test_a_session_ended_behind_the_servers_backs_works_on_for_the_ttl_at_most(
    two_servers: TwoServers, database_url: str
) -> None:
    b = two_servers.b
    _, token = _user_session(two_servers)
    on_b = partial(_me, b, token)
    verified_at = _verified_now(on_b)
    asyncio.run(_end_sessions_by_hand(database_url))
    # B verified the session moments ago and was told nothing: it believes it still...
    assert on_b() == 200
    # ...until the TTL runs out, and then asks the database again.
    refused_after = _seconds_until_refused(on_b, verified_at, TTL_SECONDS + 2)
    assert TTL_SECONDS - 0.5 <= refused_after <= TTL_SECONDS + 2


async def _end_sessions_by_hand(database_url: str) -> None:
    connection = await asyncio.wait_for(asyncpg.connect(database_url), 10)
    try:
        await connection.execute("UPDATE login_sessions SET revoked_at = now()")
    finally:
        await connection.close(timeout=5)
