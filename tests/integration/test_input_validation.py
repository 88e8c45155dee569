"""Text that cannot be stored or encoded (a lone UTF-16 surrogate, a NUL) is refused at the
edge with 422 and nothing saved, except in log lines, which keep it as U+FFFD; a build the
server cannot hand out ends in `error` instead of jamming the queue; step names from workers
follow the pipeline language's rule; a worker's cancel watch is for its own builds only; and
the client's address comes from X-Forwarded-For only through a trusted proxy.

In-process app over ASGI on SQLite and PostgreSQL, and one real server process for the
forwarded-address case (uvicorn itself believed the header from loopback)."""

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import sqlalchemy as sa

from solvyd.server.app import create_app
from solvyd.server.db.models import Build, Job
from solvyd.server.settings import ServerSettings
from tests.integration.api_helpers import (
    AGENT_TOKEN,
    API,
    Headers,
    admin_headers,
    assert_error,
    bearer,
    claim,
    claim_build,
    create_job,
    get_build,
    register_worker,
    running_build,
    set_status,
    trigger,
    unique,
)
from tests.support.processes import ADMIN_PASSWORD, ServerProcess, start_server

SURROGATE = "x\ud800y"
NUL = "x\x00y"
RTL_OVERRIDE = "build\u202etxt.exe"


async def _send(
    http: httpx.AsyncClient, method: str, url: str, headers: Headers, body: Any
) -> httpx.Response:
    """`body` as JSON with `\\uXXXX` escapes (httpx's own encoder refuses a lone surrogate,
    so it could not send one; a script with `json.dumps` does)."""
    return await http.request(
        method,
        url,
        headers={**headers, "Content-Type": "application/json"},
        content=json.dumps(body).encode(),
    )


def _assert_unstorable(response: httpx.Response, field: str) -> None:
    assert_error(response, 422, "invalid")
    details = response.json()["error"]["details"]
    assert [d["field"] for d in details] == [field], details


async def _job_names(http: httpx.AsyncClient, admin: Headers) -> set[str]:
    response = await http.get(f"{API}/jobs", headers=admin)
    assert response.status_code == 200, response.text
    return {job["name"] for job in response.json()["items"]}


@pytest.mark.parametrize("bad", [SURROGATE, NUL], ids=["surrogate", "nul"])
async def test_a_job_with_text_that_cannot_be_stored_is_422_and_not_saved(
    client: httpx.AsyncClient, bad: str
) -> None:
    """The issue's case: `POST /jobs` answered 500 and saved the job, and `GET /jobs` then
    answered 500 for everyone."""
    admin = await admin_headers(client)
    name = unique("job")
    cases: list[tuple[dict[str, Any], str]] = [
        ({"env": {"A": bad}}, "env.A"),
        ({"env": {bad: "a"}}, "env.x\ufffdy"),
        ({"description": bad}, "description"),
        ({"labels": ["ok", bad]}, "labels.1"),
        (
            {"pipeline": {"steps": [{"name": "b", "commands": ["echo", bad]}]}},
            "pipeline.steps.0.commands.1",
        ),
        ({"pipeline": f"steps:\n  - name: b\n    commands: [echo {bad}]\n"}, "pipeline"),
        ({"build_config": {"commands": [bad]}}, "build_config.commands.0"),
    ]
    for fields, field in cases:
        response = await _send(client, "POST", f"{API}/jobs", admin, {"name": name, **fields})
        _assert_unstorable(response, field)
        assert bad not in response.text
    refused_name = await _send(client, "POST", f"{API}/jobs", admin, {"name": f"a{bad}"})
    _assert_unstorable(refused_name, "name")
    assert name not in await _job_names(client, admin)


async def test_the_same_text_in_the_raw_utf8_of_a_surrogate_is_refused(
    client: httpx.AsyncClient,
) -> None:
    """Python's JSON decoder reads the UTF-8 bytes of a surrogate (ED A0 80) without any
    escape into the same lone surrogate."""
    admin = await admin_headers(client)
    name = unique("job")
    body = b'{"name": "' + name.encode() + b'", "description": "x\xed\xa0\x80y"}'
    response = await client.post(
        f"{API}/jobs", headers={**admin, "Content-Type": "application/json"}, content=body
    )
    _assert_unstorable(response, "description")
    assert name not in await _job_names(client, admin)


