"""The email notifier: a plain-text and HTML message over SMTP (aiosmtplib) to the rule's `to`.

The server's SMTP settings: `SOLVYD_SMTP_URL`, `SOLVYD_SMTP_FROM`, `SOLVYD_SMTP_PASSWORD`,
`SOLVYD_SMTP_CA_FILE` (see `smtp_url.py` for the URL). Every value in the HTML is escaped:
commit messages and log lines are written by anyone who can push."""

import html
import re
import ssl
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from solvyd.server.notify.base import BuildNotice, NotificationError, Notifier, NotifyContext
from solvyd.server.notify.keys import unknown_keys
from solvyd.server.notify.payload import facts, headline
from solvyd.server.notify.smtp_url import SmtpTarget, parse_smtp_url

MAX_RECIPIENTS = 50
_OWN_KEYS = frozenset({"to"})
# One mailbox, plainly written: no display name, no comments, no list separators (a hostile
# value could otherwise add recipients or headers).
_ADDRESS = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@"
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\Z"
)


def address_problem(value: Any) -> str | None:
    if not isinstance(value, str) or len(value) > 254 or not _ADDRESS.match(value):
        return "each must be a plain email address (name@example.com)"
    return None


def plain_text(notice: BuildNotice) -> str:
    lines = [headline(notice), ""]
    lines += [f"{label}: {value}" for label, value in facts(notice)]
    if notice.url:
        lines += ["", f"Open the build: {notice.url}"]
    if notice.log_tail:
        lines += ["", f"Last lines of {notice.failed_step}:", ""]
        lines += [f"    {line}" for line in notice.log_tail]
    return "\n".join(lines) + "\n"


def html_text(notice: BuildNotice) -> str:
    e = html.escape
    rows = "".join(
        f"<tr><th align='left' style='padding-right:12px'>{e(label)}</th><td>{e(value)}</td></tr>"
        for label, value in facts(notice)
    )
    parts = [
        "<!DOCTYPE html><html><body style='font-family:sans-serif'>",
        f"<h2>{e(headline(notice))}</h2>",
        f"<table>{rows}</table>",
    ]
    if notice.url:
        parts.append(f"<p><a href='{e(notice.url, quote=True)}'>Open the build</a></p>")
    if notice.log_tail:
        log = e("\n".join(notice.log_tail))
        parts.append(f"<h3>Last lines of {e(notice.failed_step or '')}</h3>")
        parts.append(f"<pre style='background:#f4f4f4;padding:8px'>{log}</pre>")
    parts.append("</body></html>")
    return "".join(parts)


def compose(notice: BuildNotice, sender: str, to: list[str], delivery_id: str) -> EmailMessage:
    message = EmailMessage()
    # The subject is made of validated names only (job, branch, tag, numbers): no line break.
    message["Subject"] = f"[Solvyd] {headline(notice)}"
    message["From"] = sender
    message["To"] = ", ".join(to)
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(idstring=delivery_id.replace("-", ""))
    message["X-Solvyd-Delivery"] = delivery_id
    message.set_content(plain_text(notice))
    message.add_alternative(html_text(notice), subtype="html")
    return message


class EmailNotifier(Notifier):
    type = "email"

    def rule_problems(self, rule: Mapping[str, Any]) -> list[str]:
        problems = unknown_keys(rule, _OWN_KEYS)
        to = rule.get("to")
        if not isinstance(to, list) or not to or len(to) > MAX_RECIPIENTS:
            problems.append(f"to: must be a list of 1 to {MAX_RECIPIENTS} addresses")
        else:
            for address in to:
                problem = address_problem(address)
                if problem is not None:
                    problems.append(f"to: {problem}")
                    break
        return problems

    def describe_target(self, rule: Mapping[str, Any]) -> str:
        to = [str(address) for address in rule.get("to") or []]
        shown = ", ".join(to[:3]) + (f" and {len(to) - 3} more" if len(to) > 3 else "")
        return f"email to {shown}"

    async def send(self, notice: BuildNotice, rule: Mapping[str, Any], ctx: NotifyContext) -> None:
        settings = ctx.settings
        url = str(settings.get("smtp_url") or "")
        sender = str(settings.get("smtp_from") or "")
        if not url or not sender:
            raise NotificationError(
                "email is not set up on this server (SOLVYD_SMTP_URL and SOLVYD_SMTP_FROM)",
                retryable=False,
            )
        try:
            target = parse_smtp_url(url)
        except ValueError as exc:
            raise NotificationError(f"SOLVYD_SMTP_URL {exc}", retryable=False) from exc
        password = settings.get("smtp_password") or None
        if target.username and not password:
            raise NotificationError(
                "SOLVYD_SMTP_URL names a user but SOLVYD_SMTP_PASSWORD is not set",
                retryable=False,
            )
        to = [str(address) for address in rule.get("to") or []]
        message = compose(notice, sender, to, ctx.delivery_id)
        await _send(target, password, settings.get("smtp_ca_file"), message, ctx.timeout)


async def _send(
    target: SmtpTarget,
    password: str | None,
    ca_file: Any,
    message: EmailMessage,
    timeout: float,
) -> None:
    # Loaded by the first email sent, not by every server whether it mails or not.
    import aiosmtplib

    tls = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    try:
        await aiosmtplib.send(
            message,
            hostname=target.host,
            port=target.port,
            username=target.username,
            password=password if target.username else None,
            use_tls=target.implicit_tls,
            start_tls=_start_tls(target),
            tls_context=tls,
            timeout=timeout,
        )
    except aiosmtplib.SMTPRecipientsRefused as exc:
        codes = [refusal.code for refusal in exc.recipients]
        raise NotificationError(
            f"the SMTP server refused every recipient ({', '.join(map(str, codes))})",
            retryable=all(400 <= code < 500 for code in codes),
        ) from exc
    except aiosmtplib.SMTPAuthenticationError as exc:
        raise NotificationError(
            f"the SMTP server refused the login ({exc.code})", retryable=False
        ) from exc
    except aiosmtplib.SMTPResponseException as exc:
        raise NotificationError(
            f"the SMTP server answered {exc.code}: {_short(exc.message)}",
            retryable=400 <= exc.code < 500,
        ) from exc
    except (aiosmtplib.SMTPTimeoutError, TimeoutError) as exc:
        raise NotificationError("the SMTP server did not answer in time", retryable=True) from exc
    except (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPServerDisconnected, OSError) as exc:
        raise NotificationError(
            f"the SMTP server could not be reached: {type(exc).__name__}: {_short(str(exc))}",
            retryable=True,
        ) from exc
    except aiosmtplib.SMTPException as exc:
        # No STARTTLS where it is required, no AUTH offered: the set-up, not the moment.
        raise NotificationError(
            f"the message could not be sent: {type(exc).__name__}: {_short(str(exc))}",
            retryable=False,
        ) from exc


def _start_tls(target: SmtpTarget) -> bool | None:
    """None: upgrade when the server offers STARTTLS; True: refuse a server that does not."""
    if target.implicit_tls:
        return False
    return True if target.starttls_required else None


def _short(text: str) -> str:
    return " ".join(text.split())[:300]
