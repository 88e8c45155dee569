"""Integration-test tuning: cheap password hashing for the in-process app.

Every test gets a fresh database, so the server creates (hashes) the admin's password on each
start; at argon2's production cost that is ~0.13 s of CPU a test. Hashes made with cheaper
parameters are still argon2id and verify through the same code (the parameters live in the
hash). Server processes started by tests keep the production cost.
"""

from collections.abc import Iterator

import pytest
from argon2 import PasswordHasher

from solvyd.server.auth import passwords


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(
        passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )
    yield