async def test_changes_triggers_and_names_with_such_text_are_422_and_change_nothing(
    client: httpx.AsyncClient,
) -> None:
    admin = await admin_headers(client)
    job = await create_job(client, admin, env={"KEEP": "me"})
    job_url = f"{API}/jobs/{job['id']}"

    patched = await _send(client, "PATCH", job_url, admin, {"env": {"KEEP": SURROGATE}})
    _assert_unstorable(patched, "env.KEEP")
    assert (await client.get(job_url, headers=admin)).json()["env"] == {"KEEP": "me"}

    # The case: this answered 201, then jammed the queue.
    triggered = await _send(client, "POST", f"{job_url}/trigger", admin, {"env": {"A": SURROGATE}})
    _assert_unstorable(triggered, "env.A")
    nul_branch = await _send(client, "POST", f"{job_url}/trigger", admin, {"branch": NUL})
    _assert_unstorable(nul_branch, "branch")
    builds = await client.get(f"{API}/builds", headers=admin, params={"job_id": job["id"]})
    assert builds.json()["items"] == []

    secret = await _send(client, "PUT", f"{API}/secrets/TOKEN", admin, {"value": SURROGATE})
    _assert_unstorable(secret, "value")
    secrets = await client.get(f"{API}/secrets", headers=admin)
    assert secrets.status_code == 200, secrets.text
    assert [s["name"] for s in secrets.json()["items"]] == []

    username = f"user{NUL}"
    user = await _send(
        client, "POST", f"{API}/users", admin, {"username": username, "password": "long-enough"}
    )
    _assert_unstorable(user, "username")
    users = await client.get(f"{API}/users", headers=admin)
    assert [u["username"] for u in users.json()["items"]] == ["admin"]

    token = await _send(client, "POST", f"{API}/tokens", admin, {"name": SURROGATE})
    _assert_unstorable(token, "name")
    assert (await client.get(f"{API}/tokens", headers=admin)).json()["items"] == []

    worker = await _send(
        client,
        "POST",
        f"{API}/workers/register",
        bearer(AGENT_TOKEN),
        {"name": "w", "hostname": SURROGATE, "capabilities": {"labels": [NUL]}},
    )
    assert_error(worker, 422, "invalid")
    assert (await client.get(f"{API}/workers", headers=admin)).json()["items"] == []

    in_query = await client.get(f"{API}/jobs", headers=admin, params={"name": NUL})
    _assert_unstorable(in_query, "name")


async def test_a_worker_report_with_such_text_is_422(client: httpx.AsyncClient) -> None:
    admin = await admin_headers(client)
    worker, build = await running_build(client, admin, await create_job(client, admin))
    url = f"{API}/builds/{build['id']}/status"
    body = {"status": "failure", "exit_code": 1, "error_message": SURROGATE}
    _assert_unstorable(await _send(client, "PUT", url, worker.headers, body), "error_message")
    assert (await get_build(client, admin, build["id"]))["status"] == "running"


async def test_escaped_pairs_and_other_text_pass(client: httpx.AsyncClient) -> None:
    """No false alarm: an emoji sent as an escaped surrogate pair (what `json.dumps` writes by
    default), right-to-left script, U+FFFD itself."""
    admin = await admin_headers(client)
    description = "\U0001f680 \u05e9\u05dc\u05d5\u05dd \ufffd"
    response = await _send(
        client,
        "POST",
        f"{API}/jobs",
        admin,
        {
            "name": unique("job"),
            "description": description,
            "pipeline": "steps: [{name: b, commands: [x]}]",
        },
    )
    assert response.status_code == 201, response.text
    assert response.json()["description"] == description


async def test_log_lines_keep_invalid_text_as_replacement_characters(
    client: httpx.AsyncClient,
) -> None:
    """A step's output is what it is: its lines are stored, each lone surrogate and NUL as
    U+FFFD, never refused and never a 500 (which lost the batch)."""
    admin = await admin_headers(client)
    worker, build = await running_build(client, admin, await create_job(client, admin))
    body = {"seq": 0, "step": "build", "lines": [{"text": SURROGATE}, {"text": NUL}]}
    response = await _send(client, "POST", f"{API}/builds/{build['id']}/logs", worker.headers, body)
    assert response.status_code == 200, response.text
    assert response.json()["stored"] is True
    page = await client.get(f"{API}/builds/{build['id']}/logs", headers=admin)
    assert [line["text"] for line in page.json()["lines"]] == ["x\ufffdy", "x\ufffdy"]
    text = await client.get(
        f"{API}/builds/{build['id']}/logs", headers=admin, params={"format": "text"}
    )
    assert text.text == "x\ufffdy\nx\ufffdy\n"


