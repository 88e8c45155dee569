"""Secrets through the API on both databases: write-only values (no answer of these tests but
the worker's own fetch holds one), encrypted rows, admin-only management, delivery to the
worker holding a build only, the job's secret over the global one, the forks rule, the server
masking secret values in logs, and the key file the encryption key comes from."""

import base64
import json
import stat
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from solvyd.server.app import create_app
from solvyd.server.auth.passwords import hash_password
from solvyd.server.auth.roles import Role
from solvyd.server.db.models import AuditEvent, Build, User
from solvyd.server.services.context import ServerContext
from solvyd.server.settings import ServerSettings
from tests.integration.api_helpers import (
    API,
    Headers,
    Worker,
    admin_headers,
    assert_error,
    bearer,
    claim_build,
    create_job,
    post_logs,
    register_worker,
    set_status,
    trigger,
)

# Every value these tests store. No answer may hold one, except the worker's fetch.
JOB_VALUE = "job-deploy-key:Zx9/q+w=&more"
GLOBAL_VALUE = "global-deploy-key-7QpLm2"
API_TOKEN_VALUE = "api-token-Hh3kL0pQrs"
OTHER_VALUE = "another-value-wW8e2R4t"
VALUES = (JOB_VALUE, GLOBAL_VALUE, API_TOKEN_VALUE, OTHER_VALUE)
PIPELINE = json.dumps(
    {
        "steps": [
            {"name": "deploy", "commands": ["./deploy"], "secrets": ["DEPLOY_KEY", "API_TOKEN"]},
            {"name": "test", "commands": ["true"]},
        ]
    }
)
PASSWORD = "secrets-test-password"


@pytest.fixture
def settings(settings: ServerSettings) -> ServerSettings:
    # No SOLVYD_SECRET_KEY: the server generates its key into the data directory, as it does
    # for an operator who sets none.
    return settings.model_copy(update={"secret_key": None})


def _forms(value: str) -> list[str]:
    return [value, base64.b64encode(value.encode()).decode()]


@pytest.fixture
async def answers(client: httpx.AsyncClient) -> AsyncIterator[list[httpx.Response]]:
    """Every answer the client gets during the test; at the end, none may hold a value but
    a worker's fetch of its build's secrets."""
    seen: list[httpx.Response] = []

    async def keep(response: httpx.Response) -> None:
        await response.aread()
        seen.append(response)

    client.event_hooks["response"].append(keep)
    yield seen
    leaks = [
        f"{r.request.method} {r.request.url.path}"
        for r in seen
        if not _is_worker_fetch(r)
        for value in VALUES
        for form in _forms(value)
        if form in r.text
    ]
    assert not leaks, leaks
    assert seen


def _is_worker_fetch(response: httpx.Response) -> bool:
    path = response.request.url.path
    return (
        response.request.method == "POST"
        and path.startswith(f"{API}/builds/")
        and (path.endswith("/secrets"))
    )


@pytest.fixture
async def admin(client: httpx.AsyncClient, answers: list[httpx.Response]) -> Headers:
    return await admin_headers(client)


@pytest.fixture
def ctx(client: httpx.AsyncClient) -> ServerContext:
    context: ServerContext = client.app.state.ctx  # type: ignore[attr-defined]
    return context


