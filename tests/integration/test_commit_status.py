"""Commit statuses, end to end on both databases: builds driven through the real app's API
(trigger, claim, status reports as a worker) are reported to a real HTTP server on loopback
that implements each forge's status endpoint (tests/support/forge_status_server.py says where
each shape comes from) and checks the path, the auth header and the body.

Also: a 500 is retried and then sent; a 401 fails at once and the build shows the forge's
answer (never the token); a pending report is a row, so a restarted server sends it; a job
without a forge adds no rows; the forge setting is validated at the edge.

And the forge is hostile: a row whose request cannot be made, or whose answer is garbage,
fails alone; a forge that echoes the token never gets it shown or logged; one that trickles its
answer or sends an endless one cannot hold the sender; GitLab's refusal of a state its status
already has counts as sent."""

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
import structlog
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from solvyd.server.app import create_app
from solvyd.server.db.models import Build, CommitStatusReport
from solvyd.server.services.commit_statuses.sender import MAX_RESPONSE_BYTES
from solvyd.server.settings import ServerSettings
from solvyd.shared.clock import utcnow
from tests.integration.api_helpers import (
    API,
    Headers,
    admin_headers,
    assert_error,
    claim_build,
    create_job,
    get_build,
    register_worker,
    set_status,
    trigger,
    user_headers,
)
from tests.support.forge_status_server import FakeForge, forge_status_server

TOKEN = "forge-token-Zq81xWv3"
SHA = "a" * 39 + "1"
PUBLIC_URL = "https://ci.example.test"


