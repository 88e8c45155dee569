"""Server keys: taken from settings, or generated once into the data directory (mode 0600).

One server secret (``SOLVYD_SECRET_KEY`` or ``data_dir/secret-key``) signs access tokens and,
through HKDF with its own ``info``, gives the key that encrypts stored secrets
(``auth/secret_box.py``): the two keys differ, and one file is all an operator must keep.
"""

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from solvyd.server.auth.secret_box import derive_key
from solvyd.server.settings import ServerSettings


@dataclass(frozen=True)
class ServerKeys:
    jwt_secret: str
    agent_token: str
    agent_token_file: Path | None  # where a generated agent token was written, if it was
    # AES-256-GCM key of stored secrets, derived from the same server secret as `jwt_secret`.
    encryption_key: bytes = field(repr=False)


def _read_or_create(path: Path) -> str:
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    return value


def load_keys(settings: ServerSettings) -> ServerKeys:
    if settings.secret_key is not None and settings.secret_key.get_secret_value():
        jwt_secret = settings.secret_key.get_secret_value()
    else:
        jwt_secret = _read_or_create(settings.data_dir / "secret-key")
    encryption_key = derive_key(jwt_secret)
    if settings.agent_token is not None and settings.agent_token.get_secret_value():
        return ServerKeys(jwt_secret, settings.agent_token.get_secret_value(), None, encryption_key)
    token_file = settings.data_dir / "agent-token"
    return ServerKeys(jwt_secret, _read_or_create(token_file), token_file, encryption_key)
