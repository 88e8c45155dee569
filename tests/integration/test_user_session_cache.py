"""A signed-in user's requests are authenticated from the login sessions this server verified
lately, without asking the database, on both databases (the in-process app over ASGI); whatever
ends a session or changes its user (logout, a reused refresh token, a disabled user, a new role,
a new password) is honoured at once, and a session the database refused is never remembered.
Across server processes: tests/e2e/test_user_sessions_multi_server.py."""

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from tests.integration.api_helpers import (
    API,
    Headers,
    admin_headers,
    assert_error,
    bearer,
    create_job,
    unique,
)

PASSWORD = "session-cache-password"
NEW_PASSWORD = "session-cache-new-password"

Request = Callable[[], Awaitable[httpx.Response]]
SessionLookups = Callable[[Request], Awaitable[tuple[int, httpx.Response]]]


@pytest.fixture
def session_lookups(client: httpx.AsyncClient) -> SessionLookups:
    """How many times a request asked the database for a login session (the server's own
    engine, watched; the background tasks' statements do not read sessions)."""
    seen: list[str] = []

    def before_execute(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "FROM users JOIN login_sessions" in statement:
            seen.append(statement)

    engine = client.app.state.ctx.db.engine.sync_engine  # type: ignore[attr-defined]
    # Left on the engine, which this test's app disposes of.
    sa.event.listen(engine, "before_cursor_execute", before_execute)

    async def count(request: Request) -> tuple[int, httpx.Response]:
        before = len(seen)
        response = await request()
        return len(seen) - before, response

    return count


async def _signed_in(client: httpx.AsyncClient, admin: Headers, role: str) -> dict[str, Any]:
    """A new user of `role`, signed in: its id and username, and the login's tokens."""
    username = unique(role)
    created = await client.post(
        f"{API}/users",
        headers=admin,
        json={"username": username, "password": PASSWORD, "role": role},
    )
    assert created.status_code == 201, created.text
    return {"id": created.json()["id"], "username": username, **await _log_in(client, username)}


async def _log_in(
    client: httpx.AsyncClient, username: str, password: str = PASSWORD
) -> dict[str, Any]:
    response = await client.post(
        f"{API}/auth/login", json={"username": username, "password": password}
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def _me(client: httpx.AsyncClient, token: str) -> Request:
    async def send() -> httpx.Response:
        return await client.get(f"{API}/users/me", headers=bearer(token))

    return send


async def _verified(client: httpx.AsyncClient, *tokens: str) -> None:
    for token in tokens:
        assert (await _me(client, token)()).status_code == 200


async def test_a_verified_session_is_not_looked_up_again_and_a_refused_one_always_is(
    client: httpx.AsyncClient, session_lookups: SessionLookups
) -> None:
    user = await _signed_in(client, await admin_headers(client), "viewer")
    token = user["access_token"]
    lookups, me = await session_lookups(_me(client, token))
    assert (lookups, me.status_code) == (1, 200)  # verified by the database
    for _ in range(3):
        lookups, me = await session_lookups(_me(client, token))
        assert (lookups, me.json()["username"]) == (0, user["username"])

    # Logged out: refused at once, and asked each time, since nothing refused is remembered.
    logout = await client.post(f"{API}/auth/logout", headers=bearer(token))
    assert logout.status_code == 204, logout.text
    for _ in range(2):
        lookups, me = await session_lookups(_me(client, token))
        assert lookups == 1
        assert_error(me, 401, "unauthorized")


async def test_a_reused_refresh_token_ends_the_verified_session_at_once(
    client: httpx.AsyncClient,
) -> None:
    user = await _signed_in(client, await admin_headers(client), "viewer")
    rotated = await client.post(
        f"{API}/auth/refresh", json={"refresh_token": user["refresh_token"]}
    )
    assert rotated.status_code == 200, rotated.text
    await _verified(client, user["access_token"], rotated.json()["access_token"])

    reused = await client.post(f"{API}/auth/refresh", json={"refresh_token": user["refresh_token"]})
    assert_error(reused, 401, "unauthorized")
    for token in (user["access_token"], rotated.json()["access_token"]):
        assert_error(await _me(client, token)(), 401, "unauthorized")


async def test_a_disabled_users_verified_sessions_are_refused_at_once(
    client: httpx.AsyncClient,
) -> None:
    admin = await admin_headers(client)
    user = await _signed_in(client, admin, "developer")
    bystander = await _signed_in(client, admin, "developer")
    await _verified(client, user["access_token"], bystander["access_token"])

    disabled = await client.patch(
        f"{API}/users/{user['id']}", headers=admin, json={"disabled": True}
    )
    assert disabled.status_code == 200, disabled.text
    assert_error(await _me(client, user["access_token"])(), 401, "unauthorized")
    # The other sessions, forgotten with it, are verified again and keep working.
    await _verified(client, bystander["access_token"])


async def test_a_new_role_applies_at_once_to_the_users_verified_sessions(
    client: httpx.AsyncClient,
) -> None:
    admin = await admin_headers(client)
    job = await create_job(client, admin)
    user = await _signed_in(client, admin, "developer")
    headers = bearer(user["access_token"])
    trigger = f"{API}/jobs/{job['id']}/trigger"
    assert (await client.post(trigger, headers=headers, json={})).status_code == 201

    demoted = await client.patch(
        f"{API}/users/{user['id']}", headers=admin, json={"role": "viewer"}
    )
    assert demoted.status_code == 200, demoted.text
    assert_error(await client.post(trigger, headers=headers, json={}), 403, "forbidden")
    assert (await _me(client, user["access_token"])()).json()["role"] == "viewer"


async def test_a_new_password_ends_the_users_other_verified_sessions_at_once(
    client: httpx.AsyncClient,
) -> None:
    user = await _signed_in(client, await admin_headers(client), "viewer")
    other = await _log_in(client, user["username"])
    await _verified(client, user["access_token"], other["access_token"])

    changed = await client.post(
        f"{API}/users/me/password",
        headers=bearer(user["access_token"]),
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
    )
    assert changed.status_code == 204, changed.text
    assert_error(await _me(client, other["access_token"])(), 401, "unauthorized")
    # This request's own session stays, and knows the new password, not the old one.
    await _verified(client, user["access_token"])
    again = await client.post(
        f"{API}/users/me/password",
        headers=bearer(user["access_token"]),
        json={"current_password": PASSWORD, "new_password": "a-third-password-1"},
    )
    assert_error(again, 403, "forbidden")
