"""HTTP hardening: security headers on every answer, the CORS allow-list, the request body
limit (and the artifact upload's exemption from it), no stack trace in any answer, and the
audit log of job, build and worker changes."""

import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from solvyd.server.api.deps import Public
from solvyd.server.api.middleware import CONTENT_SECURITY_POLICY, DOCS_CONTENT_SECURITY_POLICY
from solvyd.server.app import create_app
from solvyd.server.auth.passwords import hash_password
from solvyd.server.auth.roles import Role
from solvyd.server.db.models import User
from solvyd.server.settings import ServerSettings
from solvyd.shared.clock import utcnow
from tests.integration.api_helpers import (
    AGENT_TOKEN,
    API,
    PIPELINE,
    Headers,
    admin_headers,
    assert_error,
    bearer,
    create_job,
    get_build,
    post_logs,
    register_worker,
    running_build,
    set_status,
    trigger,
    unique,
)
from tests.support.processes import start_server

ALLOWED_ORIGIN = "https://ci.example.com"
CLIENT_IP = "203.0.113.7"  # TEST-NET-3: only ever a label here
LIMIT = 4096
PASSWORD = "hardening-test-password"
BOOM = f"{API}/test-only/boom"
SECRET_IN_EXCEPTION = "db-password=hunter2"


def _boom_app(settings: ServerSettings) -> FastAPI:
    """The real app plus one route, in this test only, that fails unexpectedly."""
    app = create_app(settings)

    async def boom() -> None:
        raise RuntimeError(f"something broke: {SECRET_IN_EXCEPTION}")

    async def cached() -> JSONResponse:
        return JSONResponse({"ok": True}, headers={"Cache-Control": "max-age=60"})

    app.add_api_route(BOOM, boom, dependencies=[Public], include_in_schema=False)
    app.add_api_route(
        f"{API}/test-only/cached", cached, dependencies=[Public], include_in_schema=False
    )
    return app


@contextlib.asynccontextmanager
async def _app_client(settings: ServerSettings, **changes: Any) -> AsyncIterator[httpx.AsyncClient]:
    app = _boom_app(settings.model_copy(update=changes))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=(CLIENT_IP, 50123))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            http.app = app  # type: ignore[attr-defined]
            yield http


@pytest.fixture
async def http(settings: ServerSettings) -> AsyncIterator[httpx.AsyncClient]:
    """The app with a small body limit, CORS for one origin, and the test-only routes."""
    async with _app_client(settings, max_request_bytes=LIMIT, cors_origins=[ALLOWED_ORIGIN]) as c:
        yield c


def _assert_security_headers(response: httpx.Response, *, api: bool = True) -> None:
    headers = response.headers
    where = f"{response.request.method} {response.request.url.path} -> {response.status_code}"
    assert headers.get("x-content-type-options") == "nosniff", where
    assert headers.get("x-frame-options") == "DENY", where
    assert headers.get("referrer-policy") == "no-referrer", where
    assert headers.get("content-security-policy") == CONTENT_SECURITY_POLICY, where
    if api:
        assert headers.get("cache-control") == "no-store", where


