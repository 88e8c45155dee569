"""The webhook notifier: a POST of a JSON event to any URL, signed when the rule names a
signing secret (docs/notifications.md shows the body and how a receiver checks it).

The signature is HMAC-SHA256, keyed with the secret, of "<X-Solvyd-Timestamp>.<raw body>", in
`X-Solvyd-Signature-256: sha256=<hex>`. The timestamp is signed with the body (as Stripe and
Slack do) so that a receiver can refuse a captured request replayed later: the signature
proves both the body and when it was sent. The delivery id is stable across retries, so a
receiver deduplicates on it.

The URL is the user's: the server reaches whatever host it names (an operator who must keep
jobs away from internal hosts does so with the network, as for a job's `scm_url`)."""

import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from solvyd.server.notify.base import BuildNotice, NotificationError, Notifier, NotifyContext
from solvyd.server.notify.http_post import post
from solvyd.server.notify.keys import secret_name_problem, unknown_keys
from solvyd.server.notify.payload import build_fields, iso
from solvyd.shared.clock import utcnow

MAX_URL_CHARS = 2000
_OWN_KEYS = frozenset({"url", "signing_secret"})


def url_problem(value: Any) -> str | None:
    if not isinstance(value, str) or not value or len(value) > MAX_URL_CHARS:
        return f"must be an http:// or https:// URL of at most {MAX_URL_CHARS} characters"
    if any(ch.isspace() or not ch.isprintable() for ch in value):
        return "must hold no spaces or control characters"
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises on a port that is no number
    except ValueError:
        return "is no valid URL"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an http:// or https:// URL with a host"
    if parts.username is not None or parts.password is not None:
        return "must hold no credentials (sign the requests with signing_secret instead)"
    if parts.fragment:
        return "must have no #fragment"
    return None


def signature(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={digest.hexdigest()}"


def event_body(notice: BuildNotice, delivery_id: str, sent_at: datetime) -> dict[str, Any]:
    return {
        "event": notice.event,
        "delivery_id": delivery_id,
        "timestamp": iso(sent_at),
        "job": {"id": notice.job_id, "name": notice.job_name},
        "build": build_fields(notice),
    }


class WebhookNotifier(Notifier):
    type = "webhook"

    def rule_problems(self, rule: Mapping[str, Any]) -> list[str]:
        problems = unknown_keys(rule, _OWN_KEYS)
        problem = url_problem(rule.get("url"))
        if problem is not None:
            problems.append(f"url: {problem}")
        problem = secret_name_problem(rule, "signing_secret", required=False)
        if problem is not None:
            problems.append(problem)
        return problems

    def secret_names(self, rule: Mapping[str, Any]) -> list[str]:
        name = rule.get("signing_secret")
        return [name] if isinstance(name, str) else []

    def describe_target(self, rule: Mapping[str, Any]) -> str:
        url = str(rule.get("url") or "")
        parts = urlsplit(url)
        # The query may carry a receiver's token: the host and path say where.
        return f"webhook {parts.scheme}://{parts.netloc}{parts.path}"

    async def send(self, notice: BuildNotice, rule: Mapping[str, Any], ctx: NotifyContext) -> None:
        url = str(rule.get("url") or "")
        problem = url_problem(url)
        if problem is not None:
            raise NotificationError(f"the rule's url {problem}", retryable=False)
        sent_at = utcnow().replace(microsecond=0)
        # The header: whole seconds since the epoch, what a receiver compares with its clock;
        # the body says the same moment in ISO 8601, like every time in the API.
        timestamp = str(int(sent_at.timestamp()))
        body = json.dumps(
            event_body(notice, ctx.delivery_id, sent_at), separators=(",", ":")
        ).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Solvyd-Event": notice.event,
            "X-Solvyd-Delivery": ctx.delivery_id,
            "X-Solvyd-Timestamp": timestamp,
        }
        hide: list[str] = []
        name = rule.get("signing_secret")
        if isinstance(name, str):
            secret = ctx.secrets.get(name)
            if not secret:
                raise NotificationError(
                    f"the signing secret {name!r} is not set on the job", retryable=False
                )
            headers["X-Solvyd-Signature-256"] = signature(secret, timestamp, body)
            hide.append(secret)
        await post(ctx, url, body, headers, hide=hide, receiver="the webhook")
