"""Identity: login sessions (access + refresh tokens, rotation, reuse detection, logout),
throttled failed logins, the users API and its last-admin rule, personal API tokens (scopes,
expiry, revocation), agent registration tokens, and workers kept to their own builds."""

import asyncio
import hashlib
import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
import sqlalchemy as sa

from solvyd.server.auth.passwords import verify_password
from solvyd.server.db.models import AgentRegistrationToken, ApiToken, AuditEvent, LoginSession
from solvyd.server.settings import ServerSettings
from solvyd.shared.clock import utcnow
from tests.integration.api_helpers import (
    AGENT_TOKEN,
    API,
    Headers,
    admin_headers,
    assert_error,
    bearer,
    create_job,
    post_logs,
    register_worker,
    running_build,
    set_status,
    unique,
)
from tests.support.processes import ADMIN_PASSWORD

PASSWORD = "identity-test-password"
NEW_PASSWORD = "identity-new-password"


async def _login(
    client: httpx.AsyncClient, username: str = "admin", password: str = ADMIN_PASSWORD
) -> httpx.Response:
    return await client.post(f"{API}/auth/login", json={"username": username, "password": password})


async def _session(
    client: httpx.AsyncClient, username: str = "admin", password: str = ADMIN_PASSWORD
) -> dict[str, Any]:
    response = await _login(client, username, password)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def _refresh(client: httpx.AsyncClient, refresh_token: str) -> httpx.Response:
    return await client.post(f"{API}/auth/refresh", json={"refresh_token": refresh_token})


