"""Refresh tokens: opaque to the client, stored only as their SHA-256 (`token_digest`).

Each names its login session and carries the server's MAC. The MAC is what lets a refresh
tell "an earlier token of this session, already rotated away" (someone kept a copy: theft)
from a made-up string that merely names a session id it saw in an access token.
"""

import hashlib
import hmac
import uuid

from solvyd.shared.ids import new_token

PREFIX = "svr_"
# The MAC key is derived from the server secret rather than being it, so this MAC and the
# JWT signatures made with the secret never share a key.
_KEY_LABEL = b"solvyd refresh token mac"


def issue_refresh_token(session_id: uuid.UUID, secret: str) -> str:
    unsigned = new_token(f"{PREFIX}{session_id.hex}.")
    return f"{unsigned}.{_mac(unsigned, secret)}"


def session_of_refresh_token(token: str, secret: str) -> uuid.UUID | None:
    """The session the server issued `token` for, or None if the server never issued it."""
    unsigned, _, mac = token.rpartition(".")
    # As bytes: compare_digest refuses a str with non-ASCII characters (TypeError, a 500).
    expected = _mac(unsigned, secret).encode()
    if not unsigned.startswith(PREFIX) or not hmac.compare_digest(mac.encode(), expected):
        return None
    session_hex = unsigned.removeprefix(PREFIX).partition(".")[0]
    try:
        return uuid.UUID(hex=session_hex)
    except ValueError:
        return None


def _mac(unsigned: str, secret: str) -> str:
    key = hmac.new(secret.encode(), _KEY_LABEL, hashlib.sha256).digest()
    return hmac.new(key, unsigned.encode(), hashlib.sha256).hexdigest()
