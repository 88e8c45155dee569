"""Failed-login counting: a sliding window of failure times per key (a username, an address).

The counts live in this process's memory: each server process counts on its own, and a restart
forgets them. Several replicas behind one load balancer therefore allow up to (replicas x limit)
failures per window in the worst case; still a few hundred guesses a day per user, not the
millions an unlimited endpoint allows.
"""

import time
from collections import deque

# Past this many keys, keys whose failures all left the window are dropped; a spray of
# made-up usernames then cannot grow the table without bound.
MAX_KEYS = 10_000


class LoginThrottle:
    """Failure times per key, from `time.monotonic()` unless a caller gives its own `now`.
    The window is given with each question (it is a setting, which tests lower)."""

    def __init__(self, max_keys: int = MAX_KEYS) -> None:
        self.max_keys = max_keys
        self._failures: dict[str, deque[float]] = {}
        self._window = 0.0  # the latest window asked about; pruning forgets what left it

    def wait_seconds(self, key: str, limit: int, window: float, now: float | None = None) -> float:
        """How long until `key` may try again: 0 while it has fewer than `limit` failures in
        the window, else until enough of them have left it."""
        now = time.monotonic() if now is None else now
        self._window = window
        times = self._recent(key, now)
        if len(times) < limit:
            return 0.0
        return max(0.0, times[len(times) - limit] + window - now)

    def add_failure(self, key: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        if key not in self._failures and len(self._failures) >= self.max_keys:
            self._prune(now)
        self._failures.setdefault(key, deque()).append(now)

    def forget_one(self, key: str) -> None:
        """Take back the latest failure (one counted before its outcome was known)."""
        times = self._failures.get(key)
        if times:
            times.pop()
            if not times:
                del self._failures[key]

    def clear(self, key: str) -> None:
        self._failures.pop(key, None)

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and times[0] <= now - self._window:
            times.popleft()
        if not times:
            del self._failures[key]
        return times

    def _prune(self, now: float) -> None:
        for key in list(self._failures):
            self._recent(key, now)
        # Still full of live keys: an attack is under way; the oldest keys go first.
        while len(self._failures) >= self.max_keys:
            del self._failures[next(iter(self._failures))]