async def _me(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.get(f"{API}/users/me", headers=bearer(token))


async def _create_user(
    client: httpx.AsyncClient, admin: Headers, role: str, name: str | None = None
) -> dict[str, Any]:
    response = await client.post(
        f"{API}/users",
        headers=admin,
        json={"username": name or unique(role), "password": PASSWORD, "role": role},
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def _user_headers(client: httpx.AsyncClient, admin: Headers, role: str) -> Headers:
    user = await _create_user(client, admin, role)
    return bearer((await _session(client, user["username"], PASSWORD))["access_token"])


async def _create_token(client: httpx.AsyncClient, headers: Headers, **body: Any) -> dict[str, Any]:
    body.setdefault("name", unique("token"))
    response = await client.post(f"{API}/tokens", headers=headers, json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


async def _audit(client: httpx.AsyncClient, action: str) -> list[AuditEvent]:
    ctx = client.app.state.ctx  # type: ignore[attr-defined]
    async with ctx.db.transaction() as session:
        query = sa.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        return list(await session.scalars(query))


async def _set_user_disabled(
    client: httpx.AsyncClient, admin: Headers, user_id: str, disabled: bool
) -> None:
    response = await client.patch(
        f"{API}/users/{user_id}", headers=admin, json={"disabled": disabled}
    )
    assert response.status_code == 200, response.text
    assert response.json()["disabled"] is disabled


# --- login sessions -------------------------------------------------------------------------


async def test_login_answers_an_access_token_and_a_refresh_token(
    client: httpx.AsyncClient,
) -> None:
    body = await _session(client)
    assert set(body) == {"access_token", "token_type", "refresh_token", "expires_in"}
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 15 * 60  # the default access token lifetime
    me = await _me(client, body["access_token"])
    assert me.status_code == 200, me.text
    assert me.json()["username"] == "admin" and me.json()["role"] == "admin"
    assert "password_hash" not in me.json()

    ctx = client.app.state.ctx  # type: ignore[attr-defined]
    async with ctx.db.transaction() as session:
        stored = list(await session.scalars(sa.select(LoginSession)))
    assert len(stored) == 1
    # The refresh token is stored as its SHA-256 only, and the session lasts 30 days.
    assert stored[0].refresh_token_hash == _sha256(body["refresh_token"])
    lifetime = stored[0].expires_at - stored[0].created_at
    assert timedelta(days=29, hours=23) < lifetime <= timedelta(days=30)

    [event] = await _audit(client, "login")
    assert (event.outcome, event.actor_name, event.target) == ("success", "admin", "user:admin")
    for secret in (ADMIN_PASSWORD, body["refresh_token"], body["access_token"]):
        assert secret not in str(event.details)


async def test_refresh_answers_a_new_pair_and_rotates_the_refresh_token(
    client: httpx.AsyncClient,
) -> None:
    first = await _session(client)
    response = await _refresh(client, first["refresh_token"])
    assert response.status_code == 200, response.text
    second = response.json()
    assert set(second) == set(first) and second["expires_in"] == 15 * 60
    assert second["refresh_token"] != first["refresh_token"]
    assert (await _me(client, second["access_token"])).status_code == 200

    third = (await _refresh(client, second["refresh_token"])).json()
    assert (await _me(client, third["access_token"])).status_code == 200
    # Only the newest refresh token is stored: the earlier ones no longer match the session.
    ctx = client.app.state.ctx  # type: ignore[attr-defined]
    async with ctx.db.transaction() as session:
        [stored] = list(await session.scalars(sa.select(LoginSession)))
    assert stored.refresh_token_hash == _sha256(third["refresh_token"])
    assert stored.refreshed_at is not None


async def test_a_reused_refresh_token_ends_the_whole_session(client: httpx.AsyncClient) -> None:
    stolen = await _session(client)
    rotated = (await _refresh(client, stolen["refresh_token"])).json()

    # The thief (or the owner, whoever comes second) presents the already rotated token.
    reused = await _refresh(client, stolen["refresh_token"])
    assert_error(reused, 401, "unauthorized")

    # Every token of the session is dead now: the newest refresh token and its access token.
    assert_error(await _refresh(client, rotated["refresh_token"]), 401, "unauthorized")
    assert_error(await _me(client, rotated["access_token"]), 401, "unauthorized")
    [event] = await _audit(client, "session.revoke")
    assert event.details == {"reason": "refresh token reused"}

    # Another session of the same user is untouched.
    other = await _session(client)
    assert (await _me(client, other["access_token"])).status_code == 200


async def test_made_up_refresh_tokens_are_refused_without_ending_anything(
    client: httpx.AsyncClient,
) -> None:
    login = await _session(client)
    session_hex = login["refresh_token"].removeprefix("svr_").split(".")[0]
    for forged in (
        "not-a-token",
        f"svr_{session_hex}.guess.0000",
        login["access_token"],
        login["refresh_token"] + "x",
    ):
        assert_error(await _refresh(client, forged), 401, "unauthorized")
    # A forged token that names the session cannot end it: only a token the server signed can.
    assert (await _refresh(client, login["refresh_token"])).status_code == 200


async def test_logout_ends_the_access_token_at_once_and_the_refresh_token(
    client: httpx.AsyncClient,
) -> None:
    login = await _session(client)
    other = await _session(client)
    response = await client.post(f"{API}/auth/logout", headers=bearer(login["access_token"]))
    assert response.status_code == 204, response.text

    assert_error(await _me(client, login["access_token"]), 401, "unauthorized")
    assert_error(await _refresh(client, login["refresh_token"]), 401, "unauthorized")
    assert (await _me(client, other["access_token"])).status_code == 200  # its own session
    [event] = await _audit(client, "logout")
    assert (event.actor_name, event.target) == ("admin", "user:admin")


async def test_logout_with_a_personal_token_says_to_revoke_it(client: httpx.AsyncClient) -> None:
    token = await _create_token(client, await admin_headers(client))
    response = await client.post(f"{API}/auth/logout", headers=bearer(token["token"]))
    assert "revoke it" in assert_error(response, 400)
    assert (await _me(client, token["token"])).status_code == 200


async def test_an_access_token_without_a_session_is_refused(client: httpx.AsyncClient) -> None:
    # What a server before login sessions issued: a JWT with no `sid`.
    ctx = client.app.state.ctx  # type: ignore[attr-defined]
    me = (await client.get(f"{API}/users/me", headers=await admin_headers(client))).json()
    now = utcnow()
    claims = {"sub": me["id"], "aud": "solvyd", "iat": now, "exp": now + timedelta(minutes=5)}
    old = jwt.encode(claims, ctx.keys.jwt_secret, algorithm="HS256")
    assert_error(await _me(client, old), 401, "unauthorized")


async def test_a_disabled_user_is_locked_out_with_every_kind_of_token(
    client: httpx.AsyncClient,
) -> None:
    admin = await admin_headers(client)
    user = await _create_user(client, admin, "developer")
    login = await _session(client, user["username"], PASSWORD)
    token = await _create_token(client, bearer(login["access_token"]))
    for credential in (login["access_token"], token["token"]):
        assert (await _me(client, credential)).status_code == 200

    await _set_user_disabled(client, admin, user["id"], True)
    assert_error(await _me(client, login["access_token"]), 401, "unauthorized")
    assert_error(await _me(client, token["token"]), 401, "unauthorized")
    assert_error(await _refresh(client, login["refresh_token"]), 401, "unauthorized")
    refused = await _login(client, user["username"], PASSWORD)
    wrong = await _login(client, user["username"], "not-the-password")
    # The same answer as a wrong password: a disabled account is not revealed.
    assert assert_error(refused, 401) == assert_error(wrong, 401)

    # Enabled again: the personal token works again, the ended login session does not.
    await _set_user_disabled(client, admin, user["id"], False)
    assert (await _me(client, token["token"])).status_code == 200
    assert_error(await _me(client, login["access_token"]), 401, "unauthorized")
    assert (await _login(client, user["username"], PASSWORD)).status_code == 200


async def test_a_new_password_ends_the_users_sessions(client: httpx.AsyncClient) -> None:
    admin = await admin_headers(client)
    user = await _create_user(client, admin, "viewer")
    login = await _session(client, user["username"], PASSWORD)
    response = await client.patch(
        f"{API}/users/{user['id']}", headers=admin, json={"password": NEW_PASSWORD}
    )
    assert response.status_code == 200, response.text
    assert_error(await _me(client, login["access_token"]), 401, "unauthorized")
    assert_error(await _login(client, user["username"], PASSWORD), 401)
    assert (await _login(client, user["username"], NEW_PASSWORD)).status_code == 200
    [event] = await _audit(client, "user.password")
    assert NEW_PASSWORD not in str(event.details)


async def _change_own_password(
    client: httpx.AsyncClient, headers: Headers, current: str, new: str = NEW_PASSWORD
) -> httpx.Response:
    body = {"current_password": current, "new_password": new}
    return await client.post(f"{API}/users/me/password", headers=headers, json=body)


async def test_users_change_their_own_password_and_their_other_sessions_end(
    client: httpx.AsyncClient,
) -> None:
    admin = await admin_headers(client)
    user = await _create_user(client, admin, "viewer")
    here = await _session(client, user["username"], PASSWORD)
    elsewhere = await _session(client, user["username"], PASSWORD)
    personal = await _create_token(client, bearer(here["access_token"]), scopes=["read"])

    response = await _change_own_password(client, bearer(here["access_token"]), PASSWORD)

    assert response.status_code == 204, response.text
    assert (await _me(client, here["access_token"])).status_code == 200
    assert_error(await _me(client, elsewhere["access_token"]), 401, "unauthorized")
    assert_error(await _refresh(client, elsewhere["refresh_token"]), 401)
    assert (await _me(client, personal["token"])).status_code == 200
    assert_error(await _login(client, user["username"], PASSWORD), 401)
    assert (await _login(client, user["username"], NEW_PASSWORD)).status_code == 200
    [event] = await _audit(client, "user.password")
    assert event.actor_name == user["username"]
    assert PASSWORD not in str(event.details) and NEW_PASSWORD not in str(event.details)


async def test_a_wrong_current_password_changes_nothing_and_is_throttled(
    client: httpx.AsyncClient,
) -> None:
    admin = await admin_headers(client)
    user = await _create_user(client, admin, "developer")
    login = await _session(client, user["username"], PASSWORD)
    headers = bearer(login["access_token"])

    answers = [await _change_own_password(client, headers, "not-the-password") for _ in range(6)]

    assert [a.status_code for a in answers] == [403] * 5 + [429]
    assert "not-the-password" not in answers[0].text
    assert answers[5].headers["retry-after"]
    assert_error(await _change_own_password(client, headers, PASSWORD, "short"), 422, "invalid")
    assert (await _me(client, login["access_token"])).status_code == 200
    assert await _audit(client, "user.password") == []
    async with client.app.state.ctx.db.transaction() as session:  # type: ignore[attr-defined]
        stored = await session.scalar(
            sa.text("SELECT password_hash FROM users WHERE username = :u"),
            {"u": user["username"]},
        )
    assert verify_password(stored, PASSWORD)


async def test_a_refresh_token_with_characters_outside_ascii_is_refused_not_a_500(
    client: httpx.AsyncClient,
) -> None:
    for made_up in ["svr_a.\u00e9", "svr_\u00e9.b.c", "\u2603"]:
        assert_error(await _refresh(client, made_up), 401)


# --- throttled logins -----------------------------------------------------------------------


class TestThrottledLogins:
    @pytest.fixture
    def settings(self, settings: ServerSettings) -> ServerSettings:
        return settings.model_copy(
            update={
                "login_failures_per_user": 3,
                "login_failures_per_ip": 8,
                "login_failure_window_seconds": 60.0,
            }
        )

    async def test_known_and_unknown_users_get_the_same_answers(
        self, client: httpx.AsyncClient
    ) -> None:
        unknown = f"nobody-{uuid.uuid4().hex[:6]}"
        answers: dict[str, list[httpx.Response]] = {"admin": [], unknown: []}
        for username in answers:
            for _ in range(4):
                answers[username].append(await _login(client, username, "not-the-password"))

        for username, responses in answers.items():
            assert [r.status_code for r in responses] == [401, 401, 401, 429], username
        known, made_up = answers["admin"], answers[unknown]
        for a, b in zip(known, made_up, strict=True):
            assert a.json() == b.json()
        message = assert_error(known[-1], 429, "too_many_requests")
        assert "admin" not in message and "exist" not in message
        retry_after = int(known[-1].headers["retry-after"])
        assert 1 <= retry_after <= 60
        assert made_up[-1].headers["retry-after"]

        # Throttled: even the right password is not checked until the window moves on.
        assert_error(await _login(client), 429, "too_many_requests")
        failures = await _audit(client, "login")
        assert [e.outcome for e in failures] == ["failure"] * 6  # throttled tries add none
        assert {e.details["reason"] for e in failures} == {"bad password", "unknown user"}

    async def test_a_successful_login_resets_the_users_count(
        self, client: httpx.AsyncClient
    ) -> None:
        for _ in range(3):
            for _ in range(2):
                assert_error(await _login(client, password="not-the-password"), 401)
            assert (await _login(client)).status_code == 200

    async def test_failures_from_one_address_are_limited_across_usernames(
        self, client: httpx.AsyncClient
    ) -> None:
        # 8 failures from the test client's one address, at most 2 per username.
        for i in range(8):
            assert_error(await _login(client, f"spray-{i // 2}", "guess"), 401)
        response = await _login(client, "admin", ADMIN_PASSWORD)
        assert_error(response, 429, "too_many_requests")
        assert response.headers["retry-after"]


class TestThrottleWindow:
    @pytest.fixture
    def settings(self, settings: ServerSettings) -> ServerSettings:
        return settings.model_copy(
            update={"login_failures_per_user": 2, "login_failure_window_seconds": 0.5}
        )

    async def test_logins_are_allowed_again_once_failures_leave_the_window(
        self, client: httpx.AsyncClient
    ) -> None:
        for _ in range(2):
            assert_error(await _login(client, password="not-the-password"), 401)
        assert_error(await _login(client), 429)
        await asyncio.sleep(0.6)
        assert (await _login(client)).status_code == 200


# --- users ----------------------------------------------------------------------------------


async def test_admins_create_list_read_and_change_users(client: httpx.AsyncClient) -> None:
    admin = await admin_headers(client)
    name = unique("dev")
    created = await _create_user(client, admin, "developer", name)
    assert set(created) == {"id", "username", "role", "disabled", "created_at"}
    assert (created["username"], created["role"], created["disabled"]) == (name, "developer", False)

    listing = (await client.get(f"{API}/users", headers=admin)).json()["items"]
    assert [u["username"] for u in listing] == sorted(["admin", name])
    fetched = await client.get(f"{API}/users/{created['id']}", headers=admin)
    assert fetched.json() == created
    assert_error(await client.get(f"{API}/users/{uuid.uuid4()}", headers=admin), 404)

    changed = await client.patch(
        f"{API}/users/{created['id']}", headers=admin, json={"role": "viewer"}
    )
    assert changed.status_code == 200 and changed.json()["role"] == "viewer"
    [create_event] = await _audit(client, "user.create")
    [role_event] = await _audit(client, "user.role")
    assert create_event.target == role_event.target == f"user:{name}"
    assert role_event.details == {"old": "developer", "new": "viewer"}
    assert PASSWORD not in str(create_event.details)

    # The new user signs in, and acts with the new role.
    login = await _session(client, name, PASSWORD)
    me = await _me(client, login["access_token"])
    assert me.json()["role"] == "viewer"


async def test_user_input_is_checked(client: httpx.AsyncClient) -> None:
    admin = await admin_headers(client)
    name = unique("dup")
    await _create_user(client, admin, "viewer", name)
    duplicate = await client.post(
        f"{API}/users", headers=admin, json={"username": name, "password": PASSWORD}
    )
    assert_error(duplicate, 409, "conflict")
    short = await client.post(
        f"{API}/users", headers=admin, json={"username": unique("u"), "password": "seven77"}
    )
    message = assert_error(short, 422, "invalid")
    assert "password" in message and "seven77" not in short.text
    for body in (
        {"username": "has space", "password": PASSWORD},
        {"username": unique("u"), "password": PASSWORD, "role": "root"},
    ):
        assert_error(await client.post(f"{API}/users", headers=admin, json=body), 422)


async def test_only_admins_manage_users_and_everyone_reads_themselves(
    client: httpx.AsyncClient,
) -> None:
    admin = await admin_headers(client)
    target = await _create_user(client, admin, "viewer")
    for role in ("viewer", "developer"):
        headers = await _user_headers(client, admin, role)
        me = await client.get(f"{API}/users/me", headers=headers)
        assert me.status_code == 200 and me.json()["role"] == role
        for method, path, body in (
            ("POST", "/users", {"username": unique("x"), "password": PASSWORD}),
            ("GET", "/users", None),
            ("GET", f"/users/{target['id']}", None),
            ("PATCH", f"/users/{target['id']}", {"role": "admin"}),
        ):
            response = await client.request(method, f"{API}{path}", headers=headers, json=body)
            assert_error(response, 403, "forbidden")


async def test_the_last_enabled_admin_cannot_be_demoted_or_disabled(
    client: httpx.AsyncClient,
) -> None:
    admin = await admin_headers(client)
    me = (await _me(client, admin["Authorization"].removeprefix("Bearer "))).json()
    url = f"{API}/users/{me['id']}"
    for change in ({"role": "developer"}, {"disabled": True}):
        assert "last enabled admin" in assert_error(
            await client.patch(url, headers=admin, json=change), 409, "conflict"
        )
    # A disabled admin does not count: there is still only one who can manage users.
    second = await _create_user(client, admin, "admin")
    await _set_user_disabled(client, admin, second["id"], True)
    assert_error(await client.patch(url, headers=admin, json={"role": "viewer"}), 409)

    await _set_user_disabled(client, admin, second["id"], False)
    demoted = await client.patch(url, headers=admin, json={"role": "developer"})
    assert demoted.status_code == 200, demoted.text
    # Now the second admin is the last one.
    second_login = await _session(client, second["username"], PASSWORD)
    second_headers = bearer(second_login["access_token"])
    response = await client.patch(
        f"{API}/users/{second['id']}", headers=second_headers, json={"disabled": True}
    )
    assert_error(response, 409, "conflict")
    assert [e.target for e in await _audit(client, "user.disable")] == [
        f"user:{second['username']}"
    ]


# --- personal API tokens --------------------------------------------------------------------


async def test_tokens_are_shown_once_stored_hashed_and_listed(client: httpx.AsyncClient) -> None:
    admin = await admin_headers(client)
    before = utcnow()
    created = await _create_token(client, admin, name="ci script")
    assert created["token"].startswith("svp_")
    assert created["scopes"] == ["read", "write", "admin"]
    assert created["revoked"] is False and created["last_used_at"] is None
    expires = datetime.fromisoformat(created["expires_at"])
    assert before + timedelta(days=90) - timedelta(minutes=1) < expires
    assert expires < utcnow() + timedelta(days=90, minutes=1)

    listing = await client.get(f"{API}/tokens", headers=admin)
    [listed] = listing.json()["items"]
    assert created["token"] not in listing.text
    assert listed == {k: v for k, v in created.items() if k != "token"}

    ctx = client.app.state.ctx  # type: ignore[attr-defined]
    async with ctx.db.transaction() as session:
        row = await session.get(ApiToken, uuid.UUID(created["id"]))
    assert row is not None
    assert row.token_hash == _sha256(created["token"])
    [event] = await _audit(client, "token.create")
    assert created["token"] not in str(event.details)
    assert event.details["name"] == "ci script"


async def test_a_token_works_until_revoked_and_notes_its_use_once_a_minute(
    client: httpx.AsyncClient,
) -> None:
    admin = await admin_headers(client)
    created = await _create_token(client, admin)
    token = bearer(created["token"])
    assert (await client.get(f"{API}/jobs", headers=token)).status_code == 200
    [first] = (await client.get(f"{API}/tokens", headers=admin)).json()["items"]
    assert first["last_used_at"] is not None
    assert (await client.get(f"{API}/jobs", headers=token)).status_code == 200
    [second] = (await client.get(f"{API}/tokens", headers=admin)).json()["items"]
    assert second["last_used_at"] == first["last_used_at"]  # not rewritten within the minute

    response = await client.delete(f"{API}/tokens/{created['id']}", headers=admin)
    assert response.status_code == 204, response.text
    assert_error(await client.get(f"{API}/jobs", headers=token), 401, "unauthorized")
    [listed] = (await client.get(f"{API}/tokens", headers=admin)).json()["items"]
    assert listed["revoked"] is True
    # Revoking again changes nothing.
    assert (await client.delete(f"{API}/tokens/{created['id']}", headers=admin)).status_code == 204
    assert len(await _audit(client, "token.revoke")) == 1


async def test_an_expired_token_is_refused(client: httpx.AsyncClient) -> None:
    created = await _create_token(client, await admin_headers(client), expires_in_days=1)
    assert (await _me(client, created["token"])).status_code == 200
    ctx = client.app.state.ctx  # type: ignore[attr-defined]
    async with ctx.db.transaction() as session:
        row = await session.get(ApiToken, uuid.UUID(created["id"]))
        assert row is not None
        row.expires_at = utcnow() - timedelta(seconds=1)
    assert_error(await _me(client, created["token"]), 401, "unauthorized")


async def test_a_token_made_with_a_token_expires_no_later_than_it(
    client: httpx.AsyncClient,
) -> None:
    """A leaked short-lived token cannot mint itself a long-lived successor (found in review)."""
    admin = await admin_headers(client)
    short = await _create_token(client, admin, expires_in_days=1, scopes=["read"])
    successor = await _create_token(
        client, bearer(short["token"]), expires_in_days=3650, scopes=["read"]
    )
    assert datetime.fromisoformat(successor["expires_at"]) <= datetime.fromisoformat(
        short["expires_at"]
    )
    # Made with a login session, the asked expiry holds.
    long = await _create_token(client, admin, expires_in_days=3650, scopes=["read"])
    assert datetime.fromisoformat(long["expires_at"]) > utcnow() + timedelta(days=3600)


async def test_token_input_is_checked(client: httpx.AsyncClient) -> None:
    admin = await admin_headers(client)
    for body in (
        {"name": "x", "scopes": ["bogus"]},
        {"name": "x", "scopes": []},
        {"name": "x", "expires_in_days": 0},
        {"name": "x", "expires_in_days": 3651},
        {"name": ""},
    ):
        assert_error(await client.post(f"{API}/tokens", headers=admin, json=body), 422)
    longest = await _create_token(client, admin, expires_in_days=3650, scopes=["write", "read"])
    assert longest["scopes"] == ["read", "write"]


async def test_scopes_cap_the_owners_role(client: httpx.AsyncClient) -> None:
    admin = await admin_headers(client)
    read = bearer((await _create_token(client, admin, scopes=["read"]))["token"])
    write = bearer((await _create_token(client, admin, scopes=["write"]))["token"])
    full = bearer((await _create_token(client, admin))["token"])

    assert (await client.get(f"{API}/jobs", headers=read)).status_code == 200
    assert_error(await client.post(f"{API}/jobs", headers=read, json={"name": "x"}), 403)
    job = await create_job(client, write)  # a developer route
    assert_error(await client.delete(f"{API}/jobs/{job['id']}", headers=write), 403)
    assert_error(await client.get(f"{API}/users", headers=write), 403)
    assert (await client.get(f"{API}/users", headers=full)).status_code == 200

    # A token cannot make a token with more rights than itself, but may make a narrower one.
    wider = await client.post(f"{API}/tokens", headers=read, json={"name": "escalate"})
    assert_error(wider, 403, "forbidden")
    narrower = await client.post(
        f"{API}/tokens", headers=write, json={"name": "narrower", "scopes": ["read"]}
    )
    assert narrower.status_code == 201, narrower.text
    # A developer's admin-scoped token is still a developer's.
    developer = await _user_headers(client, admin, "developer")
    dev_token = bearer((await _create_token(client, developer, scopes=["admin"]))["token"])
    assert_error(await client.get(f"{API}/users", headers=dev_token), 403)


async def test_tokens_belong_to_their_owner_and_admins_see_all(
    client: httpx.AsyncClient,
) -> None:
    admin = await admin_headers(client)
    developer = await _user_headers(client, admin, "developer")
    admin_token = await _create_token(client, admin)
    dev_token = await _create_token(client, developer)
    dev_id = (await client.get(f"{API}/users/me", headers=developer)).json()["id"]

    own = (await client.get(f"{API}/tokens", headers=developer)).json()["items"]
    assert [t["id"] for t in own] == [dev_token["id"]]
    for params in ({"all": "true"}, {"user_id": dev_id}):
        assert_error(await client.get(f"{API}/tokens", headers=developer, params=params), 403)
    everyone = (await client.get(f"{API}/tokens", headers=admin, params={"all": "true"})).json()
    assert {t["id"] for t in everyone["items"]} == {admin_token["id"], dev_token["id"]}
    of_dev = (await client.get(f"{API}/tokens", headers=admin, params={"user_id": dev_id})).json()
    assert [t["id"] for t in of_dev["items"]] == [dev_token["id"]]

    # Someone else's token is "not found" to a non-admin, and revocable by an admin.
    response = await client.delete(f"{API}/tokens/{admin_token['id']}", headers=developer)
    assert_error(response, 404, "not_found")
    assert (await _me(client, admin_token["token"])).status_code == 200
    response = await client.delete(f"{API}/tokens/{dev_token['id']}", headers=admin)
    assert response.status_code == 204
    assert_error(await _me(client, dev_token["token"]), 401)


async def test_a_read_token_of_an_admin_cannot_revoke_others_tokens(
    client: httpx.AsyncClient,
) -> None:
    admin = await admin_headers(client)
    developer = await _user_headers(client, admin, "developer")
    dev_token = await _create_token(client, developer)
    read = bearer((await _create_token(client, admin, scopes=["read"]))["token"])
    response = await client.delete(f"{API}/tokens/{dev_token['id']}", headers=read)
    assert_error(response, 404)
    assert_error(await client.get(f"{API}/tokens", headers=read, params={"all": "true"}), 403)


# --- agent registration tokens and workers --------------------------------------------------


async def _register(client: httpx.AsyncClient, token: str) -> httpx.Response:
    name = unique("agent")
    return await client.post(
        f"{API}/workers/register",
        headers=bearer(token),
        json={
            "name": name,
            "hostname": f"{name}.example",
            "ip": "127.0.0.1",
            "capabilities": {"labels": [], "executors": ["local"], "concurrency": 1},
        },
    )


async def test_agent_registration_tokens_register_until_revoked(
    client: httpx.AsyncClient,
) -> None:
    admin = await admin_headers(client)
    response = await client.post(f"{API}/agent-tokens", headers=admin, json={"name": "rack 3"})
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["token"].startswith("sva_") and created["revoked"] is False

    registered = await _register(client, created["token"])
    assert registered.status_code == 200, registered.text
    worker_token = registered.json()["token"]
    listing = await client.get(f"{API}/agent-tokens", headers=admin)
    [listed] = listing.json()["items"]
    assert created["token"] not in listing.text
    assert listed["last_used_at"] is not None and listed["name"] == "rack 3"
    ctx = client.app.state.ctx  # type: ignore[attr-defined]
    async with ctx.db.transaction() as session:
        row = await session.get(AgentRegistrationToken, uuid.UUID(created["id"]))
    assert row is not None
    assert row.token_hash == _sha256(created["token"])

    # A registration token is nobody's user token.
    assert_error(await _me(client, created["token"]), 401, "unauthorized")

    revoked = await client.delete(f"{API}/agent-tokens/{created['id']}", headers=admin)
    assert revoked.status_code == 204
    assert_error(await _register(client, created["token"]), 401, "unauthorized")
    # The server's own SOLVYD_AGENT_TOKEN still works, and so does the registered worker.
    assert (await _register(client, AGENT_TOKEN)).status_code == 200
    worker_id = registered.json()["id"]
    heartbeat = await client.post(
        f"{API}/workers/{worker_id}/heartbeat",
        headers=bearer(worker_token),
        json={"current_builds": 0},
    )
    assert heartbeat.status_code == 200, heartbeat.text
    assert [e.action for e in await _audit(client, "agent_token.create")] == ["agent_token.create"]
    [event] = await _audit(client, "agent_token.revoke")
    assert created["token"] not in str(event.details)
    assert_error(await client.delete(f"{API}/agent-tokens/{uuid.uuid4()}", headers=admin), 404)


async def test_only_admins_manage_agent_registration_tokens(client: httpx.AsyncClient) -> None:
    admin = await admin_headers(client)
    developer = await _user_headers(client, admin, "developer")
    for method, body in (("POST", {"name": "x"}), ("GET", None)):
        response = await client.request(method, f"{API}/agent-tokens", headers=developer, json=body)
        assert_error(response, 403, "forbidden")


async def test_a_worker_cannot_write_to_another_workers_build(client: httpx.AsyncClient) -> None:
    admin = await admin_headers(client)
    job = await create_job(client, admin)
    holder, build = await running_build(client, admin, job)
    intruder = await register_worker(client)

    assert_error(await post_logs(client, intruder, build["id"], 1, ["forged"]), 403, "forbidden")
    assert_error(await set_status(client, intruder, build["id"], "success"), 403, "forbidden")
    # The holder still can; nothing the intruder sent was stored.
    assert (await post_logs(client, holder, build["id"], 1, ["real"])).status_code == 200
    text = await client.get(
        f"{API}/builds/{build['id']}/logs", headers=admin, params={"format": "text"}
    )
    assert "real" in text.text and "forged" not in text.text
    assert (await set_status(client, holder, build["id"], "success")).status_code == 200
