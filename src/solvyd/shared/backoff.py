"""Exponential backoff with jitter, so many agents retrying do not stampede the server."""

import random
from collections.abc import Iterator


def backoff_delays(base: float = 0.2, cap: float = 10.0, factor: float = 2.0) -> Iterator[float]:
    """Yield an endless series of delays: uniform in [c/2, c], c = min(cap, base * factor**n)."""
    attempt = 0
    while True:
        ceiling = min(cap, base * factor**attempt)
        yield random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not security
        attempt += 1