@asynccontextmanager
async def app_client(settings: ServerSettings, **changes: Any) -> AsyncIterator[httpx.AsyncClient]:
    """The app in-process with its background loops (the sender among them)."""
    app = create_app(
        settings.model_copy(
            update={
                "public_url": PUBLIC_URL,
                "commit_status_backoff_seconds": 0.2,
                "commit_status_timeout_seconds": 5.0,
                # Far off: a status must go out on the wake-up after its commit, not a poll.
                "commit_status_poll_seconds": 60.0,
                **changes,
            }
        )
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            http.app = app  # type: ignore[attr-defined]
            yield http


@pytest.fixture
async def fake_forge() -> AsyncIterator[FakeForge]:
    async with forge_status_server(TOKEN) as forge:
        yield forge


def _forge(kind: str, fake: FakeForge, **extra: Any) -> dict[str, Any]:
    return {"type": kind, "api_url": fake.url, "token_secret": "FORGE_TOKEN", **extra}


async def _job_with_forge(
    http: httpx.AsyncClient, admin: Headers, forge: dict[str, Any], token: str = TOKEN
) -> dict[str, Any]:
    job = await create_job(
        http, admin, scm_url="https://git.example.test/acme/widgets.git", forge=forge
    )
    response = await http.put(
        f"{API}/jobs/{job['id']}/secrets/FORGE_TOKEN", headers=admin, json={"value": token}
    )
    assert response.status_code in (200, 201), response.text
    return job


async def _run_to(
    http: httpx.AsyncClient, admin: Headers, job: dict[str, Any], final: str, **trig: Any
) -> dict[str, Any]:
    """Trigger a build of `job`, claim it, report it running then `final`, as a worker."""
    worker = await register_worker(http)
    build = await trigger(http, admin, job["id"], **trig)
    assert (await claim_build(http, worker))["build_id"] == build["id"]
    assert (await set_status(http, worker, build["id"], "running")).status_code == 200
    response = await set_status(http, worker, build["id"], final, exit_code=0)
    assert response.status_code == 200, response.text
    return build


async def _reports(http: httpx.AsyncClient) -> list[CommitStatusReport]:
    ctx = http.app.state.ctx  # type: ignore[attr-defined]
    async with ctx.db.transaction() as session:
        return list(await session.scalars(sa.select(CommitStatusReport)))


async def _settled(http: httpx.AsyncClient, admin: Headers, build_id: str) -> dict[str, Any]:
    """The build once its report is no longer pending (bounded)."""
    deadline = utcnow() + timedelta(seconds=15)
    while True:
        build = await get_build(http, admin, build_id)
        reports = build["status_reports"]
        if reports and all(report["status"] != "pending" for report in reports):
            return build
        assert utcnow() < deadline, build
        await asyncio.sleep(0.05)


EXPECTED = {
    # forge: (path of the request for acme/widgets, auth header, name field, final state)
    "github": (f"/repos/acme/widgets/statuses/{SHA}", ("authorization", f"Bearer {TOKEN}")),
    "gitlab": (
        f"/api/v4/projects/acme%2Fwidgets/statuses/{SHA}",
        ("private-token", TOKEN),
    ),
    "gitea": (f"/api/v1/repos/acme/widgets/statuses/{SHA}", ("authorization", f"token {TOKEN}")),
    "bitbucket": (
        f"/2.0/repositories/acme/widgets/commit/{SHA}/statuses/build",
        ("authorization", f"Bearer {TOKEN}"),
    ),
}
FINAL_STATE = {
    "github": "success",
    "gitlab": "success",
    "gitea": "success",
    "bitbucket": "SUCCESSFUL",
}


@pytest.mark.parametrize("kind", ["github", "gitlab", "gitea", "bitbucket"])
async def test_each_forge_gets_its_request(
    settings: ServerSettings, fake_forge: FakeForge, kind: str
) -> None:
    async with app_client(settings) as http:
        admin = await admin_headers(http)
        job = await _job_with_forge(http, admin, _forge(kind, fake_forge))
        build = await _run_to(http, admin, job, "success", commit_sha=SHA)
        settled = await _settled(http, admin, build["id"])
    path, (header, value) = EXPECTED[kind]
    assert fake_forge.received, "no request reached the forge"
    for request in fake_forge.received:
        assert request.forge == kind
        assert request.raw_path == path
        assert request.headers[header] == value
    last = fake_forge.received[-1].body
    context = f"solvyd/{job['name']}"
    assert last["state"] == FINAL_STATE[kind]
    assert last["description"] == f"Build #{build['number']} passed"
    link = f"{PUBLIC_URL}/builds/{build['id']}"
    if kind == "bitbucket":
        assert last["key"] == context[:40] or len(last["key"]) == 40
        assert last["name"] == context
        assert last["url"] == link
    else:
        assert last[{"gitlab": "name"}.get(kind, "context")] == context
        assert last["target_url"] == link
    # Coalesced or not, never an earlier state after the last one.
    assert fake_forge.states().count(FINAL_STATE[kind]) == 1
    [report] = settled["status_reports"]
    assert report["status"] == "sent"
    assert report["state"] == "success"
    assert report["context"] == context
    assert report["forge"] == kind
    assert report["response_status"] == 201
    assert report["last_error"] is None


async def test_newer_states_wait_for_the_one_in_flight_and_replace_unsent_ones(
    settings: ServerSettings, fake_forge: FakeForge
) -> None:
    """While the forge takes its time over `pending`, the build runs and passes: `running` is
    never sent (`success` replaced it unsent), and `success` goes out after `pending` has
    been answered, so the forge's last word is `success`."""
    fake_forge.hold_first = asyncio.Event()
    async with app_client(settings) as http:
        admin = await admin_headers(http)
        job = await _job_with_forge(http, admin, _forge("github", fake_forge))
        worker = await register_worker(http)
        build = await trigger(http, admin, job["id"], commit_sha=SHA)
        await fake_forge.wait_for(1)
        assert (await claim_build(http, worker))["build_id"] == build["id"]
        assert (await set_status(http, worker, build["id"], "running")).status_code == 200
        response = await set_status(http, worker, build["id"], "success", exit_code=0)
        assert response.status_code == 200, response.text
        await asyncio.sleep(0.3)
        assert len(fake_forge.received) == 1  # nothing overtakes the request in flight
        fake_forge.hold_first.set()
        await fake_forge.wait_for(2)
        settled = await _settled(http, admin, build["id"])
    assert fake_forge.states() == ["pending", "success"]
    [report] = settled["status_reports"]
    assert (report["state"], report["status"], report["attempts"]) == ("success", "sent", 1)


async def test_a_server_error_is_retried_and_then_sent(
    settings: ServerSettings, fake_forge: FakeForge
) -> None:
    fake_forge.scripted = [(500, {"message": "Server Error"})]
    async with app_client(settings) as http:
        admin = await admin_headers(http)
        job = await _job_with_forge(http, admin, _forge("github", fake_forge))
        build = await trigger(http, admin, job["id"], commit_sha=SHA)
        settled = await _settled(http, admin, build["id"])
    [report] = settled["status_reports"]
    assert report["status"] == "sent"
    assert report["state"] == "queued"
    assert report["attempts"] == 2
    assert report["response_status"] == 201
    assert [r.body["state"] for r in fake_forge.received] == ["pending", "pending"]


async def test_a_refused_token_fails_at_once_and_the_build_shows_the_answer(
    settings: ServerSettings, fake_forge: FakeForge
) -> None:
    async with app_client(settings) as http:
        admin = await admin_headers(http)
        job = await _job_with_forge(
            http, admin, _forge("github", fake_forge), token="not-the-token-9"
        )
        build = await trigger(http, admin, job["id"], commit_sha=SHA)
        settled = await _settled(http, admin, build["id"])
        listed = await http.get(f"{API}/builds", headers=admin, params={"job_id": job["id"]})
    [report] = settled["status_reports"]
    assert report["status"] == "failed"
    assert report["attempts"] == 1
    assert report["response_status"] == 401
    assert "Bad credentials" in report["response_body"]
    assert "401" in report["last_error"]
    assert len(fake_forge.received) == 1
    assert "not-the-token-9" not in str(settled)
    assert listed.json()["items"][0]["status_reports"][0]["status"] == "failed"
    assert "not-the-token-9" not in listed.text


async def test_a_developer_cannot_send_a_protected_secret_to_a_forge(
    settings: ServerSettings, fake_forge: FakeForge
) -> None:
    """The job's author picks the forge's URL: a protected secret goes to a forge only for a
    job an admin changed last, as it goes only to such builds."""
    async with app_client(settings) as http:
        admin = await admin_headers(http)
        response = await http.put(
            f"{API}/secrets/DEPLOY_TOKEN",
            headers=admin,
            json={"value": TOKEN, "protected_branches": ["main"]},
        )
        assert response.status_code in (200, 201), response.text
        developer = await user_headers(http, admin, "developer")
        forge = {**_forge("github", fake_forge), "token_secret": "DEPLOY_TOKEN"}
        job = await create_job(
            http, developer, scm_url="https://h.example/acme/widgets.git", forge=forge
        )
        build = await trigger(http, developer, job["id"], commit_sha=SHA, branch="main")
        settled = await _settled(http, admin, build["id"])
    [report] = settled["status_reports"]
    assert report["status"] == "failed"
    assert "protected" in report["last_error"]
    assert report["response_status"] is None
    assert fake_forge.received == []


async def test_a_pending_report_is_sent_by_the_next_server(
    settings: ServerSettings, fake_forge: FakeForge
) -> None:
    """The forge is down while the first server runs (its retry is an hour away); the server
    stops; once the retry falls due, the next server sends the row: reports are rows."""
    fake_forge.scripted = [(503, {"message": "Service Unavailable"})]
    async with app_client(settings, commit_status_backoff_seconds=3600.0) as http:
        admin = await admin_headers(http)
        job = await _job_with_forge(http, admin, _forge("gitlab", fake_forge))
        build = await trigger(http, admin, job["id"], commit_sha=SHA)
        await fake_forge.wait_for(1)
        ctx = http.app.state.ctx  # type: ignore[attr-defined]
        for _ in range(100):
            [row] = await _reports(http)
            if row.attempts == 1:
                break
            await asyncio.sleep(0.02)
        assert row.status == "pending"
        assert row.response_status == 503
    # The hour passes.
    db_url = ctx.settings.resolved_database_url()
    async with app_client(settings.model_copy(update={"database_url": db_url})) as http:
        ctx = http.app.state.ctx  # type: ignore[attr-defined]
        async with ctx.db.transaction() as session:
            await session.execute(sa.update(CommitStatusReport).values(next_attempt_at=utcnow()))
        ctx.events.wake("commit-statuses")
        admin = await admin_headers(http)
        settled = await _settled(http, admin, build["id"])
    [report] = settled["status_reports"]
    assert report["status"] == "sent"
    assert report["attempts"] == 2
    assert fake_forge.states() == ["pending", "pending"]


# SQLite serves one server process: only the postgresql variant of the shared fixture.
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_two_servers_send_each_report_once(
    settings: ServerSettings, fake_forge: FakeForge
) -> None:
    """Two server processes on one PostgreSQL database, both polling hard: each report is
    claimed by one of them (SKIP LOCKED and the lease), so the forge gets it once."""
    fast = {"commit_status_poll_seconds": 0.02}
    async with app_client(settings, **fast) as first, app_client(settings, **fast) as second:
        admin = await admin_headers(first)
        job = await _job_with_forge(first, admin, _forge("gitlab", fake_forge))
        builds = [await trigger(first, admin, job["id"], commit_sha=SHA) for _ in range(8)]
        for build in builds:
            await _settled(second, admin, build["id"])
    assert len(fake_forge.received) == 8
    assert fake_forge.states() == ["pending"] * 8


async def test_a_build_without_a_sha_is_reported_once_the_agent_resolves_it(
    settings: ServerSettings, fake_forge: FakeForge
) -> None:
    async with app_client(settings) as http:
        admin = await admin_headers(http)
        job = await _job_with_forge(http, admin, _forge("gitea", fake_forge))
        worker = await register_worker(http)
        build = await trigger(http, admin, job["id"])
        assert (await claim_build(http, worker))["build_id"] == build["id"]
        assert await _reports(http) == []
        response = await set_status(http, worker, build["id"], "running", commit_sha=SHA)
        assert response.status_code == 200, response.text
        settled = await _settled(http, admin, build["id"])
    assert settled["status_reports"][0]["state"] == "running"
    assert fake_forge.received[0].raw_path == EXPECTED["gitea"][0]


async def test_a_job_without_a_forge_adds_no_rows(settings: ServerSettings) -> None:
    async with app_client(settings) as http:
        admin = await admin_headers(http)
        job = await create_job(http, admin)
        build = await _run_to(http, admin, job, "failure", commit_sha=SHA)
        assert await _reports(http) == []
        assert (await get_build(http, admin, build["id"]))["status_reports"] == []
        ctx = http.app.state.ctx  # type: ignore[attr-defined]
        async with ctx.db.transaction() as session:
            row = await session.get(Build, uuid.UUID(build["id"]))
            assert row is not None and row.reports_status is False


@pytest.mark.parametrize(
    ("forge", "words"),
    [
        ({"type": "sourcehut", "token_secret": "T"}, "type"),
        ({"type": "github", "api_url": "ftp://x.example", "token_secret": "T"}, "http"),
        ({"type": "github", "token_secret": "  "}, "token_secret"),
        ({"type": "gitea", "token_secret": "T"}, "api_url"),
        ({"type": "github", "repository": "a/b/c", "token_secret": "T"}, "owner/repo"),
        ({"type": "github", "token_secret": "T", "extra": 1}, "extra"),
    ],
)
async def test_a_bad_forge_is_refused_with_a_clear_message(
    client: httpx.AsyncClient, forge: dict[str, Any], words: str
) -> None:
    admin = await admin_headers(client)
    response = await client.post(
        f"{API}/jobs",
        headers=admin,
        json={"name": "forge-job", "scm_url": "https://h.example/a/b.git", "forge": forge},
    )
    assert words in assert_error(response, 422).lower() + response.text.lower()
    assert (await client.get(f"{API}/jobs", headers=admin)).json()["items"] == []


async def test_a_forge_needs_a_repository(client: httpx.AsyncClient) -> None:
    admin = await admin_headers(client)
    forge = {"type": "github", "token_secret": "T"}
    response = await client.post(
        f"{API}/jobs",
        headers=admin,
        json={"name": "no-repo", "pipeline": "steps: [{name: a, commands: [x]}]", "forge": forge},
    )
    assert "repository" in assert_error(response, 422)
    job = await create_job(client, admin, scm_url="git@gitlab.example:grp/sub/proj.git")
    response = await client.patch(
        f"{API}/jobs/{job['id']}", headers=admin, json={"forge": {**forge, "type": "gitlab"}}
    )
    assert response.status_code == 200, response.text
    assert response.json()["forge"] == {
        "type": "gitlab",
        "api_url": None,
        "repository": None,
        "token_secret": "T",
    }
    response = await client.patch(f"{API}/jobs/{job['id']}", headers=admin, json={"forge": forge})
    assert "owner/repo" in assert_error(response, 422)
    response = await client.patch(f"{API}/jobs/{job['id']}", headers=admin, json={"forge": None})
    assert response.json()["forge"] is None


@asynccontextmanager
async def other_forge(answer: Any) -> AsyncIterator[FakeForge]:
    """A second fake forge whose every answer is `answer(forge, request)`."""
    async with forge_status_server(TOKEN) as forge:
        forge.answer = answer
        yield forge


def _trickle(status_code: int) -> Any:
    """An answer that never ends: a byte every 0.1 s (each read is quick; the whole is not)."""

    def answer(forge: str, request: Request) -> Response:
        async def body() -> AsyncIterator[bytes]:
            while True:
                yield b" "
                await asyncio.sleep(0.1)

        return StreamingResponse(body(), status_code=status_code, media_type="application/json")

    return answer


def _endless(status_code: int) -> Any:
    """An answer that never ends, as fast as the connection takes it."""

    def answer(forge: str, request: Request) -> Response:
        async def body() -> AsyncIterator[bytes]:
            chunk = b'{"message": "' + b"y" * 65536
            while True:
                yield chunk
                await asyncio.sleep(0)

        return StreamingResponse(body(), status_code=status_code, media_type="application/json")

    return answer


async def _first_attempt(http: httpx.AsyncClient, build_id: str) -> CommitStatusReport:
    """The build's report once its first attempt is recorded (bounded)."""
    deadline = utcnow() + timedelta(seconds=15)
    while True:
        rows = [row for row in await _reports(http) if str(row.build_id) == build_id]
        if rows and rows[0].attempts >= 1:
            return rows[0]
        assert utcnow() < deadline, rows
        await asyncio.sleep(0.05)


async def test_a_row_that_cannot_be_sent_fails_alone(
    settings: ServerSettings, fake_forge: FakeForge
) -> None:
    """One claim takes five rows: one sends fine; one's api_url passed the edge but httpx
    refuses it (a port that is no number: InvalidURL); one's token cannot be a header value
    (non-ASCII); one's forge answers with NUL and bytes that are not UTF-8 (which PostgreSQL's
    text refuses); one's answers in gzip, unasked, and not even valid gzip (which would not
    decode). Each gets its own outcome; later rows still go out."""

    def garbage(forge: str, request: Request) -> Response:
        return Response(b'{"message": "no\x00pe \xff\xfe"}', 422, media_type="application/json")

    def bad_gzip(forge: str, request: Request) -> Response:
        headers = {"Content-Encoding": "gzip"}
        return Response(b"\x1f\x8bnot gzip", 422, headers=headers, media_type="application/json")

    fake_forge.hold_first = asyncio.Event()
    async with (
        other_forge(garbage) as broken,
        other_forge(bad_gzip) as gzipped,
        app_client(settings) as http,
    ):
        admin = await admin_headers(http)
        first = await _job_with_forge(http, admin, _forge("github", fake_forge))
        good = await _job_with_forge(http, admin, _forge("gitea", fake_forge))
        bad_token = await _job_with_forge(
            http, admin, _forge("github", fake_forge), token="t\u00f6ken-Zq81xWv3"
        )
        garbled = await _job_with_forge(http, admin, _forge("gitlab", broken))
        bad_url = await _job_with_forge(
            http, admin, {**_forge("github", fake_forge), "api_url": "http://127.0.0.1:x"}
        )
        compressed = await _job_with_forge(http, admin, _forge("gitea", gzipped))
        held = await trigger(http, admin, first["id"], commit_sha=SHA)
        await fake_forge.wait_for(1)
        # While the sender waits on the first forge, the others fall due: one claim takes them.
        builds = [
            await trigger(http, admin, job["id"], commit_sha=SHA)
            for job in (good, bad_token, garbled, bad_url, compressed)
        ]
        fake_forge.hold_first.set()
        good_build, bad_build, garbled_build, bad_url_build, compressed_build = [
            await _settled(http, admin, build["id"]) for build in builds
        ]
        later = await trigger(http, admin, good["id"], commit_sha=SHA)
        later_build = await _settled(http, admin, later["id"])
        assert (await _settled(http, admin, held["id"]))["status_reports"][0]["status"] == "sent"
    [report] = good_build["status_reports"]
    assert (report["status"], report["attempts"]) == ("sent", 1)
    [report] = bad_build["status_reports"]
    assert (report["status"], report["attempts"]) == ("failed", 1)
    assert "cannot carry" in report["last_error"]
    assert report["response_status"] is None
    assert "Zq81xWv3" not in str(bad_build)
    [report] = bad_url_build["status_reports"]
    assert (report["status"], report["attempts"]) == ("failed", 1)
    assert "InvalidURL" in report["last_error"]
    [report] = garbled_build["status_reports"]
    assert (report["status"], report["response_status"]) == ("failed", 422)
    assert report["response_body"] == '{"message": "nope \ufffd\ufffd"}'
    [report] = compressed_build["status_reports"]
    assert (report["status"], report["response_status"]) == ("failed", 422)
    assert report["response_body"] == "(a compressed answer, not shown)"
    assert later_build["status_reports"][0]["status"] == "sent"


@pytest.fixture
def captured_logs(caplog: pytest.LogCaptureFixture) -> Iterator[list[dict[str, Any]]]:
    """What the server logged: structlog's events, and (in caplog) the standard library's,
    httpx's and httpcore's own debug lines among them."""
    caplog.set_level(logging.DEBUG)
    with structlog.testing.capture_logs() as events:
        yield events


async def test_a_forge_that_echoes_the_token_never_gets_it_shown(
    settings: ServerSettings,
    caplog: pytest.LogCaptureFixture,
    captured_logs: list[dict[str, Any]],
) -> None:
    """The forge answers 401 and echoes the Authorization header it got, again and again, so
    that one copy straddles where the kept answer is cut; another job's token has a line break
    inside, which no header can carry (httpx would refuse it naming the value). Neither token
    shows in the stored report, the API's answers or the logs (the server's, httpx's and
    httpcore's own, at debug level)."""
    token = "s3cr3t-Tk9wQ2vL7pX"

    def echo(forge: str, request: Request) -> Response:
        said = request.headers["authorization"]
        # Every offset around the cut gets a copy of the token.
        text = "".join(f"{i:04d} {said} " for i in range(1000))
        return JSONResponse({"message": "Bad credentials", "you_sent": text}, status_code=401)

    newline_token = "line-Rq5tY8\nbreak-Hs2Kd4"
    async with other_forge(echo) as echoing, app_client(settings) as http:
        admin = await admin_headers(http)
        echoed_job = await _job_with_forge(
            http, admin, _forge("github", echoing), token=f" {token}\n"
        )
        broken_job = await _job_with_forge(
            http, admin, _forge("gitea", echoing), token=newline_token
        )
        echoed = await _settled(
            http, admin, (await trigger(http, admin, echoed_job["id"], commit_sha=SHA))["id"]
        )
        broken = await _settled(
            http, admin, (await trigger(http, admin, broken_job["id"], commit_sha=SHA))["id"]
        )
        listed = await http.get(f"{API}/builds", headers=admin)
    # The stripped token went out (a pasted line end is no part of it), and came back.
    assert echoing.received[0].headers["authorization"] == f"Bearer {token}"
    [report] = echoed["status_reports"]
    assert (report["status"], report["response_status"]) == ("failed", 401)
    assert "Bearer ***" in report["response_body"]
    assert len(report["response_body"]) <= MAX_RESPONSE_BYTES
    [report] = broken["status_reports"]
    assert report["status"] == "failed"
    assert "cannot carry" in report["last_error"]
    assert len(echoing.received) == 1  # the second request never left
    seen = [str(echoed), str(broken), listed.text, str(captured_logs), caplog.text]
    for secret in (token, *newline_token.split("\n")):
        pieces = {secret[i : i + 6] for i in range(len(secret) - 5)}
        leaked = [piece for piece in pieces for text in seen if piece in text]
        assert leaked == [], leaked


async def test_a_forge_that_trickles_its_answer_cannot_hold_the_sender(
    settings: ServerSettings,
) -> None:
    """A 502 whose body comes a byte at a time for ever: each read is quick, so only a bound
    on the whole call ends it, and the report is retried. A 201 that does the same is sent:
    its body is not read."""
    async with (
        other_forge(_trickle(502)) as failing,
        other_forge(_trickle(201)) as passing,
        app_client(settings, commit_status_timeout_seconds=1.0) as http,
    ):
        admin = await admin_headers(http)
        slow = await _job_with_forge(http, admin, _forge("github", failing))
        fine = await _job_with_forge(http, admin, _forge("github", passing))
        slow_build = await trigger(http, admin, slow["id"], commit_sha=SHA)
        row = await _first_attempt(http, slow_build["id"])
        fine_build = await trigger(http, admin, fine["id"], commit_sha=SHA)
        settled = await _settled(http, admin, fine_build["id"])
    assert (row.status, row.last_error) == ("pending", "the forge did not answer in time")
    assert row.next_attempt_at is not None
    [report] = settled["status_reports"]
    assert (report["status"], report["response_status"]) == ("sent", 201)
    assert report["response_body"] is None


async def test_an_endless_answer_is_read_only_as_far_as_it_is_kept(
    settings: ServerSettings,
) -> None:
    async with (
        other_forge(_endless(422)) as refusing,
        other_forge(_endless(201)) as accepting,
        app_client(settings) as http,
    ):
        admin = await admin_headers(http)
        refused_job = await _job_with_forge(http, admin, _forge("gitea", refusing))
        accepted_job = await _job_with_forge(http, admin, _forge("gitea", accepting))
        refused = await trigger(http, admin, refused_job["id"], commit_sha=SHA)
        accepted = await trigger(http, admin, accepted_job["id"], commit_sha=SHA)
        refused_build = await _settled(http, admin, refused["id"])
        accepted_build = await _settled(http, admin, accepted["id"])
    [report] = refused_build["status_reports"]
    assert (report["status"], report["response_status"]) == ("failed", 422)
    assert report["response_body"].startswith('{"message": "yyy')
    assert len(report["response_body"]) <= MAX_RESPONSE_BYTES
    [report] = accepted_build["status_reports"]
    assert (report["status"], report["response_status"]) == ("sent", 201)


async def test_triggering_reads_and_locks_no_status_rows(settings: ServerSettings) -> None:
    """A new build has no earlier report: the trigger's transaction only inserts its row (no
    SELECT, so no FOR UPDATE either), while a later state change still finds and updates it.
    The sender runs meanwhile on other connections: statements are grouped by transaction."""
    async with app_client(settings) as http, forge_status_server(TOKEN) as forge:
        admin = await admin_headers(http)
        job = await _job_with_forge(http, admin, _forge("github", forge))
        engine = http.app.state.ctx.db.engine.sync_engine  # type: ignore[attr-defined]
        # (connection, statement), or (connection, None) where its transaction ended.
        executed: list[tuple[Any, str | None]] = []

        def statement(conn: Any, cursor: Any, text: str, *args: Any) -> None:
            executed.append((conn, " ".join(text.split()).upper()))

        def ended(conn: Any) -> None:
            executed.append((conn, None))

        sa.event.listen(engine, "before_cursor_execute", statement)
        sa.event.listen(engine, "commit", ended)
        sa.event.listen(engine, "rollback", ended)
        try:
            build = await trigger(http, admin, job["id"], commit_sha=SHA)
            worker = await register_worker(http)
            await claim_build(http, worker)
            await set_status(http, worker, build["id"], "running")
        finally:
            for name, listener in (
                ("before_cursor_execute", statement),
                ("commit", ended),
                ("rollback", ended),
            ):
                sa.event.remove(engine, name, listener)
        settled = await _settled(http, admin, build["id"])
    transactions: list[list[str]] = []
    open_ones: dict[int, list[str]] = {}
    for conn, text in executed:
        if text is None:
            transactions.append(open_ones.pop(id(conn), []))
        else:
            open_ones.setdefault(id(conn), []).append(text)
    touching = [
        [text for text in transaction if "COMMIT_STATUS_REPORTS" in text]
        for transaction in transactions
    ]
    [on_trigger] = [
        t for t in touching if any(s.startswith("INSERT INTO COMMIT_STATUS") for s in t)
    ]
    assert len(on_trigger) == 1, on_trigger
    # The `running` report found the row by its build and updated it.
    assert any(
        any(s.startswith("SELECT") and "BUILD_ID = " in s for s in t)
        and any(s.startswith("UPDATE COMMIT_STATUS_REPORTS SET STATE=") for s in t)
        for t in touching
    )
    assert settled["status_reports"][0]["state"] == "running"


async def test_gitlab_refusing_a_state_it_already_shows_counts_as_sent(
    settings: ServerSettings, fake_forge: FakeForge
) -> None:
    """GitLab records `pending` but its answer is late: Solvyd gives up waiting and sends
    `pending` again, which GitLab refuses with 400 "Cannot transition status via :enqueue
    from :pending" (the fake answers as GitLab does, see forge_status_server.py). The commit
    shows what was meant: the report is sent, with no error."""
    fake_forge.hold_first = asyncio.Event()
    try:
        async with app_client(settings, commit_status_timeout_seconds=1.0) as http:
            admin = await admin_headers(http)
            job = await _job_with_forge(http, admin, _forge("gitlab", fake_forge))
            build = await trigger(http, admin, job["id"], commit_sha=SHA)
            settled = await _settled(http, admin, build["id"])
    finally:
        fake_forge.hold_first.set()
    [report] = settled["status_reports"]
    assert (report["status"], report["attempts"], report["last_error"]) == ("sent", 2, None)
    assert report["response_status"] == 400
    assert "Cannot transition status via :enqueue from :pending" in report["response_body"]
    assert fake_forge.states() == ["pending", "pending"]
