"""Credentials verified recently, so that a caller's requests are authenticated without a
database round trip each: an agent's worker token (several requests per build), a user's
access token (every page and refetch of the UI).

Only what the database vouched for is kept, by a key that says nothing of the secret (a
token's digest, or the id of the session a verified access token names), with what it stands
for. Whatever revokes one (a worker removed or registered anew; a session logged out or ended,
a user disabled, given a new role or password) empties the cache of every server process at
once: the use case notifies the cache's event hub topic after its commit, which reaches the
other servers on the same PostgreSQL through LISTEN/NOTIFY, and the hub also empties it
whenever wake-ups may have been lost (the listener reconnected). The TTL is the second line,
for what no notification tells: a row changed by hand, or by a server of an older version
during a rolling upgrade.
"""

import time
from collections.abc import Hashable
from typing import Generic, TypeVar

# How long a verified credential is believed without asking the database again: as long as a
# log stream believes a user's token (`STREAM_AUTH_RECHECK_SECONDS`), so that a revocation no
# notification told of is honoured as soon everywhere. A busy caller makes several requests a
# second, so this spares nearly all of their lookups; an idle one's cost nothing that matters.
TTL_SECONDS = 5.0
# The callers busy within one TTL that a cache serves; past it the oldest entry goes. Only
# verified credentials enter, so made-up ones cannot fill it.
MAX_ENTRIES = 10_000

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class VerifiedTokens(Generic[K, V]):
    """Key -> what the database said it stands for, for TTL_SECONDS after it said so.

    A lookup that raced a revocation must not be kept: take a `ticket()` before asking the
    database and give it to `put`, which keeps nothing if `forget_all` ran in between.
    """

    def __init__(self, ttl_seconds: float = TTL_SECONDS, max_entries: int = MAX_ENTRIES) -> None:
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        # Insertion order is expiry order: every entry lives the same TTL from its `put`.
        self._entries: dict[K, tuple[V, float]] = {}
        self._generation = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: K, now: float | None = None) -> V | None:
        """What was verified for `key` within the TTL, else None. Keys are digests or ids,
        whose comparison timing tells nothing of a secret, as the database's lookup does."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        value, expires_at = entry
        if (time.monotonic() if now is None else now) >= expires_at:
            del self._entries[key]
            return None
        return value

    def ticket(self) -> int:
        return self._generation

    def put(self, key: K, value: V, ticket: int, now: float | None = None) -> None:
        """Keep what the database said of `key` since `ticket` was taken, unless a revocation
        came in between (what it read may predate the revocation's commit)."""
        if ticket != self._generation:
            return
        now = time.monotonic() if now is None else now
        self._entries.pop(key, None)  # to the end: the latest to expire
        while len(self._entries) >= self.max_entries:
            del self._entries[next(iter(self._entries))]
        self._entries[key] = (value, now + self.ttl_seconds)

    def forget_all(self) -> None:
        """Something may have been revoked (or a revocation missed): ask the database again."""
        self._generation += 1
        self._entries.clear()