async def _user_headers(http: httpx.AsyncClient, role: Role) -> Headers:
    name = f"hardening-{role}-{uuid.uuid4().hex[:6]}"
    ctx = http.app.state.ctx  # type: ignore[attr-defined]
    async with ctx.db.transaction() as session:
        session.add(User(username=name, password_hash=hash_password(PASSWORD), role=role))
    response = await http.post(f"{API}/auth/login", json={"username": name, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return bearer(response.json()["access_token"])


# --- security headers ------------------------------------------------------------------------


async def test_security_headers_on_api_health_and_error_answers(
    http: httpx.AsyncClient,
) -> None:
    admin = await admin_headers(http)
    api_answers = [
        await http.get(f"{API}/jobs", headers=admin),  # 200
        await http.get(f"{API}/jobs"),  # 401
        await http.get(f"{API}/jobs/{uuid.uuid4()}", headers=admin),  # 404
        await http.get(f"{API}/jobs/not-a-uuid", headers=admin),  # 422
        await http.post(f"{API}/jobs", headers=admin, content=b"x" * (LIMIT + 1)),  # 413
        await http.get(BOOM),  # 500
        await http.get(f"{API}/no-such-route"),  # 404 from the router
        await http.get(f"{API}/openapi.json"),
    ]
    assert [r.status_code for r in api_answers] == [200, 401, 404, 422, 413, 500, 404, 200]
    for response in api_answers:
        _assert_security_headers(response)

    for path in ("/healthz", "/readyz"):
        health = await http.get(path)
        assert health.status_code == 200
        _assert_security_headers(health, api=False)
        # Outside the API nothing forbids caching; the API's no-store is its own.
        assert "cache-control" not in health.headers


async def test_a_route_that_sets_its_own_cache_control_keeps_it(http: httpx.AsyncClient) -> None:
    response = await http.get(f"{API}/test-only/cached")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "max-age=60"
    assert response.headers["x-frame-options"] == "DENY"


async def test_the_docs_page_may_load_swagger_ui_and_nothing_else(
    http: httpx.AsyncClient,
) -> None:
    response = await http.get(f"{API}/docs")
    assert response.status_code == 200
    assert response.headers["content-security-policy"] == DOCS_CONTENT_SECURITY_POLICY
    assert "frame-ancestors 'none'" in DOCS_CONTENT_SECURITY_POLICY
    assert response.headers["x-frame-options"] == "DENY"


# --- CORS ------------------------------------------------------------------------------------


async def test_cors_answers_only_the_allowed_origin(http: httpx.AsyncClient) -> None:
    admin = await admin_headers(http)
    allowed = await http.get(f"{API}/jobs", headers={**admin, "Origin": ALLOWED_ORIGIN})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    # Error answers too, so the page can read why.
    denied = await http.get(f"{API}/jobs", headers={"Origin": ALLOWED_ORIGIN})
    assert denied.status_code == 401
    assert denied.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    failed = await http.get(BOOM, headers={"Origin": ALLOWED_ORIGIN})
    assert failed.status_code == 500
    assert failed.headers["access-control-allow-origin"] == ALLOWED_ORIGIN

    other = await http.get(f"{API}/jobs", headers={**admin, "Origin": "https://evil.example"})
    assert other.status_code == 200  # CORS is the browser's rule: the answer just lacks it
    assert "access-control-allow-origin" not in other.headers

    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": ""}
    ok = await http.options(
        f"{API}/jobs",
        headers={
            **preflight,
            "Origin": ALLOWED_ORIGIN,
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert ok.status_code == 200
    assert ok.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    assert "POST" in ok.headers["access-control-allow-methods"]
    assert "authorization" in ok.headers["access-control-allow-headers"].lower()
    _assert_security_headers(ok)
    refused = await http.options(
        f"{API}/jobs", headers={**preflight, "Origin": "https://evil.example"}
    )
    assert refused.status_code == 400
    assert "access-control-allow-origin" not in refused.headers


async def test_no_cors_headers_by_default(settings: ServerSettings) -> None:
    assert settings.cors_origins == []
    async with _app_client(settings) as http:
        response = await http.get("/healthz", headers={"Origin": ALLOWED_ORIGIN})
        preflight = await http.options(
            f"{API}/jobs",
            headers={"Origin": ALLOWED_ORIGIN, "Access-Control-Request-Method": "POST"},
        )
    assert response.status_code == 200
    assert not [h for h in response.headers if h.startswith("access-control-")]
    assert not [h for h in preflight.headers if h.startswith("access-control-")]


def test_cors_origins_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOLVYD_CORS_ORIGINS", f"{ALLOWED_ORIGIN}, http://localhost:5173")
    assert ServerSettings().cors_origins == [ALLOWED_ORIGIN, "http://localhost:5173"]
    monkeypatch.setenv("SOLVYD_CORS_ORIGINS", json.dumps([ALLOWED_ORIGIN]))
    assert ServerSettings().cors_origins == [ALLOWED_ORIGIN]
    # A path or trailing slash never matches a browser's Origin: refused at start.
    monkeypatch.setenv("SOLVYD_CORS_ORIGINS", f"{ALLOWED_ORIGIN}/")
    with pytest.raises(ValueError, match="no origin"):
        ServerSettings()


# --- request body limit ----------------------------------------------------------------------


def _job_body(size: int) -> bytes:
    """A valid job, padded to `size` bytes of JSON with a long description."""
    body = {"name": unique("big"), "pipeline": PIPELINE, "description": ""}
    body["description"] = "x" * (size - len(json.dumps(body)))
    data = json.dumps(body).encode()
    assert len(data) == size
    return data


async def _chunks(data: bytes, size: int = 512) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def test_a_body_over_the_limit_is_413_by_content_length(http: httpx.AsyncClient) -> None:
    admin = await admin_headers(http)
    json_headers = {**admin, "Content-Type": "application/json"}
    small = await http.post(
        f"{API}/jobs",
        headers=json_headers,
        content=json.dumps({"name": unique("small"), "pipeline": PIPELINE}),
    )
    assert small.status_code == 201, small.text

    big = _job_body(LIMIT + 100)
    response = await http.post(f"{API}/jobs", headers=json_headers, content=big)
    message = assert_error(response, 413, "too_large")
    assert str(LIMIT) in message
    # Refused before anything else looks at the request: no token needed to learn the limit.
    anonymous = await http.post(f"{API}/jobs", content=big)
    assert_error(anonymous, 413, "too_large")
    jobs = (await http.get(f"{API}/jobs", headers=admin)).json()["items"]
    assert len(jobs) == 1


async def test_a_chunked_body_growing_past_the_limit_is_413(http: httpx.AsyncClient) -> None:
    admin = await admin_headers(http)
    big = _job_body(LIMIT * 3)
    request = http.build_request(
        "POST",
        f"{API}/jobs",
        headers={**admin, "Content-Type": "application/json"},
        content=_chunks(big),
    )
    assert "content-length" not in request.headers
    assert request.headers["transfer-encoding"] == "chunked"
    response = await http.send(request)
    assert_error(response, 413, "too_large")
    _assert_security_headers(response)

    # A chunked body within the limit goes through.
    fits = json.dumps({"name": unique("chunked"), "pipeline": PIPELINE}).encode()
    request = http.build_request(
        "POST",
        f"{API}/jobs",
        headers={**admin, "Content-Type": "application/json"},
        content=_chunks(fits, 16),
    )
    assert (await http.send(request)).status_code == 201


async def test_an_artifact_upload_may_exceed_the_request_limit(http: httpx.AsyncClient) -> None:
    admin = await admin_headers(http)
    worker, build = await running_build(http, admin, await create_job(http, admin))
    data = bytes(range(256)) * (LIMIT // 64)  # 4 x the general limit
    url = f"{API}/builds/{build['id']}/artifacts/dist/big.bin"
    put = await http.put(url, headers=worker.headers, content=data)
    assert put.status_code == 200, put.text
    streamed = await http.put(f"{url}.2", headers=worker.headers, content=_chunks(data))
    assert streamed.status_code == 200, streamed.text
    for name in ("big.bin", "big.bin.2"):
        download = await http.get(
            f"{API}/builds/{build['id']}/artifacts/dist/{name}", headers=admin
        )
        assert download.status_code == 200
        assert download.content == data
    # Its own limit still holds.
    async with _app_client(http.app.state.ctx.settings, max_artifact_bytes=LIMIT) as small:  # type: ignore[attr-defined]
        admin = await admin_headers(small)
        worker, build = await running_build(small, admin, await create_job(small, admin))
        response = await small.put(
            f"{API}/builds/{build['id']}/artifacts/too-big.bin",
            headers=worker.headers,
            content=data,
        )
        assert_error(response, 413)


# --- no stack traces -------------------------------------------------------------------------


async def test_an_unexpected_error_answers_500_without_a_trace(
    http: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]
) -> None:
    response = await http.get(BOOM)
    assert response.status_code == 500
    assert response.json() == {"error": {"code": "internal", "message": "internal server error"}}
    for leak in ("Traceback", "RuntimeError", SECRET_IN_EXCEPTION, 'File "', ".py"):
        assert leak not in response.text
    _assert_security_headers(response)
    # The trace is in the server's own log, once.
    logged = capsys.readouterr()
    output = logged.out + logged.err
    assert output.count("Traceback (most recent call last)") == 1, output
    assert SECRET_IN_EXCEPTION in output


# --- audit log -------------------------------------------------------------------------------


async def _audit(http: httpx.AsyncClient, admin: Headers, **params: Any) -> dict[str, Any]:
    response = await http.get(f"{API}/audit", headers=admin, params=params)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_audit_records_job_build_and_worker_changes(http: httpx.AsyncClient) -> None:
    admin = await admin_headers(http)
    before = utcnow() - timedelta(seconds=1)
    job = await create_job(http, admin)
    patched = await http.patch(
        f"{API}/jobs/{job['id']}", headers=admin, json={"env": {"TOKEN": "do-not-log-me"}}
    )
    assert patched.status_code == 200, patched.text
    build = await trigger(http, admin, job["id"])
    cancelled = await http.post(f"{API}/builds/{build['id']}/cancel", headers=admin)
    assert cancelled.status_code == 200, cancelled.text
    retried = await http.post(f"{API}/builds/{build['id']}/retry", headers=admin)
    assert retried.status_code == 201, retried.text
    worker = await register_worker(http)
    for verb in ("drain", "resume"):
        answer = await http.post(f"{API}/workers/{worker.id}/{verb}", headers=admin)
        assert answer.status_code == 200, answer.text
    deleted = await http.delete(f"{API}/jobs/{job['id']}", headers=admin)
    assert deleted.status_code == 204

    events = (await _audit(http, admin))["items"]
    assert [e["action"] for e in events] == [
        "job.delete",
        "worker.resume",
        "worker.drain",
        "build.retry",
        "build.cancel",
        "build.trigger",
        "job.update",
        "job.create",
    ]
    ids = [e["id"] for e in events]
    assert ids == sorted(ids, reverse=True)
    for event in events:
        assert event["actor_name"] == "admin"
        assert event["actor_id"] is not None
        assert event["ip"] == CLIENT_IP
        assert event["outcome"] == "success"
        assert event["at"] >= before.isoformat()
    by_action = {e["action"]: e for e in events}
    assert by_action["job.create"]["target"] == f"job:{job['id']}"
    assert by_action["job.create"]["details"] == {"name": job["name"]}
    assert by_action["job.update"]["details"] == {"name": job["name"], "fields": ["env"]}
    assert by_action["job.delete"]["target"] == f"job:{job['id']}"
    assert by_action["build.trigger"]["target"] == f"build:{build['id']}"
    assert by_action["build.trigger"]["details"]["number"] == build["number"]
    assert by_action["build.cancel"]["target"] == f"build:{build['id']}"
    assert by_action["build.cancel"]["details"]["was"] == "queued"
    assert by_action["build.retry"]["target"] == f"build:{retried.json()['id']}"
    assert by_action["build.retry"]["details"]["retry_of"] == build["id"]
    assert by_action["worker.drain"]["target"] == f"worker:{worker.id}"
    assert by_action["worker.drain"]["details"] == {"name": worker.name}
    # Values never reach the log, only which fields changed.
    assert "do-not-log-me" not in json.dumps(events)

    # Filters.
    creates = (await _audit(http, admin, action="job.create"))["items"]
    assert [e["id"] for e in creates] == [by_action["job.create"]["id"]]
    assert len((await _audit(http, admin, actor="admin"))["items"]) == len(events)
    assert (await _audit(http, admin, actor="somebody-else"))["items"] == []
    later = (utcnow() + timedelta(hours=1)).isoformat()
    assert (await _audit(http, admin, since=later))["items"] == []
    assert len((await _audit(http, admin, since=before.isoformat()))["items"]) == len(events)


async def test_a_failed_change_leaves_no_audit_event(http: httpx.AsyncClient) -> None:
    admin = await admin_headers(http)
    job = await create_job(http, admin)
    duplicate = await http.post(
        f"{API}/jobs", headers=admin, json={"name": job["name"], "pipeline": PIPELINE}
    )
    assert duplicate.status_code == 409
    finished = await http.post(f"{API}/builds/{uuid.uuid4()}/cancel", headers=admin)
    assert finished.status_code == 404
    actions = [e["action"] for e in (await _audit(http, admin))["items"]]
    assert actions == ["job.create"]


async def test_audit_pages_newest_first(http: httpx.AsyncClient) -> None:
    admin = await admin_headers(http)
    for _ in range(7):
        await create_job(http, admin)
    everything = (await _audit(http, admin))["items"]
    assert len(everything) == 7
    assert (await _audit(http, admin))["next_before_id"] is None

    pages: list[list[dict[str, Any]]] = []
    params: dict[str, Any] = {"limit": 3}
    while True:
        page = await _audit(http, admin, **params)
        pages.append(page["items"])
        if page["next_before_id"] is None:
            break
        assert page["next_before_id"] == page["items"][-1]["id"]
        params["before_id"] = page["next_before_id"]
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [e for p in pages for e in p] == everything

    for bad in ({"limit": 0}, {"limit": 501}, {"before_id": 0}, {"since": "yesterday"}):
        response = await http.get(f"{API}/audit", headers=admin, params=bad)
        assert_error(response, 422, "invalid")


async def test_only_admins_read_the_audit_log(http: httpx.AsyncClient) -> None:
    for role in (Role.VIEWER, Role.DEVELOPER):
        response = await http.get(f"{API}/audit", headers=await _user_headers(http, role))
        assert_error(response, 403, "forbidden")
    assert_error(await http.get(f"{API}/audit"), 401, "unauthorized")
    developer = await _user_headers(http, Role.DEVELOPER)
    # A developer's own actions are recorded under their name.
    await create_job(http, developer)
    events = (await _audit(http, await admin_headers(http)))["items"]
    assert events[0]["action"] == "job.create"
    assert events[0]["actor_name"].startswith("hardening-developer-")


# --- what the fuzzer found -------------------------------------------------------------------


async def test_a_nul_character_or_a_huge_number_is_422_not_500(http: httpx.AsyncClient) -> None:
    """PostgreSQL stores no NUL character and its INTEGER ends at 2**31 - 1; both reached the
    database unchecked and came back as 500s (found by tests/fuzz)."""
    admin = await admin_headers(http)
    job = await create_job(http, admin)
    build = await trigger(http, admin, job["id"])

    too_far = await http.get(
        f"{API}/builds/{build['id']}/logs", headers=admin, params={"after": 2**31}
    )
    assert_error(too_far, 422, "invalid")

    nul = await http.get(f"{API}/builds", headers=admin, params={"branch": "main\x00"})
    registered = await http.post(
        f"{API}/workers/register",
        headers=bearer(AGENT_TOKEN),
        json={"name": "a\x00b", "hostname": "h", "ip": "127.0.0.1", "capabilities": {}},
    )
    # Refused at the edge on both databases now (SQLite would store it; PostgreSQL cannot).
    assert_error(nul, 422, "invalid")
    assert_error(registered, 422, "invalid")


async def test_a_number_past_the_columns_from_a_worker_is_422_not_500(
    http: httpx.AsyncClient,
) -> None:
    """Found by tests/fuzz: a worker's heartbeat with a huge `current_builds` reached SQLite,
    whose driver cannot bind an integer past 2**63, and answered 500. Every number a worker
    sends that reaches an INTEGER column is bounded now."""
    admin = await admin_headers(http)
    worker, build = await running_build(http, admin, await create_job(http, admin))
    build_id = build["id"]
    huge = 13881429193930291401877094400
    heartbeat = await http.post(
        f"{API}/workers/{worker.id}/heartbeat",
        headers=worker.headers,
        json={"current_builds": huge},
    )
    assert_error(heartbeat, 422, "invalid")
    assert_error(await post_logs(http, worker, build_id, huge, ["x"]), 422, "invalid")
    status = await set_status(http, worker, build_id, "failure", exit_code=huge)
    assert_error(status, 422, "invalid")
    step = await http.put(
        f"{API}/builds/{build_id}/steps/build",
        headers=worker.headers,
        json={"status": "failure", "exit_code": -huge},
    )
    assert_error(step, 422, "invalid")
    # Nothing of it was taken: the build still runs.
    assert (await get_build(http, admin, build_id))["status"] == "running"


@pytest.mark.parametrize(
    "last_event_id", ["1.2147483648", "2147483648.0", "0.5", "1.-2", "1.99999999999999999999"]
)
async def test_a_log_stream_position_out_of_range_is_422(
    http: httpx.AsyncClient, last_event_id: str
) -> None:
    """Found in review: a Last-Event-ID past the INTEGER columns reached the query after the
    stream had begun, and broke it with a trace in the log."""
    admin = await admin_headers(http)
    job = await create_job(http, admin)
    build = await trigger(http, admin, job["id"])
    response = await http.get(
        f"{API}/builds/{build['id']}/logs/stream",
        headers={**admin, "Last-Event-ID": last_event_id},
    )
    assert_error(response, 422, "invalid")


async def test_a_time_with_no_utc_equivalent_is_422(http: httpx.AsyncClient) -> None:
    """Found in review: 0001-01-01 east of UTC overflowed on its way to the query, a 500."""
    admin = await admin_headers(http)
    response = await http.get(
        f"{API}/audit", headers=admin, params={"since": "0001-01-01T00:00:00+01:00"}
    )
    assert_error(response, 422, "invalid")
    naive = await http.get(f"{API}/audit", headers=admin, params={"since": "2026-01-01T00:00"})
    assert naive.status_code == 200, naive.text


def test_a_real_server_refuses_large_bodies_and_keeps_serving(
    database_url: str, tmp_path: Path, log_dir: Path
) -> None:
    """The same through uvicorn and a real socket: both kinds of large body are refused with
    the error shape and the headers, and the server goes on answering."""
    server = start_server(
        database_url, tmp_path / "data", log_dir, SOLVYD_MAX_REQUEST_BYTES=str(LIMIT)
    )
    try:
        admin = {"Authorization": f"Bearer {server.admin_token()}"}
        body = _job_body(LIMIT * 2)
        json_headers = {**admin, "Content-Type": "application/json"}
        with httpx.Client(base_url=server.url, timeout=10) as real:
            declared = real.post(f"{API}/jobs", headers=json_headers, content=body)
            chunks = (body[i : i + 512] for i in range(0, len(body), 512))
            chunked = real.post(f"{API}/jobs", headers=json_headers, content=chunks)
            for response in (declared, chunked):
                assert_error(response, 413, "too_large")
                _assert_security_headers(response)
            assert chunked.request.headers["transfer-encoding"] == "chunked"
            assert real.get("/healthz").status_code == 200
            assert real.get(f"{API}/jobs", headers=admin).json() == {"items": []}
    finally:
        server.process.stop()
