"""SOLVYD_SMTP_URL: where the email notifier sends.

- `smtp://[user@]host[:port]` (default port 587, mail submission): STARTTLS when the server
  offers it; `?starttls=required` refuses a server that does not (so that a password never
  crosses the network in clear).
- `smtps://[user@]host[:port]` (default port 465): TLS from the first byte.

The password is never in the URL: it comes from SOLVYD_SMTP_PASSWORD, so that the URL can be
shown and logged. The server's certificate is checked against the system's CAs, or against
SOLVYD_SMTP_CA_FILE when set (a private CA)."""

from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit


@dataclass(frozen=True)
class SmtpTarget:
    host: str
    port: int
    username: str | None
    implicit_tls: bool
    starttls_required: bool


def parse_smtp_url(url: str) -> SmtpTarget:
    """Raises ValueError saying what is wrong (never quoting the URL)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise ValueError("is no valid URL") from exc
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValueError("must be smtp://[user@]host[:port] or smtps://[user@]host[:port]")
    if parts.password is not None:
        raise ValueError("must not hold the password: set SOLVYD_SMTP_PASSWORD")
    query = parse_qs(parts.query)
    unknown = set(query) - {"starttls"}
    if unknown or query.get("starttls", ["auto"])[-1] not in ("auto", "required"):
        raise ValueError("takes only ?starttls=required (or auto, the default)")
    implicit = parts.scheme == "smtps"
    return SmtpTarget(
        host=parts.hostname,
        port=port or (465 if implicit else 587),
        username=unquote(parts.username) if parts.username else None,
        implicit_tls=implicit,
        starttls_required=not implicit and query.get("starttls", ["auto"])[-1] == "required",
    )
