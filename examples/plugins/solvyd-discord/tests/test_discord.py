"""The Discord notifier against a real HTTP server on loopback standing in for Discord: it checks
each body against Discord's documented "Execute Webhook" shape and answers as Discord does."""

import asyncio
import json
import socket
import threading
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from solvyd.plugins import BuildNotice, NotificationError, NotifyContext

import solvyd_discord
from solvyd_discord.notifier import DiscordNotifier

TOKEN = "Z9x-secret-webhook-token-q7Tq1"  # noqa: S105 - the test's stand-in, not a credential
PATH = f"/api/webhooks/123456789012345678/{TOKEN}"
RULE = {"type": "discord", "webhook_url_secret": "DISCORD_WEBHOOK", "on": ["failure"]}


def check_discord_body(body: Any) -> None:
    """Discord's rules for an Execute Webhook body, as documented on
    https://discord.com/developers/docs/resources/webhook#execute-webhook and
    https://discord.com/developers/docs/resources/message#embed-object (with its limits):
    a body Discord would refuse with 400 fails here."""
    assert isinstance(body, dict)
    assert set(body) <= {"content", "username", "avatar_url", "tts", "embeds", "allowed_mentions"}
    assert body.get("content") or body.get("embeds"), "Discord needs content or an embed"
    if "content" in body:
        assert isinstance(body["content"], str) and len(body["content"]) <= 2000
    embeds = body["embeds"]
    assert isinstance(embeds, list) and 1 <= len(embeds) <= 10
    total = 0
    for embed in embeds:
        assert set(embed) <= {"title", "description", "url", "color", "fields", "timestamp"}
        assert isinstance(embed["title"], str) and 0 < len(embed["title"]) <= 256
        assert len(embed.get("description", "")) <= 4096
        assert isinstance(embed["color"], int) and 0 <= embed["color"] <= 0xFFFFFF
        datetime.fromisoformat(embed["timestamp"])  # ISO8601
        if "url" in embed:
            assert embed["url"].startswith(("https://", "http://"))
        fields = embed.get("fields", [])
        assert len(fields) <= 25
        for item in fields:
            assert set(item) == {"name", "value", "inline"}
            assert 0 < len(item["name"]) <= 256 and 0 < len(item["value"]) <= 1024
            assert isinstance(item["inline"], bool)
            total += len(item["name"]) + len(item["value"])
        total += len(embed["title"]) + len(embed.get("description", ""))
    assert total <= 6000
    assert body["allowed_mentions"] == {"parse": []}


@dataclass
class FakeDiscord:
    """Answers each POST with `status` and `body` after `delay` seconds; keeps what it got."""

    url: str = ""
    status: int = 204
    body: dict[str, Any] | None = None
    delay: float = 0.0
    received: list[tuple[str, dict[str, str], Any]] = field(default_factory=list)


@pytest.fixture
def discord() -> Iterator[FakeDiscord]:
    fake = FakeDiscord()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers["Content-Length"]))
            fake.received.append((self.path, dict(self.headers), json.loads(raw)))
            time.sleep(fake.delay)
            payload = json.dumps(fake.body).encode() if fake.body is not None else b""
            self.send_response(fake.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}{PATH}"
    yield fake
    server.shutdown()
    server.server_close()


NOTICE = BuildNotice(
    event="build.finished",
    outcome="failure",
    job_id="5a7c3f0e-2a4b-4a43-9d8d-6a3f2b1c0d9e",
    job_name="api",
    build_id="0e7c3f0e-2a4b-4a43-9d8d-6a3f2b1c0d9e",
    number=12,
    status="failure",
    trigger="push",
    branch="main",
    tag=None,
    commit_sha="0123456789abcdef0123456789abcdef01234567",
    commit_message="Fix the parser @everyone\n\nLonger body",
    commit_author="Ada <ada@example.com>",
    pull_request=None,
    queued_at=datetime(2030, 1, 1, 12, 0, tzinfo=UTC),
    started_at=datetime(2030, 1, 1, 12, 0, 5, tzinfo=UTC),
    completed_at=datetime(2030, 1, 1, 12, 1, 10, tzinfo=UTC),
    duration_seconds=65.2,
    error_message=None,
    url="https://ci.example.com/builds/0e7c3f0e-2a4b-4a43-9d8d-6a3f2b1c0d9e",
    failed_step="test",
    log_tail=("collected 12 items", "FAILED test_parser.py::test_empty", "1 failed, 11 passed"),
)


def _send(url: str | None, notice: BuildNotice = NOTICE, timeout: float = 5.0) -> None:
    async def run() -> None:
        async with httpx.AsyncClient() as http:
            ctx = NotifyContext(
                http=http,
                timeout=timeout,
                secrets={"DISCORD_WEBHOOK": url} if url else {},
                delivery_id="d-1",
            )
            await DiscordNotifier().send(notice, RULE, ctx)

    asyncio.run(run())


def _failure(url: str | None, **kwargs: Any) -> NotificationError:
    with pytest.raises(NotificationError) as caught:
        _send(url, **kwargs)
    return caught.value


