"""The `discord` notification type: one rule posts one message to a Discord webhook.

A rule: `{"type": "discord", "webhook_url_secret": "<name of a secret of the job>",
"on": [...], "branches": [...]}`. The webhook URL carries the webhook's token, so it lives in a
secret and never appears in a rule, a target or an error.
"""

import re
from collections.abc import Mapping
from typing import Any

import httpx
from solvyd.plugins import BuildNotice, NotificationError, Notifier, NotifyContext

from solvyd_discord.message import discord_message

# The keys every rule has; the sender checks them, this type accepts them.
_COMMON_KEYS = {"type", "on", "branches"}
_OWN_KEYS = {"webhook_url_secret"}
# Secret names are environment variable names in Solvyd.
_SECRET_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_REASON_LIMIT = 200


def _clean(text: str, url: str) -> str:
    """A receiver's text, short, on one line, and without the URL or its token: a receiver
    could echo the path it was called on, and that path is the secret."""
    for secret_part in {url, url.rstrip("/").rsplit("/", 1)[-1]}:
        if len(secret_part) >= 8:
            text = text.replace(secret_part, "***")
    return " ".join(text.split())[:_REASON_LIMIT]


def _reason(response: httpx.Response, url: str) -> str:
    # Discord's error body is {"message": "...", "code": n}.
    try:
        body = response.json()
    except ValueError:
        return ""
    message = body.get("message") if isinstance(body, dict) else None
    return f": {_clean(message, url)}" if isinstance(message, str) and message else ""


class DiscordNotifier(Notifier):
    type = "discord"

    def rule_problems(self, rule: Mapping[str, Any]) -> list[str]:
        problems = [
            f"{key}: not a setting of a discord rule (it takes webhook_url_secret)"
            for key in sorted(set(rule) - _COMMON_KEYS - _OWN_KEYS)
        ]
        name = rule.get("webhook_url_secret")
        if name is None:
            problems.append(
                "webhook_url_secret: required, the name of a secret holding the webhook URL"
            )
        elif not isinstance(name, str) or not _SECRET_NAME.match(name):
            problems.append("webhook_url_secret: must be a secret's name, such as DISCORD_WEBHOOK")
        return problems

    def secret_names(self, rule: Mapping[str, Any]) -> list[str]:
        return [str(rule["webhook_url_secret"])]

    def describe_target(self, rule: Mapping[str, Any]) -> str:
        return f"Discord (secret {rule['webhook_url_secret']})"

    async def send(self, notice: BuildNotice, rule: Mapping[str, Any], ctx: NotifyContext) -> None:
        name = str(rule["webhook_url_secret"])
        url = ctx.secrets.get(name)
        if not url:
            raise NotificationError(f"secret {name} is not a secret of the job", retryable=False)
        if not url.startswith(("https://", "http://")):
            raise NotificationError(
                f"secret {name} does not hold a webhook URL (https://...)", retryable=False
            )
        try:
            response = await ctx.http.post(
                url, json=discord_message(notice), timeout=ctx.timeout, follow_redirects=False
            )
        except httpx.TimeoutException as exc:
            raise NotificationError(
                f"Discord did not answer within {ctx.timeout:g}s", retryable=True
            ) from exc
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
            raise NotificationError(
                f"secret {name} does not hold a usable URL ({type(exc).__name__})",
                retryable=False,
            ) from exc
        except httpx.HTTPError as exc:
            # Refused, reset, cut off mid-answer: Discord may well answer the next attempt. The
            # exception's text can hold the URL, so only its kind is said.
            raise NotificationError(
                f"could not reach Discord ({type(exc).__name__})", retryable=True
            ) from exc
        if response.is_success:
            return
        status = response.status_code
        # Discord's rate limits answer 429; a 5xx is Discord's own trouble: both pass.
        retryable = status == 429 or status >= 500
        raise NotificationError(
            f"Discord answered {status}{_reason(response, url)}", retryable=retryable
        )