async def test_a_build_that_cannot_be_handed_out_ends_in_error_and_the_next_is_claimed(
    client: httpx.AsyncClient,
) -> None:
    """The issue's jam: a build whose spec holds a lone surrogate (stored before the API
    refused it) answered 500 on every claim, went back to the queue every ~30 s and held up
    the builds behind it. Now the claim ends it with `error` and a reason, and hands out the
    next build in the same answer."""
    admin = await admin_headers(client)
    job = await create_job(client, admin)
    broken = await trigger(client, admin, job["id"])
    invalid = await trigger(client, admin, job["id"])
    good = await trigger(client, admin, job["id"])
    ctx = client.app.state.ctx  # type: ignore[attr-defined]
    async with ctx.db.transaction() as session:
        spec = (await session.get(Build, uuid.UUID(broken["id"]))).spec
        # Written as a row of an older server could be: past the API, straight to the table.
        await session.execute(
            sa.update(Build)
            .where(Build.id == uuid.UUID(broken["id"]))
            .values(spec={**spec, "env": {**spec["env"], "A": SURROGATE}})
        )
        await session.execute(
            sa.update(Build)
            .where(Build.id == uuid.UUID(invalid["id"]))
            .values(spec={**spec, "steps": "not a list"})
        )
    worker = await register_worker(client)

    handed = await claim_build(client, worker)

    assert handed["build_id"] == good["id"]
    for bad, reason in ((broken, "cannot be encoded"), (invalid, "steps")):
        ended = await get_build(client, admin, bad["id"])
        assert ended["status"] == "error"
        assert ended["error_message"].startswith("the server cannot hand out this build")
        assert reason in ended["error_message"]
        assert ended["worker_id"] is None
    # Nothing is left to hand out: the broken builds are not queued again.
    again = await claim(client, worker)
    assert again.status_code == 204, again.text


async def test_a_job_stored_with_unencodable_text_is_refused_at_trigger_not_500(
    client: httpx.AsyncClient,
) -> None:
    """A job row an older server saved with a lone surrogate in its env (a JSON column keeps
    it as an escape) cannot be planned: its trigger is 422 saying so, and no build is made."""
    admin = await admin_headers(client)
    job = await create_job(client, admin)
    ctx = client.app.state.ctx  # type: ignore[attr-defined]
    async with ctx.db.transaction() as session:
        # Past the API, straight to the table, as a row of an older server could be.
        await session.execute(
            sa.update(Job).where(Job.id == uuid.UUID(job["id"])).values(env={"A": SURROGATE})
        )
    refused = await client.post(f"{API}/jobs/{job['id']}/trigger", headers=admin, json={})
    assert refused.status_code == 422, refused.text
    assert "cannot be encoded" in refused.json()["error"]["message"]
    builds = await client.get(f"{API}/builds", headers=admin, params={"job_id": job["id"]})
    assert builds.status_code == 200 and builds.json()["items"] == []


# --- step names and the cancel watch ---

BAD_STEP_NAMES = ["../../evil", "a" * 5000, RTL_OVERRIDE, "build (A=\u202e)", "build\n", ""]


