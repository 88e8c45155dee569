"""Credentials: access tokens name their session, refresh tokens carry the server's MAC, and
checking a password of a user who does not exist costs what checking a real one does."""

import time
import uuid
from collections.abc import Callable
from datetime import timedelta

import pytest
from argon2 import PasswordHasher

from solvyd.server.auth import passwords
from solvyd.server.auth.access_tokens import (
    InvalidAccessToken,
    issue_access_token,
    read_access_token,
)
from solvyd.server.auth.refresh_tokens import issue_refresh_token, session_of_refresh_token

SECRET = "unit-test-secret-0123456789abcdef"


def test_an_access_token_names_its_user_and_session() -> None:
    user_id, session_id = uuid.uuid4(), uuid.uuid4()
    token = issue_access_token(user_id, session_id, SECRET, timedelta(minutes=1))
    claims = read_access_token(token, SECRET)
    assert (claims.user_id, claims.session_id) == (user_id, session_id)
    with pytest.raises(InvalidAccessToken):
        read_access_token(token, SECRET + "x")
    expired = issue_access_token(user_id, session_id, SECRET, timedelta(seconds=-1))
    with pytest.raises(InvalidAccessToken):
        read_access_token(expired, SECRET)


def test_a_refresh_token_is_recognised_only_if_the_server_signed_it() -> None:
    session_id = uuid.uuid4()
    token = issue_refresh_token(session_id, SECRET)
    assert token.startswith("svr_")
    assert issue_refresh_token(session_id, SECRET) != token  # random per issue
    assert session_of_refresh_token(token, SECRET) == session_id
    unsigned, _, mac = token.rpartition(".")
    for forged in (
        f"{unsigned}.{'0' * len(mac)}",
        token.replace(session_id.hex, uuid.uuid4().hex),
        "svr_nonsense",
        "",
    ):
        assert session_of_refresh_token(forged, SECRET) is None
    assert session_of_refresh_token(token, SECRET + "x") is None


def _fastest(check: Callable[[], object], rounds: int = 5) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        check()
        best = min(best, time.perf_counter() - started)
    return best


def test_an_unknown_user_costs_a_full_password_check(monkeypatch: pytest.MonkeyPatch) -> None:
    # Both at the production cost: the dummy hash was made with it at import.
    monkeypatch.setattr(passwords, "_hasher", PasswordHasher())
    real = passwords.hash_password("the-real-password")
    assert passwords.verify_password(None, "solvyd-timing-equaliser") is False
    known = _fastest(lambda: passwords.verify_password(real, "a-wrong-password"))
    unknown = _fastest(lambda: passwords.verify_password(None, "a-wrong-password"))
    # Same algorithm and cost, so within noise of each other (a lookup alone is microseconds).
    assert 0.5 < unknown / known < 2.0, (known, unknown)
