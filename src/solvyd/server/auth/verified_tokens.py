"""Worker tokens verified recently, so that an agent's requests (several per build) are
authenticated without a database round trip each.

Only tokens the database vouched for are kept, by their digest (never the token itself), with
the identity they stand for. What revokes a token (a worker removed, or registered anew, which
rotates its token) empties the cache of every server process at once: the use case notifies
the event hub's `WORKER_TOKENS` topic, which reaches the other servers on the same PostgreSQL
through LISTEN/NOTIFY, and the hub also empties it whenever wake-ups may have been lost (the
listener reconnected). The TTL is the second line, for what no notification tells: a row
changed by hand, or by a server of an older version during a rolling upgrade.
"""

import time
import uuid
from dataclasses import dataclass

# How long a verified token is believed without asking the database again: as long as a log
# stream believes a user's token (`STREAM_AUTH_RECHECK_SECONDS`), so that a revocation no
# notification told of is honoured as soon everywhere. A busy agent makes several requests a
# second, so this spares nearly all of their lookups; an idle one polls every few seconds at
# most, whose lookups cost nothing that matters.
TTL_SECONDS = 5.0
# Each worker has one token, so this is the number of workers busy within one TTL that the
# cache serves; past it the oldest entry goes. Only verified tokens enter, so made-up tokens
# cannot fill it.
MAX_ENTRIES = 10_000


@dataclass(frozen=True, slots=True)
class WorkerIdentity:
    """Who a worker token stands for: all a worker's request needs to know of it."""

    id: uuid.UUID
    name: str


class VerifiedWorkerTokens:
    """Token digest -> the worker's identity, for TTL_SECONDS after the database said so.

    A lookup that raced a revocation must not be kept: take a `ticket()` before asking the
    database and give it to `put`, which keeps nothing if `forget_all` ran in between.
    """

    def __init__(self, ttl_seconds: float = TTL_SECONDS, max_entries: int = MAX_ENTRIES) -> None:
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        # Insertion order is expiry order: every entry lives the same TTL from its `put`.
        self._entries: dict[str, tuple[WorkerIdentity, float]] = {}
        self._generation = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, digest: str, now: float | None = None) -> WorkerIdentity | None:
        """The identity verified for `digest` within the TTL, else None. The lookup compares
        digests, whose timing tells nothing of a token, as the database's index lookup does."""
        entry = self._entries.get(digest)
        if entry is None:
            return None
        identity, expires_at = entry
        if (time.monotonic() if now is None else now) >= expires_at:
            del self._entries[digest]
            return None
        return identity

    def ticket(self) -> int:
        return self._generation

    def put(
        self, digest: str, identity: WorkerIdentity, ticket: int, now: float | None = None
    ) -> None:
        """Keep what the database said of `digest` since `ticket` was taken, unless a
        revocation came in between (what it read may predate the revocation's commit)."""
        if ticket != self._generation:
            return
        now = time.monotonic() if now is None else now
        self._entries.pop(digest, None)  # to the end: the latest to expire
        while len(self._entries) >= self.max_entries:
            del self._entries[next(iter(self._entries))]
        self._entries[digest] = (identity, now + self.ttl_seconds)

    def forget_all(self) -> None:
        """A token may have been revoked (or a revocation missed): ask the database again."""
        self._generation += 1
        self._entries.clear()