def test_a_failed_build_posts_one_embed_in_discords_shape(discord: FakeDiscord) -> None:
    _send(discord.url)
    [(path, headers, body)] = discord.received
    assert path == PATH and headers["Content-Type"] == "application/json"
    check_discord_body(body)
    [embed] = body["embeds"]
    assert embed["title"] == "api #12 failed"
    assert embed["url"] == NOTICE.url
    assert embed["timestamp"] == "2030-01-01T12:01:10+00:00"
    fields = {item["name"]: item["value"] for item in embed["fields"]}
    assert fields["Branch"] == "main"
    assert fields["Commit"] == "0123456789ab Fix the parser @everyone"
    assert fields["Duration"] == "1m 05s"
    assert "Step **test** failed" in embed["description"]
    assert embed["description"].endswith("1 failed, 11 passed\n```")


def test_each_outcome_has_its_own_words_and_colour(discord: FakeDiscord) -> None:
    for outcome, status in [("fixed", "success"), ("started", "running"), ("error", "error")]:
        _send(discord.url, replace(NOTICE, outcome=outcome, status=status, failed_step=None))
    titles = [(b["embeds"][0]["title"], b["embeds"][0]["color"]) for _, _, b in discord.received]
    assert [title for title, _ in titles] == [
        "api #12 is fixed",
        "api #12 started",
        "api #12 errored",
    ]
    assert len({colour for _, colour in titles}) == 3


def test_long_texts_stay_within_discords_limits(discord: FakeDiscord) -> None:
    lines = tuple(f"line {i} " + "x" * 600 for i in range(30))
    _send(
        discord.url,
        replace(
            NOTICE,
            job_name="j" * 300,
            error_message="e" * 5000,
            commit_message="m" * 3000,
            branch="b" * 300,
            log_tail=lines,
        ),
    )
    [(_, _, body)] = discord.received
    check_discord_body(body)
    # The end of the log is what explains a failure: the last line is kept whole.
    assert lines[-1] + "\n```" in body["embeds"][0]["description"]


def test_a_build_without_the_optional_facts_still_posts(discord: FakeDiscord) -> None:
    _send(
        discord.url,
        replace(
            NOTICE,
            branch=None,
            commit_sha=None,
            commit_author=None,
            duration_seconds=None,
            url=None,
            completed_at=None,
            failed_step=None,
            log_tail=(),
        ),
    )
    [(_, _, body)] = discord.received
    check_discord_body(body)
    assert "url" not in body["embeds"][0] and "description" not in body["embeds"][0]


@pytest.mark.parametrize(("status", "retryable"), [(429, True), (500, True), (503, True)])
def test_rate_limits_and_discords_own_errors_are_tried_again(
    discord: FakeDiscord, status: int, retryable: bool
) -> None:
    discord.status = status
    discord.body = {"message": "You are being rate limited.", "retry_after": 1.5, "global": False}
    error = _failure(discord.url)
    assert error.retryable is retryable
    assert str(status) in str(error) and TOKEN not in str(error)


@pytest.mark.parametrize("status", [400, 401, 404])
def test_a_refused_message_is_not_tried_again(discord: FakeDiscord, status: int) -> None:
    discord.status = status
    # A receiver may echo the path it was called on: the token stays out of the error anyway.
    discord.body = {"message": f"Unknown Webhook {PATH}", "code": 10015}
    error = _failure(discord.url)
    assert error.retryable is False
    assert f"Discord answered {status}: Unknown Webhook" in str(error)
    assert TOKEN not in str(error)


def test_a_receiver_too_slow_to_answer_is_tried_again(discord: FakeDiscord) -> None:
    discord.delay = 1.0
    error = _failure(discord.url, timeout=0.2)
    assert error.retryable is True and "did not answer" in str(error)


def test_a_closed_port_is_tried_again() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    error = _failure(f"http://127.0.0.1:{port}{PATH}")
    assert error.retryable is True
    assert TOKEN not in str(error) and str(port) not in str(error)


def test_a_missing_or_unusable_secret_is_not_tried_again() -> None:
    missing = _failure(None)
    assert missing.retryable is False and "DISCORD_WEBHOOK" in str(missing)
    not_a_url = _failure(TOKEN)
    assert not_a_url.retryable is False and TOKEN not in str(not_a_url)


def test_rule_problems_name_the_key() -> None:
    notifier = DiscordNotifier()
    assert notifier.rule_problems(RULE) == []
    assert notifier.rule_problems({"type": "discord"}) == [
        "webhook_url_secret: required, the name of a secret holding the webhook URL"
    ]
    assert notifier.rule_problems({"type": "discord", "webhook_url_secret": "https://x"}) == [
        "webhook_url_secret: must be a secret's name, such as DISCORD_WEBHOOK"
    ]
    assert notifier.rule_problems({**RULE, "webhook_url": "https://x"}) == [
        "webhook_url: not a setting of a discord rule (it takes webhook_url_secret)"
    ]
    assert notifier.secret_names(RULE) == ["DISCORD_WEBHOOK"]
    assert notifier.describe_target(RULE) == "Discord (secret DISCORD_WEBHOOK)"


def test_the_plugin_offers_the_notifier_through_its_entry_point() -> None:
    project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    assert project["project"]["entry-points"]["solvyd.plugins"] == {"discord": "solvyd_discord"}
    assert solvyd_discord.SOLVYD_PLUGIN_API.split(".")[0] == "1"
    [notifier] = solvyd_discord.solvyd_notifiers()
    assert notifier.type == "discord"