async def _user(client: httpx.AsyncClient, ctx: ServerContext, role: Role) -> Headers:
    name = f"secrets-{role}-{uuid.uuid4().hex[:6]}"
    async with ctx.db.transaction() as session:
        session.add(User(username=name, password_hash=hash_password(PASSWORD), role=role))
    response = await client.post(f"{API}/auth/login", json={"username": name, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return bearer(response.json()["access_token"])


async def _put(
    client: httpx.AsyncClient, headers: Headers, name: str, value: str, job_id: str | None = None
) -> httpx.Response:
    base = f"{API}/jobs/{job_id}/secrets" if job_id else f"{API}/secrets"
    return await client.put(f"{base}/{name}", headers=headers, json={"value": value})


async def _names(client: httpx.AsyncClient, admin: Headers, job_id: str | None = None) -> list[str]:
    base = f"{API}/jobs/{job_id}/secrets" if job_id else f"{API}/secrets"
    response = await client.get(base, headers=admin)
    assert response.status_code == 200, response.text
    return [item["name"] for item in response.json()["items"]]


async def _fetch(
    client: httpx.AsyncClient, worker: Worker, build_id: str, names: list[str], **extra: Any
) -> httpx.Response:
    return await client.post(
        f"{API}/builds/{build_id}/secrets",
        headers=worker.headers,
        json={"names": names, **extra},
    )


async def _held_build(
    client: httpx.AsyncClient, admin: Headers, job: dict[str, Any]
) -> tuple[Worker, dict[str, Any]]:
    """A fresh worker that claimed a new build of `job` and reported it running."""
    worker = await register_worker(client)
    build = await trigger(client, admin, job["id"])
    spec = await claim_build(client, worker)
    assert spec["build_id"] == build["id"]
    # The spec the agent gets names the secrets, never their values.
    assert spec["steps"][0]["secrets"] == ["DEPLOY_KEY", "API_TOKEN"]
    assert (await set_status(client, worker, build["id"], "running")).status_code == 200
    return worker, build


async def _raw_rows(ctx: ServerContext, table: str) -> list[tuple[Any, ...]]:
    async with ctx.db.transaction() as session:
        return [tuple(row) for row in await session.execute(sa.text(f"SELECT * FROM {table}"))]


# --- managing secrets ---


async def test_set_list_replace_and_delete_job_and_global_secrets(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    job = await create_job(client, admin, pipeline=PIPELINE)

    created = await _put(client, admin, "DEPLOY_KEY", JOB_VALUE, job["id"])
    assert created.status_code == 201, created.text
    body = created.json()
    assert set(body) == {
        "name",
        "scope",
        "job_id",
        "protected_branches",
        "created_at",
        "updated_at",
    }
    assert (body["name"], body["scope"], body["job_id"]) == ("DEPLOY_KEY", "job", job["id"])

    replaced = await _put(client, admin, "DEPLOY_KEY", OTHER_VALUE, job["id"])
    assert replaced.status_code == 200
    assert replaced.json()["created_at"] == body["created_at"]
    assert replaced.json()["updated_at"] >= body["updated_at"]

    glob = await _put(client, admin, "DEPLOY_KEY", GLOBAL_VALUE)
    assert glob.status_code == 201
    assert (glob.json()["scope"], glob.json()["job_id"]) == ("global", None)
    assert (await _put(client, admin, "API_TOKEN", API_TOKEN_VALUE)).status_code == 201

    assert await _names(client, admin, job["id"]) == ["DEPLOY_KEY"]
    assert await _names(client, admin) == ["API_TOKEN", "DEPLOY_KEY"]
    listed = (await client.get(f"{API}/secrets", headers=admin)).json()["items"]
    assert all(set(item) == set(body) for item in listed)

    deleted = await client.delete(f"{API}/jobs/{job['id']}/secrets/DEPLOY_KEY", headers=admin)
    assert deleted.status_code == 204 and deleted.content == b""
    again = await client.delete(f"{API}/jobs/{job['id']}/secrets/DEPLOY_KEY", headers=admin)
    assert_error(again, 404, "not_found")
    assert await _names(client, admin, job["id"]) == []
    assert (await client.delete(f"{API}/secrets/API_TOKEN", headers=admin)).status_code == 204
    assert await _names(client, admin) == ["DEPLOY_KEY"]


async def test_secrets_of_an_unknown_job_are_404(client: httpx.AsyncClient, admin: Headers) -> None:
    unknown = str(uuid.uuid4())
    assert_error(await _put(client, admin, "A_KEY", JOB_VALUE, unknown), 404, "not_found")
    response = await client.get(f"{API}/jobs/{unknown}/secrets", headers=admin)
    assert_error(response, 404, "not_found")


async def test_the_job_shows_secrets_for_forks_and_no_secret(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    job = await create_job(client, admin, pipeline=PIPELINE, secrets_for_forks=True)
    assert job["secrets_for_forks"] is True
    await _put(client, admin, "DEPLOY_KEY", JOB_VALUE, job["id"])
    read = (await client.get(f"{API}/jobs/{job['id']}", headers=admin)).json()
    assert read["secrets_for_forks"] is True and read["fork_secrets"] is True
    # Booleans only: whether a webhook secret is set, never a value.
    settings = {"secrets_for_forks", "fork_secrets", "has_webhook_secret"}
    assert not any("secret" in key and key not in settings for key in read)
    assert read["has_webhook_secret"] is False
    patched = await client.patch(
        f"{API}/jobs/{job['id']}", headers=admin, json={"secrets_for_forks": False}
    )
    assert patched.status_code == 200 and patched.json()["secrets_for_forks"] is False
    null = await client.patch(
        f"{API}/jobs/{job['id']}", headers=admin, json={"secrets_for_forks": None}
    )
    assert_error(null, 422)
    plain = await create_job(client, admin, pipeline=PIPELINE)
    assert plain["secrets_for_forks"] is False


@pytest.mark.parametrize(
    "name", ["1ABC", "A-B", "with%20space", "dot.ted", "%C3%84RGER", "A" * 201]
)
async def test_a_name_that_is_no_variable_name_is_422(
    client: httpx.AsyncClient, admin: Headers, name: str
) -> None:
    job = await create_job(client, admin, pipeline=PIPELINE)
    assert_error(await _put(client, admin, name, JOB_VALUE), 422)
    assert_error(await _put(client, admin, name, JOB_VALUE, job["id"]), 422)
    assert await _names(client, admin) == []
    assert await _names(client, admin, job["id"]) == []


async def test_a_bad_value_is_422_and_the_error_does_not_repeat_it(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    too_big = JOB_VALUE + "x" * (64 * 1024)
    for body in (
        {"value": ""},
        {"value": too_big},
        {},
        {"value": 42},
        {"value": JOB_VALUE, "x": 1},
    ):
        response = await client.put(f"{API}/secrets/A_KEY", headers=admin, json=body)
        message = assert_error(response, 422)
        assert JOB_VALUE not in message
    # The longest value allowed is taken.
    largest = "y" * (64 * 1024)
    assert (await _put(client, admin, "A_KEY", largest)).status_code == 201
    assert await _names(client, admin) == ["A_KEY"]


async def test_only_admins_manage_secrets(
    client: httpx.AsyncClient, admin: Headers, ctx: ServerContext
) -> None:
    job = await create_job(client, admin, pipeline=PIPELINE)
    await _put(client, admin, "DEPLOY_KEY", JOB_VALUE, job["id"])
    worker = await register_worker(client)
    callers = {
        "viewer": await _user(client, ctx, Role.VIEWER),
        "developer": await _user(client, ctx, Role.DEVELOPER),
        "worker": worker.headers,
    }
    for who, headers in callers.items():
        for method, path, body in [
            ("PUT", f"{API}/jobs/{job['id']}/secrets/DEPLOY_KEY", {"value": OTHER_VALUE}),
            ("PUT", f"{API}/secrets/DEPLOY_KEY", {"value": OTHER_VALUE}),
            ("GET", f"{API}/jobs/{job['id']}/secrets", None),
            ("GET", f"{API}/secrets", None),
            ("DELETE", f"{API}/jobs/{job['id']}/secrets/DEPLOY_KEY", None),
            ("DELETE", f"{API}/secrets/DEPLOY_KEY", None),
        ]:
            response = await client.request(method, path, headers=headers, json=body)
            assert response.status_code == 403, (who, method, path, response.text)
    assert await _names(client, admin, job["id"]) == ["DEPLOY_KEY"]
    assert await _names(client, admin) == []


async def test_rows_hold_ciphertext_only_and_the_audit_log_holds_names_only(
    client: httpx.AsyncClient, admin: Headers, ctx: ServerContext
) -> None:
    job = await create_job(client, admin, pipeline=PIPELINE)
    await _put(client, admin, "DEPLOY_KEY", JOB_VALUE, job["id"])
    await _put(client, admin, "DEPLOY_KEY", GLOBAL_VALUE)
    await client.delete(f"{API}/secrets/DEPLOY_KEY", headers=admin)
    await _put(client, admin, "API_TOKEN", API_TOKEN_VALUE)

    rows = await _raw_rows(ctx, "secrets")
    assert len(rows) == 2
    dumped = repr(rows).encode()
    for row in rows:
        for column in row:
            data = column if isinstance(column, bytes) else str(column).encode()
            for value in VALUES:
                assert value.encode() not in data
    for value in VALUES:
        assert value.encode() not in dumped

    async with ctx.db.transaction() as session:
        events = list(
            await session.scalars(
                sa.select(AuditEvent)
                .where(AuditEvent.action.like("secret.%"))
                .order_by(AuditEvent.id)
            )
        )
    assert [(e.action, e.target) for e in events] == [
        ("secret.set", f"secret:{job['id']}/DEPLOY_KEY"),
        ("secret.set", "secret:global/DEPLOY_KEY"),
        ("secret.delete", "secret:global/DEPLOY_KEY"),
        ("secret.set", "secret:global/API_TOKEN"),
    ]
    assert all(e.actor_name == "admin" for e in events)
    audit_rows = repr(await _raw_rows(ctx, "audit_events"))
    for value in VALUES:
        assert value not in audit_rows


async def test_deleting_a_job_deletes_its_secrets(
    client: httpx.AsyncClient, admin: Headers, ctx: ServerContext
) -> None:
    job = await create_job(client, admin, pipeline=PIPELINE)
    await _put(client, admin, "DEPLOY_KEY", JOB_VALUE, job["id"])
    await _put(client, admin, "DEPLOY_KEY", GLOBAL_VALUE)
    assert (await client.delete(f"{API}/jobs/{job['id']}", headers=admin)).status_code == 204
    assert len(await _raw_rows(ctx, "secrets")) == 1
    assert await _names(client, admin) == ["DEPLOY_KEY"]


# --- delivery to builds ---


async def test_the_worker_holding_the_build_gets_the_values_its_steps_ask_for(
    client: httpx.AsyncClient, admin: Headers, ctx: ServerContext
) -> None:
    job = await create_job(client, admin, pipeline=PIPELINE)
    await _put(client, admin, "DEPLOY_KEY", JOB_VALUE, job["id"])
    worker, build = await _held_build(client, admin, job)

    response = await _fetch(client, worker, build["id"], ["DEPLOY_KEY", "API_TOKEN"], attempt=1)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    assert response.json() == {
        "values": {"DEPLOY_KEY": JOB_VALUE},
        "missing": ["API_TOKEN"],
        "reason": None,
    }
    # The build as users read it does not hold the value.
    for path in (f"/builds/{build['id']}", f"/jobs/{job['id']}", "/builds"):
        assert JOB_VALUE not in (await client.get(f"{API}{path}", headers=admin)).text

    async with ctx.db.transaction() as session:
        event = await session.scalar(
            sa.select(AuditEvent).where(AuditEvent.action == "secret.read")
        )
    assert event is not None
    assert (event.actor_name, event.target, event.outcome) == (
        f"worker:{worker.name}",
        f"build:{build['id']}",
        "success",
    )
    assert event.details == {"names": ["DEPLOY_KEY"], "missing": ["API_TOKEN"]}


async def test_another_worker_or_a_stale_attempt_gets_nothing(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    job = await create_job(client, admin, pipeline=PIPELINE)
    await _put(client, admin, "DEPLOY_KEY", JOB_VALUE, job["id"])
    worker, build = await _held_build(client, admin, job)
    other = await register_worker(client)

    assert_error(await _fetch(client, other, build["id"], ["DEPLOY_KEY"]), 403, "forbidden")
    assert_error(await _fetch(client, worker, str(uuid.uuid4()), ["DEPLOY_KEY"]), 404)
    stale = await _fetch(client, worker, build["id"], ["DEPLOY_KEY"], attempt=2)
    assert_error(stale, 409, "conflict")
    # A user's token, even an admin's, is no worker's.
    response = await client.post(
        f"{API}/builds/{build['id']}/secrets", headers=admin, json={"names": ["DEPLOY_KEY"]}
    )
    assert_error(response, 403, "forbidden")
    # Names no step of the build asks for are refused; bad names are 422.
    unasked = await _fetch(client, worker, build["id"], ["DEPLOY_KEY", "SOMETHING_ELSE"])
    assert "SOMETHING_ELSE" in assert_error(unasked, 403, "forbidden")
    assert_error(await _fetch(client, worker, build["id"], ["bad-name"]), 422)
    assert_error(await _fetch(client, worker, build["id"], []), 422)

    # Once the build has finished, its secrets are no longer handed out.
    done = await set_status(client, worker, build["id"], "success", exit_code=0)
    assert done.status_code == 200
    finished = await _fetch(client, worker, build["id"], ["DEPLOY_KEY"])
    assert finished.status_code in (403, 409), finished.text


async def test_the_jobs_own_secret_wins_over_the_global_one(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    job = await create_job(client, admin, pipeline=PIPELINE)
    other_job = await create_job(client, admin, pipeline=PIPELINE)
    await _put(client, admin, "DEPLOY_KEY", GLOBAL_VALUE)
    await _put(client, admin, "API_TOKEN", API_TOKEN_VALUE)
    await _put(client, admin, "DEPLOY_KEY", JOB_VALUE, job["id"])
    # Another job's own secret is never given to this one.
    await _put(client, admin, "API_TOKEN", OTHER_VALUE, other_job["id"])

    worker, build = await _held_build(client, admin, job)
    values = (await _fetch(client, worker, build["id"], ["DEPLOY_KEY", "API_TOKEN"])).json()
    assert values["values"] == {"DEPLOY_KEY": JOB_VALUE, "API_TOKEN": API_TOKEN_VALUE}
    assert values["missing"] == []

    await client.delete(f"{API}/jobs/{job['id']}/secrets/DEPLOY_KEY", headers=admin)
    again = (await _fetch(client, worker, build["id"], ["DEPLOY_KEY"])).json()
    assert again["values"] == {"DEPLOY_KEY": GLOBAL_VALUE}


async def _mark_from_fork(ctx: ServerContext, build_id: str) -> None:
    # Webhooks set this for a pull request from another repository; set it directly here.
    async with ctx.db.transaction() as session:
        await session.execute(
            sa.update(Build).where(Build.id == uuid.UUID(build_id)).values(from_fork=True)
        )


async def test_builds_from_forks_get_no_secrets_unless_the_job_allows_it(
    client: httpx.AsyncClient, admin: Headers, ctx: ServerContext
) -> None:
    job = await create_job(client, admin, pipeline=PIPELINE)
    await _put(client, admin, "DEPLOY_KEY", JOB_VALUE, job["id"])
    await _put(client, admin, "API_TOKEN", API_TOKEN_VALUE)
    worker, build = await _held_build(client, admin, job)
    await _mark_from_fork(ctx, build["id"])

    denied = (await _fetch(client, worker, build["id"], ["DEPLOY_KEY", "API_TOKEN"])).json()
    assert denied["values"] == {}
    assert denied["missing"] == ["API_TOKEN", "DEPLOY_KEY"]
    assert "fork" in denied["reason"]
    async with ctx.db.transaction() as session:
        event = await session.scalar(
            sa.select(AuditEvent).where(AuditEvent.action == "secret.read")
        )
    assert event is not None and event.outcome == "denied"

    patched = await client.patch(
        f"{API}/jobs/{job['id']}", headers=admin, json={"secrets_for_forks": True}
    )
    assert patched.status_code == 200
    allowed = (await _fetch(client, worker, build["id"], ["DEPLOY_KEY", "API_TOKEN"])).json()
    assert allowed["values"] == {"DEPLOY_KEY": JOB_VALUE, "API_TOKEN": API_TOKEN_VALUE}
    assert allowed["reason"] is None


async def test_a_manual_retry_of_a_fork_build_gets_no_secrets_either(
    client: httpx.AsyncClient, admin: Headers, ctx: ServerContext
) -> None:
    job = await create_job(client, admin, pipeline=PIPELINE)
    await _put(client, admin, "DEPLOY_KEY", JOB_VALUE, job["id"])
    worker, build = await _held_build(client, admin, job)
    await _mark_from_fork(ctx, build["id"])
    assert (await set_status(client, worker, build["id"], "failure")).status_code == 200

    retried = await client.post(f"{API}/builds/{build['id']}/retry", headers=admin)
    assert retried.status_code == 201, retried.text
    spec = await claim_build(client, worker)
    assert spec["build_id"] == retried.json()["id"]
    assert (await set_status(client, worker, spec["build_id"], "running")).status_code == 200

    denied = (await _fetch(client, worker, spec["build_id"], ["DEPLOY_KEY"])).json()
    assert denied["values"] == {} and "fork" in denied["reason"]


# --- masking on ingest ---


async def _log_text(client: httpx.AsyncClient, admin: Headers, build_id: str) -> str:
    response = await client.get(
        f"{API}/builds/{build_id}/logs", headers=admin, params={"format": "text"}
    )
    assert response.status_code == 200
    return response.text


async def test_the_server_masks_the_secrets_a_build_can_read(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    job = await create_job(client, admin, pipeline=PIPELINE)
    await _put(client, admin, "DEPLOY_KEY", JOB_VALUE, job["id"])
    await _put(client, admin, "API_TOKEN", API_TOKEN_VALUE)
    worker, build = await _held_build(client, admin, job)
    encoded = base64.b64encode(JOB_VALUE.encode()).decode()
    lines = [f"key={JOB_VALUE}", encoded, f"token {API_TOKEN_VALUE}", "clean"]
    response = await post_logs(client, worker, build["id"], 0, lines, step="deploy")
    assert response.status_code == 200
    padding = "=" * encoded.count("=")  # left as it was: it says nothing of the value
    expected = f"key=***\n***{padding}\ntoken ***\nclean\n"
    assert await _log_text(client, admin, build["id"]) == expected


async def test_a_repository_pipeline_has_every_secret_of_its_job_masked(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    job = await create_job(
        client, admin, pipeline=None, scm_url="https://git.example.invalid/repo.git"
    )
    assert job["pipeline_path"] == ".solvyd.yml"
    await _put(client, admin, "DEPLOY_KEY", JOB_VALUE, job["id"])
    await _put(client, admin, "API_TOKEN", API_TOKEN_VALUE)
    worker = await register_worker(client)
    build = await trigger(client, admin, job["id"])
    spec = await claim_build(client, worker)
    assert spec["steps"] == [] and spec["pipeline_path"] == ".solvyd.yml"
    await set_status(client, worker, build["id"], "running")
    # The server never saw the repository's file: any name may be asked for.
    fetched = (await _fetch(client, worker, build["id"], ["DEPLOY_KEY", "NOPE"])).json()
    assert fetched["values"] == {"DEPLOY_KEY": JOB_VALUE}
    lines = [f"a {JOB_VALUE}", f"b {API_TOKEN_VALUE}"]
    await post_logs(client, worker, build["id"], 0, lines, step="checkout")
    assert await _log_text(client, admin, build["id"]) == "a ***\nb ***\n"


async def test_the_server_masks_an_artifact_name_holding_a_secret(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    # A worker that did not mask the name (an older agent): the server masks it before it is
    # stored or logged, so the listing and the download's Content-Disposition never hold it.
    job = await create_job(client, admin, pipeline=PIPELINE)
    await _put(client, admin, "API_TOKEN", API_TOKEN_VALUE)
    worker, build = await _held_build(client, admin, job)
    url = f"{API}/builds/{build['id']}/artifacts"
    # (The server's own log is checked end to end, on a real server process's output.)
    response = await client.put(
        f"{url}/dist/{API_TOKEN_VALUE}.txt", headers=worker.headers, content=b"x"
    )
    assert response.status_code == 200, response.text
    assert response.json()["name"] == "dist/***.txt"
    listed = (await client.get(url, headers=admin)).json()["items"]
    assert [item["name"] for item in listed] == ["dist/***.txt"]
    download = await client.get(f"{url}/dist/***.txt", headers=admin)
    assert download.status_code == 200 and download.content == b"x"
    assert API_TOKEN_VALUE not in download.headers["content-disposition"]
    assert 'filename="***.txt"' in download.headers["content-disposition"]


# --- the key ---


async def test_the_key_file_is_created_0600_and_keeps_secrets_readable_after_a_restart(
    client: httpx.AsyncClient, admin: Headers, settings: ServerSettings, ctx: ServerContext
) -> None:
    key_file = settings.data_dir / "secret-key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    server_secret = key_file.read_text().strip()
    assert len(server_secret) >= 32
    assert ctx.keys.jwt_secret == server_secret
    # The encryption key is derived from it, and is not the token-signing key.
    assert len(ctx.keys.encryption_key) == 32
    assert ctx.keys.encryption_key not in server_secret.encode()

    job = await create_job(client, admin, pipeline=PIPELINE)
    await _put(client, admin, "DEPLOY_KEY", JOB_VALUE, job["id"])
    build = await trigger(client, admin, job["id"])

    # A second server on the same database and data directory reads the same key.
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as second:
            assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
            worker = await register_worker(second)
            assert (await claim_build(second, worker))["build_id"] == build["id"]
            fetched = await _fetch(second, worker, build["id"], ["DEPLOY_KEY"])
            assert fetched.json()["values"] == {"DEPLOY_KEY": JOB_VALUE}
