"""One attempt of one notification: the rule's secrets resolved, the notifier called with a
bound on its time, and whatever happened judged: sent, worth another attempt, or failed.

Shared by the sender (rows) and the test endpoint (no rows). A notifier's own
`NotificationError` says whether to try again; any other exception (a plugin's bug) is worth
another attempt too, is logged with the notifier's type, and never reaches the caller."""

import asyncio
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from solvyd.server.db.models import Build, Job
from solvyd.server.notify.base import BuildNotice, NotificationError, Notifier, NotifyContext
from solvyd.server.services import secrets
from solvyd.server.services.context import ServerContext
from solvyd.server.settings import ServerSettings
from solvyd.shared.redaction import Masker

log = structlog.get_logger(__name__)

# How much of an error's text a delivery keeps.
MAX_ERROR_CHARS = 1000
# On top of the notifier's own timeout: it should have given up by then.
_GRACE_SECONDS = 5.0


@dataclass(frozen=True)
class Attempt:
    # sent | retry | failed
    verdict: str
    error: str | None = None


def notifier_settings(settings: ServerSettings, smtp_password: str | None) -> dict[str, Any]:
    """What the built-in notifiers read from the server's settings."""
    return {
        "smtp_url": settings.smtp_url,
        "smtp_from": settings.smtp_from,
        "smtp_password": smtp_password,
        "smtp_ca_file": str(settings.smtp_ca_file) if settings.smtp_ca_file else None,
        "slack_webhook_hosts": list(settings.slack_webhook_hosts),
        "public_url": settings.public_url,
    }


async def smtp_password(
    ctx: ServerContext, session: AsyncSession, notifier: Notifier | None
) -> str | None:
    """The SMTP password, for the email notifier only: `SOLVYD_SMTP_PASSWORD`, else the global
    secret `SOLVYD_SMTP_PASSWORD_SECRET` names (read only when an email is being sent)."""
    if notifier is None or notifier.type != "email":
        return None
    settings = ctx.settings
    if settings.smtp_password is not None:
        return settings.smtp_password.get_secret_value()
    if not settings.smtp_password_secret:
        return None
    return await secrets.global_secret_value(
        session, secrets.secret_box(ctx), settings.smtp_password_secret
    )


async def rule_secrets(
    ctx: ServerContext,
    session: AsyncSession,
    notifier: Notifier,
    rule: Mapping[str, Any],
    build: Build,
    job: Job,
) -> dict[str, str]:
    """The values of the secrets the rule names, as for a commit status's token
    (`secrets.values_for_job_call`): a protected one only when an admin changed the job last."""
    names = [name for name in notifier.secret_names(rule) if isinstance(name, str)]
    if not names:
        return {}
    values, _ = await secrets.values_for_job_call(ctx, session, job, build, names)
    return values


async def attempt(
    settings: ServerSettings,
    http: httpx.AsyncClient,
    notifier: Notifier | None,
    kind: str,
    notice: BuildNotice,
    rule: Mapping[str, Any],
    secret_values: Mapping[str, str],
    delivery_id: str,
    masker: Masker,
    smtp_password: str | None = None,
) -> Attempt:
    """Send once. Never raises (but for cancellation). `smtp_password`: the email notifier's
    (`smtp_password()`), masked like the rule's secrets."""
    if notifier is None:
        return Attempt(
            "failed",
            f"no notifier serves the type {kind!r} (a plugin that is no longer installed?)",
        )
    mask = Masker([*secret_values.values(), *([smtp_password] if smtp_password else [])])
    timeout = settings.notification_timeout_seconds
    context = NotifyContext(
        http=http,
        timeout=timeout,
        secrets=dict(secret_values),
        delivery_id=delivery_id,
        settings=notifier_settings(settings, smtp_password),
    )
    try:
        async with asyncio.timeout(timeout + _GRACE_SECONDS):
            await notifier.send(notice, rule, context)
    except NotificationError as exc:
        return Attempt("retry" if exc.retryable else "failed", _text(str(exc), mask, masker))
    except TimeoutError:
        return Attempt("retry", f"the {kind} notifier did not finish in time")
    except Exception as exc:
        # A notifier's bug (a plugin's, most likely): tried again, and said where.
        text = _text(f"{type(exc).__name__}: {exc}", mask, masker)
        trace = _text("".join(traceback.format_exception(exc)), mask, masker, limit=8000)
        log.error("notifier raised", notifier=kind, error=text, traceback=trace)
        return Attempt("retry", f"the {kind} notifier failed: {text}")
    return Attempt("sent")


def _text(text: str, *masks: Masker, limit: int = MAX_ERROR_CHARS) -> str:
    for mask in masks:
        if mask:
            text = mask(text)
    return text.replace("\x00", "")[:limit]
