"""Notifications, end to end on both databases: builds driven through the real app's API
(trigger, claim, step and build reports as a worker) are told to real HTTP receivers on
loopback (tests/support/notify_receivers.py: a webhook receiver that checks the documented
event and its signature, a Slack incoming webhook that checks the message as Slack documents
it), through the rows the build's transaction recorded and the server's own sender loop.

Also: retries (a 500 then success, a 429, a timeout) and a 400 that fails at once; "fixed";
the `branches` filter; `started`; a pending delivery survives a restart; two servers on one
PostgreSQL send each delivery once; bad rules are 422 with nothing saved; the test endpoint."""

import asyncio
import hashlib
import hmac
import logging
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from solvyd.server.db.models import Job, NotificationDelivery
from solvyd.server.plugins import server_plugins
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
from tests.integration.notify_helpers import (
    DEPLOY_TOKEN,
    PUBLIC_URL,
    app_client,
    delivery_rows,
    run_build,
    set_secret,
    settled,
)
from tests.support.notify_receivers import Receiver, notification_receiver
from tests.support.plugin_dists import install_plugin

SIGNING_SECRET = "whsec-Qm4r9Tz2Lp7Xv"


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with notification_receiver(SIGNING_SECRET) as receiver:
        yield receiver


async def _job(
    http: httpx.AsyncClient, admin: Headers, rules: list[dict[str, Any]]
) -> dict[str, Any]:
    """A job with `rules`, its signing secret and the deploy token set (rules set by PATCH,
    once the secrets they name exist)."""
    job = await create_job(http, admin, branch="main")
    await set_secret(http, admin, job["id"], "SIGNING", SIGNING_SECRET)
    await set_secret(http, admin, job["id"], "DEPLOY_TOKEN", DEPLOY_TOKEN)
    response = await http.patch(
        f"{API}/jobs/{job['id']}", headers=admin, json={"notifications": rules}
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def _webhook(receiver: Receiver, **rule: Any) -> dict[str, Any]:
    return {
        "type": "webhook",
        "url": f"{receiver.url}/hook/ci",
        "signing_secret": "SIGNING",
        **rule,
    }


async def test_a_failed_build_is_posted_signed_with_its_last_lines_masked(
    settings: ServerSettings, receiver: Receiver
) -> None:
    async with app_client(settings) as http:
        admin = await admin_headers(http)
        job = await _job(http, admin, [_webhook(receiver)])
        assert job["notifications"] == [
            {**_webhook(receiver), "on": ["failure", "fixed"], "branches": []}
        ]
        build = await run_build(http, admin, job, "failure")
        [note] = await settled(http, admin, build["id"])
    assert receiver.problems == []
    [request] = receiver.received
    body = request.body
    assert body["event"] == "build.finished"
    assert body["job"] == {"id": job["id"], "name": job["name"]}
    assert body["delivery_id"] == note["id"] == request.headers["x-solvyd-delivery"]
    facts = body["build"]
    assert facts["id"] == build["id"]
    assert facts["number"] == build["number"]
    assert (facts["status"], facts["outcome"], facts["branch"]) == ("failure", "failure", "main")
    assert facts["url"] == f"{PUBLIC_URL}/builds/{build['id']}"
    assert facts["failed_step"] == "build"
    tail = facts["log_tail"]
    assert len(tail) == 30
    assert tail[-1] == "boom: tests failed"
    assert tail[0] == "line 12"
    assert DEPLOY_TOKEN not in request.raw.decode()
    assert any("using " in line and "***" in line for line in tail)
    assert note == {
        **note,
        "rule": 0,
        "type": "webhook",
        "target": f"webhook {receiver.url}/hook/ci",
        "event": "build.finished",
        "outcome": "failure",
        "status": "sent",
        "attempts": 1,
        "last_error": None,
    }
    # The receiver's check, as docs/notifications.md shows it.
    timestamp = request.headers["x-solvyd-timestamp"]
    mac = hmac.new(SIGNING_SECRET.encode(), f"{timestamp}.".encode() + request.raw, hashlib.sha256)
    assert request.headers["x-solvyd-signature-256"] == f"sha256={mac.hexdigest()}"


async def test_a_success_tells_no_rule_that_asks_for_failures(
    settings: ServerSettings, receiver: Receiver
) -> None:
    async with app_client(settings) as http:
        admin = await admin_headers(http)
        job = await _job(http, admin, [_webhook(receiver)])
        build = await run_build(http, admin, job, "success")
        assert (await get_build(http, admin, build["id"]))["notifications"] == []
        assert await delivery_rows(http) == []
    assert receiver.received == []


async def test_fixed_is_a_success_after_a_failure_of_the_same_branch(
    settings: ServerSettings, receiver: Receiver
) -> None:
    async with app_client(settings) as http:
        admin = await admin_headers(http)
        job = await _job(http, admin, [_webhook(receiver, on=["fixed"])])
        await run_build(http, admin, job, "failure")
        # Another branch's success fixes nothing on main.
        await run_build(http, admin, job, "success", branch="other")
        fixed = await run_build(http, admin, job, "success")
        [note] = await settled(http, admin, fixed["id"])
        again = await run_build(http, admin, job, "success")
        await asyncio.sleep(0.3)
        assert (await get_build(http, admin, again["id"]))["notifications"] == []
    assert note["outcome"] == "fixed"
    assert [body["build"]["outcome"] for body in receiver.bodies()] == ["fixed"]
    assert receiver.bodies()[0]["build"]["number"] == fixed["number"]


async def test_an_error_counts_as_a_failure_and_branches_filter(
    settings: ServerSettings, receiver: Receiver
) -> None:
    async with app_client(settings) as http:
        admin = await admin_headers(http)
        job = await _job(http, admin, [_webhook(receiver, on=["failure"], branches=["release/*"])])
        await run_build(http, admin, job, "failure")  # main: filtered out
        build = await run_build(http, admin, job, "error", branch="release/1.2")
        [note] = await settled(http, admin, build["id"])
    assert note["outcome"] == "error"
    [body] = receiver.bodies()
    assert (body["build"]["branch"], body["build"]["status"]) == ("release/1.2", "error")


async def test_started_is_told_when_the_build_runs(
    settings: ServerSettings, receiver: Receiver
) -> None:
    async with app_client(settings) as http:
        admin = await admin_headers(http)
        job = await _job(http, admin, [_webhook(receiver, on=["started", "always"])])
        build = await run_build(http, admin, job, "success")
        notes = await settled(http, admin, build["id"], count=2)
    assert sorted((n["event"], n["outcome"]) for n in notes) == [
        ("build.finished", "success"),
        ("build.started", "started"),
    ]
    started = next(b for b in receiver.bodies() if b["event"] == "build.started")
    # Told as a start, however late it went out.
    assert started["build"]["status"] == "running"
    assert started["build"]["completed_at"] is None
    assert receiver.problems == []


@pytest.mark.parametrize("scripted", [[500], [429], ["hang"]])
async def test_a_retryable_failure_is_retried_and_then_sent(
    settings: ServerSettings, receiver: Receiver, scripted: list[int | str]
) -> None:
    receiver.scripted = list(scripted)
    async with app_client(settings, notification_timeout_seconds=0.5) as http:
        admin = await admin_headers(http)
        job = await _job(http, admin, [_webhook(receiver)])
        build = await run_build(http, admin, job, "failure")
        [note] = await settled(http, admin, build["id"])
    assert (note["status"], note["attempts"]) == ("sent", 2)
    # Sent: the error of the attempt before is no longer the delivery's.
    assert note["last_error"] is None
    # Both attempts were the same delivery: a receiver deduplicates on its id.
    ids = {item.headers["x-solvyd-delivery"] for item in receiver.received}
    assert ids == {note["id"]}
    assert len(receiver.received) == 2


async def test_a_client_error_fails_at_once_and_the_build_shows_why(
    settings: ServerSettings, receiver: Receiver
) -> None:
    receiver.scripted = [400]
    async with app_client(settings) as http:
        admin = await admin_headers(http)
        job = await _job(http, admin, [_webhook(receiver)])
        build = await run_build(http, admin, job, "failure")
        [note] = await settled(http, admin, build["id"])
    assert (note["status"], note["attempts"]) == ("failed", 1)
    assert note["last_error"] == "the webhook answered HTTP 400: scripted 400"
    assert len(receiver.received) == 1


async def test_retries_end_after_the_window(settings: ServerSettings, receiver: Receiver) -> None:
    receiver.scripted = [503] * 50
    async with app_client(settings, notification_retry_seconds=1.0) as http:
        admin = await admin_headers(http)
        job = await _job(http, admin, [_webhook(receiver)])
        build = await run_build(http, admin, job, "failure")
        [note] = await settled(http, admin, build["id"])
    assert note["status"] == "failed"
    assert note["attempts"] >= 2
    assert note["last_error"].startswith("the webhook answered HTTP 503")


async def test_a_missing_signing_secret_fails_with_a_clear_error(
    settings: ServerSettings, receiver: Receiver
) -> None:
    async with app_client(settings) as http:
        admin = await admin_headers(http)
        job = await _job(http, admin, [_webhook(receiver)])
        response = await http.delete(f"{API}/jobs/{job['id']}/secrets/SIGNING", headers=admin)
        assert response.status_code == 204, response.text
        build = await run_build(http, admin, job, "failure")
        [note] = await settled(http, admin, build["id"])
    assert note["status"] == "failed"
    assert note["last_error"] == "the signing secret 'SIGNING' is not set on the job"
    assert receiver.received == []


async def test_a_recorded_delivery_keeps_its_rule_when_the_job_changes(
    settings: ServerSettings, receiver: Receiver
) -> None:
    """The rule is copied into the row: the receiver refuses the first attempt (503), the
    rule is removed meanwhile, and the retry still goes where the rule said."""
    receiver.scripted = [503]
    async with app_client(settings, notification_backoff_seconds=1.0) as http:
        admin = await admin_headers(http)
        job = await _job(http, admin, [_webhook(receiver)])
        build = await run_build(http, admin, job, "failure")
        await receiver.wait_for(1)
        response = await http.patch(
            f"{API}/jobs/{job['id']}", headers=admin, json={"notifications": []}
        )
        assert response.status_code == 200, response.text
        [note] = await settled(http, admin, build["id"])
    assert (note["status"], note["attempts"]) == ("sent", 2)


async def test_a_pending_delivery_is_sent_by_the_next_server(
    settings: ServerSettings, receiver: Receiver
) -> None:
    """The receiver is down while the first server runs (its retry is an hour away); the
    server stops; once the retry falls due, the next server sends the row."""
    receiver.scripted = [503]
    async with app_client(
        settings, notification_backoff_seconds=3600.0, notification_backoff_max_seconds=3600.0
    ) as http:
        admin = await admin_headers(http)
        job = await _job(http, admin, [_webhook(receiver)])
        build = await run_build(http, admin, job, "failure")
        await receiver.wait_for(1)
        for _ in range(200):
            [row] = await delivery_rows(http)
            if row.attempts == 1:
                break
            await asyncio.sleep(0.02)
        assert (row.status, row.attempts) == ("pending", 1)
        ctx = http.app.state.ctx  # type: ignore[attr-defined]
    # The hour passes.
    db_url = ctx.settings.resolved_database_url()
    async with app_client(settings.model_copy(update={"database_url": db_url})) as http:
        ctx = http.app.state.ctx  # type: ignore[attr-defined]
        async with ctx.db.transaction() as session:
            await session.execute(sa.update(NotificationDelivery).values(next_attempt_at=utcnow()))
        ctx.events.wake("notifications")
        admin = await admin_headers(http)
        [note] = await settled(http, admin, build["id"])
    assert (note["status"], note["attempts"]) == ("sent", 2)
    assert len(receiver.received) == 2


async def test_a_delivery_whose_server_died_mid_send_is_sent_once_its_lease_ends(
    settings: ServerSettings, receiver: Receiver
) -> None:
    """A row claimed by a server that never answered (its lease still set) is claimed again
    once the lease has run out."""
    async with app_client(settings) as http:
        admin = await admin_headers(http)
        job = await _job(http, admin, [{**_webhook(receiver), "on": ["started"]}])
        ctx = http.app.state.ctx  # type: ignore[attr-defined]
        receiver.scripted = ["hang"]
        receiver.hang_seconds = 2.0
        worker = await register_worker(http)
        build = await trigger(http, admin, job["id"])
        await claim_build(http, worker)
        assert (await set_status(http, worker, build["id"], "running")).status_code == 200
        await receiver.wait_for(1)
    db_url = ctx.settings.resolved_database_url()
    async with app_client(settings.model_copy(update={"database_url": db_url})) as http:
        ctx = http.app.state.ctx  # type: ignore[attr-defined]
        async with ctx.db.transaction() as session:
            [row] = list(await session.scalars(sa.select(NotificationDelivery)))
            assert row.claimed_until is not None and row.attempts == 0
            row.claimed_until = utcnow() - timedelta(seconds=1)
        ctx.events.wake("notifications")
        admin = await admin_headers(http)
        [note] = await settled(http, admin, build["id"])
    assert (note["status"], note["attempts"]) == ("sent", 1)


# SQLite serves one server process: only the postgresql variant of the shared fixture.
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_two_servers_send_each_delivery_once(
    settings: ServerSettings, receiver: Receiver
) -> None:
    """Two servers on one PostgreSQL database, both polling hard: each delivery is claimed by
    one of them (SKIP LOCKED and the lease), so the receiver gets it once."""
    fast = {"notification_poll_seconds": 0.02}
    async with app_client(settings, **fast) as first, app_client(settings, **fast) as second:
        admin = await admin_headers(first)
        job = await _job(first, admin, [_webhook(receiver, on=["always"])])
        builds = [await run_build(first, admin, job, "failure") for _ in range(6)]
        for build in builds:
            await settled(second, admin, build["id"])
    ids = [item.headers["x-solvyd-delivery"] for item in receiver.received]
    assert len(ids) == 6
    assert len(set(ids)) == 6


async def test_a_job_without_rules_records_nothing(settings: ServerSettings) -> None:
    async with app_client(settings) as http:
        admin = await admin_headers(http)
        job = await create_job(http, admin)
        assert job["notifications"] == []
        build = await run_build(http, admin, job, "failure")
        assert (await get_build(http, admin, build["id"]))["notifications"] == []
        assert await delivery_rows(http) == []


BAD_RULES: list[tuple[Any, str]] = [
    ([{"type": "pager", "url": "https://x.test"}], "rule 0, type: must be one of"),
    ([{"type": "webhook", "url": "https://x.test", "on": []}], "rule 0, on: must be a non-empty"),
    ([{"type": "webhook", "url": "https://x.test", "on": ["sometimes"]}], "rule 0, on:"),
    ([{"type": "webhook", "url": "https://x.test", "branches": "main"}], "rule 0, branches:"),
    ([{"type": "webhook", "url": "https://x.test", "branches": ["a b"]}], "rule 0, branches:"),
    ([{"type": "webhook", "url": "https://x.test", "colour": "red"}], "rule 0, colour: unknown"),
    ([{"type": "webhook", "url": "ftp://x.test"}], "rule 0, url: must be an http"),
    ([{"type": "webhook", "url": "https://u:p@x.test"}], "rule 0, url: must hold no credentials"),
    ([{"type": "webhook", "url": "https://x.test", "signing_secret": "a-b"}], "signing_secret"),
    (
        [{"type": "email", "to": ["ops@example.com"]}, {"type": "email", "to": ["a@b, c@d"]}],
        "rule 1, to: each must be a plain email address",
    ),
    ([{"type": "email", "to": [f"u{n}@example.com" for n in range(51)]}], "rule 0, to:"),
    ([{"type": "email", "to": []}], "rule 0, to:"),
    ([{"type": "slack"}], "rule 0, webhook_url_secret: must name a secret"),
    ([{"type": "webhook", "url": "https://x.test"}] * 21, "notifications"),
    (["webhook"], "notifications.0"),
]


@pytest.mark.parametrize(("rules", "message"), BAD_RULES)
async def test_a_bad_rule_is_refused_and_nothing_is_saved(
    client: httpx.AsyncClient, rules: Any, message: str
) -> None:
    admin = await admin_headers(client)
    name = f"job-{uuid.uuid4().hex[:8]}"
    response = await client.post(
        f"{API}/jobs",
        headers=admin,
        json={
            "name": name,
            "pipeline": "steps:\n  - name: a\n    commands: [x]\n",
            "notifications": rules,
        },
    )
    assert message in assert_error(response, 422, "invalid")
    listed = await client.get(f"{API}/jobs", headers=admin, params={"name": name})
    assert listed.json()["items"] == []
    job = await create_job(client, admin, description="before")
    response = await client.patch(
        f"{API}/jobs/{job['id']}",
        headers=admin,
        json={"description": "after", "notifications": rules},
    )
    assert message in assert_error(response, 422, "invalid")
    unchanged = (await client.get(f"{API}/jobs/{job['id']}", headers=admin)).json()
    assert (unchanged["description"], unchanged["notifications"]) == ("before", [])


async def test_a_rule_naming_a_missing_secret_is_refused_on_change(
    client: httpx.AsyncClient,
) -> None:
    admin = await admin_headers(client)
    job = await create_job(client, admin)
    rules = [
        {"type": "webhook", "url": "https://x.test/hook"},
        {"type": "slack", "webhook_url_secret": "SLACK_URL"},
    ]
    response = await client.patch(
        f"{API}/jobs/{job['id']}", headers=admin, json={"notifications": rules}
    )
    message = assert_error(response, 422, "invalid")
    assert "rule 1, webhook_url_secret: no secret named 'SLACK_URL'" in message
    assert (await client.get(f"{API}/jobs/{job['id']}", headers=admin)).json()[
        "notifications"
    ] == []
    await set_secret(client, admin, job["id"], "SLACK_URL", "https://hooks.slack.com/services/x")
    response = await client.patch(
        f"{API}/jobs/{job['id']}", headers=admin, json={"notifications": rules}
    )
    assert response.status_code == 200, response.text


async def test_the_test_endpoint_sends_now_and_answers_per_rule(
    settings: ServerSettings, receiver: Receiver
) -> None:
    async with app_client(settings) as http:
        admin = await admin_headers(http)
        job = await _job(
            http,
            admin,
            [_webhook(receiver), {"type": "webhook", "url": "http://127.0.0.1:9/none"}],
        )
        url = f"{API}/jobs/{job['id']}/notifications/test"
        response = await http.post(url, headers=admin, json={})
        assert response.status_code == 200, response.text
        first, second = response.json()["results"]
        # One rule only.
        response = await http.post(url, headers=admin, json={"rule": 0})
        assert [r["rule"] for r in response.json()["results"]] == [0]
        # A viewer may not; a rule that is not there is a 422.
        viewer = await user_headers(http, admin, "viewer")
        assert_error(await http.post(url, headers=viewer, json={}), 403)
        assert_error(await http.post(url, headers=admin, json={"rule": 5}), 422)
        rows = await delivery_rows(http)
        # With a build: the latest one, as it stands.
        build = await run_build(http, admin, job, "failure")
        response = await http.post(url, headers=admin, json={"rule": 0})
        assert response.json()["results"][0]["ok"] is True
        audit = await http.get(
            f"{API}/audit", headers=admin, params={"action": "job.notifications.test"}
        )
    assert (first["rule"], first["ok"], first["error"]) == (0, True, None)
    assert (second["rule"], second["ok"]) == (1, False)
    assert second["error"].startswith("the webhook could not be reached")
    assert rows == []
    body = receiver.bodies()[0]
    # The test of the latest build (its own notification went to the receiver too).
    [latest] = [
        b
        for b in receiver.bodies()
        if b["delivery_id"].startswith("test-") and b["build"]["number"] == build["number"]
    ]
    assert latest["build"]["outcome"] == "failure"
    assert latest["build"]["log_tail"][-1] == "boom: tests failed"
    # No build yet: a made-up one, plainly a test.
    assert (body["build"]["number"], body["build"]["trigger"]) == (0, "test")
    assert "test notification" in body["build"]["commit_message"]
    assert receiver.problems == []
    assert audit.status_code == 200, audit.text
    assert [item["details"]["rules"] for item in audit.json()["items"]] == [[0], [0], [0, 1]]


async def test_slack_gets_a_block_kit_message_with_every_value_escaped(
    settings: ServerSettings, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    # Every standard logger at its most talkative: httpx's would name each request's URL.
    caplog.set_level(logging.DEBUG)
    async with app_client(settings) as http:
        admin = await admin_headers(http)
        job = await create_job(http, admin, branch="main")
        slack_url = f"{receiver.url}/services/T000/B000/XXXXSECRETXXXX"
        await set_secret(http, admin, job["id"], "SLACK_URL", slack_url)
        await set_secret(http, admin, job["id"], "DEPLOY_TOKEN", DEPLOY_TOKEN)
        rules = [{"type": "slack", "webhook_url_secret": "SLACK_URL", "on": ["always"]}]
        response = await http.patch(
            f"{API}/jobs/{job['id']}", headers=admin, json={"notifications": rules}
        )
        assert response.status_code == 200, response.text
        worker = await register_worker(http)
        build = await trigger(http, admin, job["id"])
        await claim_build(http, worker)
        assert (await set_status(http, worker, build["id"], "running")).status_code == 200
        # A hostile error message: a mention and a forged link.
        response = await set_status(
            http, worker, build["id"], "error", error_message="<!channel> <http://evil|click>"
        )
        assert response.status_code == 200, response.text
        [note] = await settled(http, admin, build["id"])
        # Then Slack refuses: the error names no URL.
        receiver.scripted = [404]
        second = await run_build(http, admin, job, "failure")
        [refused] = await settled(http, admin, second["id"])
    assert receiver.problems == []
    assert (note["status"], note["target"]) == ("sent", "Slack (secret SLACK_URL)")
    message = receiver.bodies()[0]
    assert message["text"] == f"{job['name']} #{build['number']} could not run on main"
    kinds = [block["type"] for block in message["blocks"]]
    assert kinds == ["header", "section", "context", "actions"]
    fields = " ".join(field["text"] for field in message["blocks"][1]["fields"])
    assert "&lt;!channel&gt; &lt;http://evil|click&gt;" in fields
    assert "<!channel>" not in receiver.received[0].raw.decode()
    [button] = message["blocks"][3]["elements"]
    assert button["url"] == f"{PUBLIC_URL}/builds/{build['id']}"
    assert refused["status"] == "failed"
    assert refused["last_error"] == "Slack answered HTTP 404: scripted 404"
    assert "XXXXSECRETXXXX" not in str(refused)
    assert caplog.records, "the standard loggers said nothing at all"
    assert "XXXXSECRETXXXX" not in caplog.text


async def test_a_slack_url_on_a_host_not_allowed_is_refused_without_showing_it(
    settings: ServerSettings,
) -> None:
    async with app_client(settings, slack_webhook_hosts=["hooks.slack.com"]) as http:
        admin = await admin_headers(http)
        job = await create_job(http, admin)
        await set_secret(http, admin, job["id"], "SLACK_URL", "https://evil.test/T0/B0/SEKRIT")
        rules = [{"type": "slack", "webhook_url_secret": "SLACK_URL", "on": ["failure"]}]
        response = await http.patch(
            f"{API}/jobs/{job['id']}", headers=admin, json={"notifications": rules}
        )
        assert response.status_code == 200, response.text
        build = await run_build(http, admin, job, "failure")
        [note] = await settled(http, admin, build["id"])
    assert note["status"] == "failed"
    assert "not one of hooks.slack.com" in note["last_error"]
    assert "SEKRIT" not in note["last_error"] and "evil.test" not in note["last_error"]


async def test_a_rule_whose_type_is_gone_fails_its_delivery_not_the_build(
    settings: ServerSettings,
) -> None:
    """A rule stored before its type went away (a plugin removed) fails its delivery, saying
    so, and never the build."""
    async with app_client(settings) as http:
        admin = await admin_headers(http)
        job = await create_job(http, admin)
        ctx = http.app.state.ctx  # type: ignore[attr-defined]
        async with ctx.db.transaction() as session:
            row = await session.get(Job, uuid.UUID(job["id"]))
            assert row is not None
            row.notifications = [{"type": "gone", "on": ["failure"], "branches": []}]
        build = await run_build(http, admin, job, "failure")
        [note] = await settled(http, admin, build["id"])
        assert (await get_build(http, admin, build["id"]))["status"] == "failure"
    assert note["status"] == "failed"
    assert "no notifier serves the type 'gone'" in note["last_error"]


# A plugin's notifier with a bug: it raises what no notifier should, its message holding the
# job's secret, on its first call. Installed as a real distribution (tests/support/plugin_dists).
_FLAKY_PLUGIN = """
from solvyd.plugins import PLUGIN_API_VERSION, Notifier, hookimpl

SOLVYD_PLUGIN_API = PLUGIN_API_VERSION


class FlakyNotifier(Notifier):
    type = "flaky"

    def __init__(self):
        self.failures = 1
        self.sent = []

    def rule_problems(self, rule):
        return []

    async def send(self, notice, rule, ctx):
        if self.failures > 0:
            self.failures -= 1
            raise RuntimeError("kaboom with %s")
        self.sent.append(notice)


NOTIFIER = FlakyNotifier()


@hookimpl
def solvyd_notifiers():
    return [NOTIFIER]
"""


@pytest.fixture
def flaky_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """The flaky notifier's plugin, installed and loaded by the server's plugin manager."""
    module = f"solvyd_flaky_{uuid.uuid4().hex[:8]}"
    install_plugin(
        tmp_path / "site", entry_point="flaky", module=module, source=_FLAKY_PLUGIN % DEPLOY_TOKEN
    )
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    server_plugins.cache_clear()
    try:
        assert "flaky" in server_plugins().notifiers()
        yield sys.modules[module]
    finally:
        server_plugins.cache_clear()


async def test_a_notifier_that_raises_is_retried_logged_and_never_touches_the_build(
    settings: ServerSettings, flaky_plugin: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    flaky = flaky_plugin.NOTIFIER
    async with app_client(settings) as http:
        admin = await admin_headers(http)
        job = await _job(http, admin, [{"type": "flaky", "on": ["failure"]}])
        build = await run_build(http, admin, job, "failure")
        [note] = await settled(http, admin, build["id"])
        assert (await get_build(http, admin, build["id"]))["status"] == "failure"
        # The loop goes on: the next build's notification is sent too.
        second = await run_build(http, admin, job, "failure")
        [second_note] = await settled(http, admin, second["id"])
    assert (note["status"], note["attempts"]) == ("sent", 2)
    assert second_note["status"] == "sent"
    assert [notice.number for notice in flaky.sent] == [build["number"], second["number"]]
    # The server's own log says which notifier raised, with the secret masked.
    output = capsys.readouterr().out
    [raised] = [line for line in output.splitlines() if "notifier raised" in line]
    assert "notifier=flaky" in raised
    assert "error='RuntimeError: kaboom with ***'" in raised
    assert DEPLOY_TOKEN not in output
