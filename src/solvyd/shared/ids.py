"""Identifiers and opaque tokens."""

import hashlib
import secrets
import uuid


def new_id() -> uuid.UUID:
    return uuid.uuid4()


def new_token(prefix: str) -> str:
    """A random bearer token; the prefix says what kind it is (e.g. `svw_` for workers)."""
    return f"{prefix}{secrets.token_urlsafe(32)}"


def token_digest(token: str) -> str:
    """Tokens are stored as their SHA-256: they are long and random, so no slow hash is needed."""
    return hashlib.sha256(token.encode()).hexdigest()
