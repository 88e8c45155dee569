"""Real HTTP servers on loopback that stand in for the receivers of notifications: a webhook
receiver that checks Solvyd's documented event (docs/notifications.md) and its signature the
way a user's receiver would, and a Slack incoming webhook that checks the message the way
Slack documents it.

Slack's shapes (https://api.slack.com/messaging/webhooks and
https://api.slack.com/reference/block-kit/blocks): a POST of JSON with `text` (the fallback)
and/or `blocks`; a block is a `header` (text: plain_text, at most 150 characters), a `section`
(`text` at most 3000 characters, or `fields`, at most 10 text objects of at most 2000), a
`context` (`elements`, at most 10) or an `actions` block (`elements`, at most 25; a `button` has
`text` plain_text of at most 75 characters and a `url` of at most 3000). Slack answers 200
with the body "ok"; a malformed message 400 "invalid_payload", bad blocks 400
"invalid_blocks"."""

import asyncio
import contextlib
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from tests.support.loopback_server import serving_on_loopback

BUILD_KEYS = {
    "id",
    "number",
    "status",
    "outcome",
    "trigger",
    "branch",
    "tag",
    "commit_sha",
    "commit_message",
    "commit_author",
    "pull_request",
    "queued_at",
    "started_at",
    "completed_at",
    "duration_seconds",
    "error_message",
    "url",
    "failed_step",
    "log_tail",
}


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    raw: bytes
    body: Any


@dataclass
class Receiver:
    url: str = ""
    # The webhook's signing secret, to check X-Solvyd-Signature-256 with (None: unsigned).
    signing_secret: str | None = None
    received: list[Received] = field(default_factory=list)
    # Answers before the normal one, first first: a status code, or "hang" (no answer for
    # `hang_seconds`).
    scripted: list[int | str] = field(default_factory=list)
    hang_seconds: float = 5.0
    # What was wrong with a request, per the receiver's checks.
    problems: list[str] = field(default_factory=list)

    async def wait_for(self, count: int, timeout: float = 15.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.received)} of {count} requests arrived")
            await asyncio.sleep(0.02)
        return self.received

    def bodies(self) -> list[Any]:
        return [item.body for item in self.received]

    async def _scripted(self) -> Response | None:
        if not self.scripted:
            return None
        answer = self.scripted.pop(0)
        if answer == "hang":
            await asyncio.sleep(self.hang_seconds)
            return PlainTextResponse("too late", status_code=200)
        return PlainTextResponse(f"scripted {answer}", status_code=int(answer))

    async def _webhook(self, request: Request) -> Response:
        raw = await request.body()
        headers = {key.lower(): value for key, value in request.headers.items()}
        body = json.loads(raw)
        self.received.append(Received(request.url.path, headers, raw, body))
        problems = self._webhook_problems(headers, raw, body)
        self.problems += problems
        scripted = await self._scripted()
        if scripted is not None:
            return scripted
        if problems:
            return PlainTextResponse("; ".join(problems), status_code=400)
        return Response(status_code=204)

    def _webhook_problems(self, headers: dict[str, str], raw: bytes, body: Any) -> list[str]:
        problems = []
        if headers.get("content-type") != "application/json":
            problems.append("content type")
        if set(body) != {"event", "delivery_id", "timestamp", "job", "build"}:
            problems.append(f"top-level keys {sorted(body)}")
        if body.get("event") not in ("build.started", "build.finished"):
            problems.append("event")
        if headers.get("x-solvyd-event") != body.get("event"):
            problems.append("X-Solvyd-Event")
        if headers.get("x-solvyd-delivery") != body.get("delivery_id"):
            problems.append("X-Solvyd-Delivery")
        if set(body.get("job") or {}) != {"id", "name"}:
            problems.append("job keys")
        if set(body.get("build") or {}) != BUILD_KEYS:
            problems.append(f"build keys {sorted(body.get('build') or {})}")
        timestamp = headers.get("x-solvyd-timestamp", "")
        if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > 300:
            problems.append("X-Solvyd-Timestamp")
        signature = headers.get("x-solvyd-signature-256")
        if self.signing_secret is None:
            if signature is not None:
                problems.append("a signature without a secret")
        else:
            # As docs/notifications.md tells a receiver to check it.
            expected = hmac.new(
                self.signing_secret.encode(), timestamp.encode() + b"." + raw, hashlib.sha256
            ).hexdigest()
            if not hmac.compare_digest(signature or "", f"sha256={expected}"):
                problems.append("signature")
        return problems

    async def _slack(self, request: Request) -> Response:
        raw = await request.body()
        headers = {key.lower(): value for key, value in request.headers.items()}
        try:
            body = json.loads(raw)
        except ValueError:
            return PlainTextResponse("invalid_payload", status_code=400)
        self.received.append(Received(request.url.path, headers, raw, body))
        scripted = await self._scripted()
        if scripted is not None:
            return scripted
        problems = slack_problems(body)
        self.problems += problems
        if problems:
            return PlainTextResponse("invalid_blocks", status_code=400)
        return PlainTextResponse("ok")

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/hook/{rest:path}", self._webhook, methods=["POST"]),
                Route("/services/{rest:path}", self._slack, methods=["POST"]),
            ]
        )


def _text_object(value: Any, limit: int, kinds: tuple[str, ...]) -> bool:
    return (
        isinstance(value, dict)
        and value.get("type") in kinds
        and isinstance(value.get("text"), str)
        and 0 < len(value["text"]) <= limit
    )


def slack_problems(body: Any) -> list[str]:
    """What Slack would refuse in an incoming webhook's message."""
    if not isinstance(body, dict) or not (isinstance(body.get("text"), str) or body.get("blocks")):
        return ["no text and no blocks"]
    problems = []
    for block in body.get("blocks") or []:
        kind = block.get("type")
        if kind == "header":
            if not _text_object(block.get("text"), 150, ("plain_text",)):
                problems.append("header")
        elif kind == "section":
            fields = block.get("fields")
            if fields is not None:
                if not (0 < len(fields) <= 10) or not all(
                    _text_object(item, 2000, ("plain_text", "mrkdwn")) for item in fields
                ):
                    problems.append("section fields")
            elif not _text_object(block.get("text"), 3000, ("plain_text", "mrkdwn")):
                problems.append("section text")
        elif kind == "context":
            elements = block.get("elements") or []
            if not (0 < len(elements) <= 10) or not all(
                _text_object(item, 3000, ("plain_text", "mrkdwn")) for item in elements
            ):
                problems.append("context")
        elif kind == "actions":
            for element in block.get("elements") or []:
                if (
                    element.get("type") != "button"
                    or not _text_object(element.get("text"), 75, ("plain_text",))
                    or not (0 < len(element.get("url", "")) <= 3000)
                ):
                    problems.append("button")
        else:
            problems.append(f"block type {kind}")
    return problems


@contextlib.asynccontextmanager
async def notification_receiver(signing_secret: str | None = None) -> AsyncIterator[Receiver]:
    """A receiver listening on a free loopback port for the life of the block."""
    receiver = Receiver(signing_secret=signing_secret)
    async with serving_on_loopback(receiver.app()) as url:
        receiver.url = url
        yield receiver