async def test_step_names_from_a_worker_follow_the_pipeline_rule(
    client: httpx.AsyncClient,
) -> None:
    admin = await admin_headers(client)
    worker, build = await running_build(client, admin, await create_job(client, admin))
    logs_url = f"{API}/builds/{build['id']}/logs"
    for seq, name in enumerate(BAD_STEP_NAMES):
        batch = {"seq": seq, "step": name, "lines": [{"text": "hi"}]}
        response = await _send(client, "POST", logs_url, worker.headers, batch)
        assert_error(response, 422, "invalid")
        # (Starlette's router reads a path ending in a newline as the path without it.)
        if name and not name.endswith("\n"):
            # Quoted whole, as the agent sends it.
            step_url = f"{API}/builds/{build['id']}/steps/{quote(name, safe='')}"
            status = await client.put(step_url, headers=worker.headers, json={"status": "running"})
            assert_error(status, 422, "invalid")
    steps = (await get_build(client, admin, build["id"]))["steps"]
    assert [step["name"] for step in steps] == ["build", "test"]
    assert (await client.get(logs_url, headers=admin)).json()["lines"] == []

    # The names a pipeline can make, a matrix copy's included, are taken.
    for seq, name in enumerate(["checkout", "test (PY=3.12, IMAGE=docker.io/python:3.12)"], 100):
        batch = {"seq": seq, "step": name, "lines": [{"text": "hi"}]}
        response = await _send(client, "POST", logs_url, worker.headers, batch)
        assert response.status_code == 200, response.text
        status = await client.put(
            f"{API}/builds/{build['id']}/steps/{quote(name, safe='')}",
            headers=worker.headers,
            json={"status": "running"},
        )
        assert status.status_code == 200, status.text


async def test_a_step_name_with_an_rtl_override_in_the_url_is_422(
    client: httpx.AsyncClient,
) -> None:
    admin = await admin_headers(client)
    worker, build = await running_build(client, admin, await create_job(client, admin))
    # Unquoted, as a careless client would send it.
    for name in (RTL_OVERRIDE, "a" * 5000, "build (A=\u202e)", "-rf"):
        response = await client.put(
            f"{API}/builds/{build['id']}/steps/{name}",
            headers=worker.headers,
            json={"status": "running"},
        )
        assert_error(response, 422, "invalid")
    steps = (await get_build(client, admin, build["id"]))["steps"]
    assert [step["name"] for step in steps] == ["build", "test"]


async def test_cancel_wait_for_another_workers_build_is_403(client: httpx.AsyncClient) -> None:
    admin = await admin_headers(client)
    owner, build = await running_build(client, admin, await create_job(client, admin))
    other = await register_worker(client)
    url = f"{API}/builds/{build['id']}/cancel-wait"

    refused = await client.get(url, headers=other.headers, params={"wait": 0})
    assert_error(refused, 403, "forbidden")
    own = await client.get(url, headers=owner.headers, params={"wait": 0})
    assert own.json() == {"cancelled": False}
    await set_status(client, owner, build["id"], "success", exit_code=0)
    assert_error(await client.get(url, headers=other.headers, params={"wait": 0}), 403)


async def test_a_matrix_that_makes_a_bad_step_name_is_refused(client: httpx.AsyncClient) -> None:
    """A matrix copy's name carries its values; one that could not be reported by that name
    (a right-to-left override, a newline) is refused with the pipeline."""
    admin = await admin_headers(client)
    for value in ("\u202e", "a\nb", "x" * 600):
        pipeline = {"steps": [{"name": "t", "commands": ["x"], "matrix": {"A": [value]}}]}
        response = await client.post(
            f"{API}/jobs", headers=admin, json={"name": "matrix", "pipeline": pipeline}
        )
        message = assert_error(response, 422)
        assert "step name" in message
    fine = {"steps": [{"name": "t", "commands": ["x"], "matrix": {"OS": ["linux/amd64"]}}]}
    response = await client.post(
        f"{API}/jobs", headers=admin, json={"name": "matrix", "pipeline": fine}
    )
    assert response.status_code == 201, response.text


# --- the client's address behind proxies ---

FAILED_LOGINS = 25


async def _failed_logins(http: httpx.AsyncClient, forged: bool) -> list[int]:
    """25 failed logins, each for another username, each claiming another address."""
    statuses = []
    for n in range(FAILED_LOGINS):
        headers = {"X-Forwarded-For": f"198.51.100.{n + 1}"} if forged else {}
        response = await http.post(
            f"{API}/auth/login",
            headers=headers,
            json={"username": f"nobody-{n}", "password": "not-the-password"},
        )
        statuses.append(response.status_code)
    return statuses


async def _login_failure_ips(http: httpx.AsyncClient, admin: Headers) -> set[str]:
    response = await http.get(
        f"{API}/audit", headers=admin, params={"action": "login", "limit": 500}
    )
    assert response.status_code == 200, response.text
    return {e["ip"] for e in response.json()["items"] if e["outcome"] == "failure"}


