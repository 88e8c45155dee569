"""The Slack notifier: a Block Kit message to an incoming webhook whose URL a job secret holds
(the rule names the secret in `webhook_url_secret`; the URL is a credential: it never shows in
a rule, an error, a log or an answer).

The message follows Slack's documentation: an incoming webhook takes a POST of JSON with
`text` (the fallback shown in notifications) and `blocks`, and answers 200 "ok" or an error
word such as 400 "invalid_payload", 403 "action_prohibited", 404 "channel_not_found"
(https://api.slack.com/messaging/webhooks); the blocks are a `header` (plain_text, at most 150
characters), `section`s with `fields` (at most 10, each mrkdwn text at most 2000 characters)
or `text` (at most 3000), a `context` and an `actions` block with a `button` whose `url` opens
the build (https://api.slack.com/reference/block-kit/blocks). Every value is escaped for mrkdwn
(&, <, >, per Slack's "Formatting text for app surfaces"), so that a commit message cannot
mention @channel or forge a link.

Only hosts in `slack_webhook_hosts` (SOLVYD_SLACK_WEBHOOK_HOSTS, default hooks.slack.com) are
posted to, over https; plain http only to a loopback address (a test's local server)."""

import ipaddress
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from solvyd.server.notify.base import BuildNotice, NotificationError, Notifier, NotifyContext
from solvyd.server.notify.http_post import post
from solvyd.server.notify.keys import secret_name_problem, unknown_keys
from solvyd.server.notify.payload import facts, headline

DEFAULT_HOSTS = ("hooks.slack.com",)
_OWN_KEYS = frozenset({"webhook_url_secret"})
_MAX_HEADER = 150
_MAX_FIELD = 2000
_MAX_SECTION = 3000
_MAX_FIELDS = 10


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def webhook_url_problem(url: str, allowed_hosts: list[str]) -> str | None:
    """What is wrong with the secret's URL, without quoting it."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname or ""
    except ValueError:
        return "is no URL"
    if parts.scheme not in ("http", "https") or not host:
        return "is no http(s) URL"
    if host not in allowed_hosts:
        return f"names a host that is not one of {', '.join(allowed_hosts)} (slack_webhook_hosts)"
    if parts.scheme != "https" and not _is_loopback(host):
        return "must be https://"
    return None


def message(notice: BuildNotice) -> dict[str, Any]:
    """The webhook's JSON: a `text` fallback and the blocks."""
    title = headline(notice)
    fields = [
        {"type": "mrkdwn", "text": _cut(f"*{label}*\n{escape(value)}", _MAX_FIELD)}
        for label, value in facts(notice)
        if label not in ("Failed step",)
    ][:_MAX_FIELDS]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _cut(title, _MAX_HEADER)}},
        {"type": "section", "fields": fields},
    ]
    if notice.failed_step and notice.log_tail:
        # The end of the log is what tells why: kept whole to the section's limit.
        intro = f"*Last lines of {escape(notice.failed_step)}*\n"
        room = _MAX_SECTION - len(intro) - 6
        tail = escape("\n".join(notice.log_tail).replace("```", "'''"))[-room:]
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": f"{intro}```{tail}```"}}
        )
    blocks.append(
        {
            "type": "context",
            "elements": [
                {"type": "mrkdwn", "text": _cut(f"Solvyd · {escape(notice.trigger)} build", 2000)}
            ],
        }
    )
    if notice.url:
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "View build"},
                        "url": notice.url,
                    }
                ],
            }
        )
    return {"text": escape(title), "blocks": blocks}


class SlackNotifier(Notifier):
    type = "slack"

    def rule_problems(self, rule: Mapping[str, Any]) -> list[str]:
        problems = unknown_keys(rule, _OWN_KEYS)
        problem = secret_name_problem(rule, "webhook_url_secret", required=True)
        if problem is not None:
            problems.append(problem)
        return problems

    def secret_names(self, rule: Mapping[str, Any]) -> list[str]:
        name = rule.get("webhook_url_secret")
        return [name] if isinstance(name, str) else []

    def describe_target(self, rule: Mapping[str, Any]) -> str:
        return f"Slack (secret {rule.get('webhook_url_secret')})"

    async def send(self, notice: BuildNotice, rule: Mapping[str, Any], ctx: NotifyContext) -> None:
        name = str(rule.get("webhook_url_secret"))
        url = (ctx.secrets.get(name) or "").strip()
        if not url:
            raise NotificationError(
                f"the secret {name!r} holding the Slack webhook URL is not set", retryable=False
            )
        hosts = list(ctx.settings.get("slack_webhook_hosts") or DEFAULT_HOSTS)
        problem = webhook_url_problem(url, hosts)
        if problem is not None:
            raise NotificationError(
                f"the Slack webhook URL in secret {name!r} {problem}", retryable=False
            )
        body = json.dumps(message(notice)).encode()
        headers = {"Content-Type": "application/json"}
        await post(ctx, url, body, headers, receiver="Slack")