class _AppOnLoopback:
    """The app as a client on loopback reaches it (the issue's setup: `make run`)."""

    PEER = "127.0.0.1"

    @pytest.fixture
    async def client(self, settings: ServerSettings) -> AsyncIterator[httpx.AsyncClient]:
        app = create_app(settings.model_copy(update=self.changes()))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app, client=(self.PEER, 50123))
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
                http.app = app  # type: ignore[attr-defined]
                yield http

    def changes(self) -> dict[str, Any]:
        return {}


class TestNoTrustedProxy(_AppOnLoopback):
    async def test_a_forged_header_from_loopback_is_ignored(
        self, client: httpx.AsyncClient
    ) -> None:
        """The issue: 25 failed logins from loopback, each with another forged address, got
        no 429, and the audit log recorded the forged addresses."""
        admin = await admin_headers(client)
        statuses = await _failed_logins(client, forged=True)
        assert statuses[:20] == [401] * 20
        assert statuses[20:] == [429] * 5
        assert await _login_failure_ips(client, admin) == {self.PEER}


class TestTrustedProxy(_AppOnLoopback):
    def changes(self) -> dict[str, Any]:
        proxies = ServerSettings(trusted_proxies="127.0.0.1, 10.0.0.0/8").trusted_proxies
        return {"trusted_proxies": proxies}

    async def test_a_trusted_proxy_names_each_client(self, client: httpx.AsyncClient) -> None:
        """Through a trusted proxy each forwarded address is a client of its own."""
        admin = await admin_headers(client)
        statuses = await _failed_logins(client, forged=True)
        assert statuses == [401] * FAILED_LOGINS
        ips = await _login_failure_ips(client, admin)
        assert ips == {f"198.51.100.{n + 1}" for n in range(FAILED_LOGINS)}

    async def test_the_right_most_untrusted_address_is_the_client(
        self, client: httpx.AsyncClient
    ) -> None:
        """What the client wrote comes first and proves nothing; the proxies' entries come
        last. An entry that is no address stops the walk at the proxy that handed it on."""
        admin = await admin_headers(client)
        cases = {
            "6.6.6.6, 203.0.113.9, 10.1.2.3": "203.0.113.9",
            "203.0.113.10": "203.0.113.10",
            "10.0.0.7": "10.0.0.7",
            "not-an-address, 10.0.0.8": "10.0.0.8",
        }
        for header in cases:
            await client.post(
                f"{API}/auth/login",
                headers={"X-Forwarded-For": header},
                json={"username": unique("nobody"), "password": "not-the-password"},
            )
        assert await _login_failure_ips(client, admin) == set(cases.values())


def test_trusted_proxies_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert ServerSettings().trusted_proxies == []
    monkeypatch.setenv("SOLVYD_TRUSTED_PROXIES", "10.0.0.1, 192.168.0.0/16,::1")
    assert [str(n) for n in ServerSettings().trusted_proxies] == [
        "10.0.0.1/32",
        "192.168.0.0/16",
        "::1/128",
    ]
    monkeypatch.setenv("SOLVYD_TRUSTED_PROXIES", "proxy.example")
    with pytest.raises(ValueError, match="trusted_proxies"):
        ServerSettings()


def test_a_real_server_believes_no_forwarded_header_from_loopback(
    database_url: str, tmp_path: Path, log_dir: Path
) -> None:
    """The issue's case, through uvicorn: it trusts X-Forwarded-For from 127.0.0.1 by default
    and rewrote the client's address before the app saw it; `solvyd server` turns that off."""
    server: ServerProcess = start_server(database_url, tmp_path / "data", log_dir)
    try:
        with httpx.Client(base_url=server.url) as http:
            login = http.post(
                f"{API}/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}
            )
            admin = bearer(login.json()["access_token"])
            statuses = []
            for n in range(FAILED_LOGINS):
                response = http.post(
                    f"{API}/auth/login",
                    headers={"X-Forwarded-For": f"198.51.100.{n + 1}"},
                    json={"username": f"nobody-{n}", "password": "not-the-password"},
                )
                statuses.append(response.status_code)
            assert statuses == [401] * 20 + [429] * 5
            events = http.get(f"{API}/audit", headers=admin, params={"action": "login"})
            ips = {e["ip"] for e in events.json()["items"] if e["outcome"] == "failure"}
            assert ips == {"127.0.0.1"}
    finally:
        server.process.stop()
