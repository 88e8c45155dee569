"""What changed, for UIs that refetch rather than poll: the `builds`, `workers` and
`deployments` topics of the event hub, coalesced.

A wake-up says only *that* something changed, never what: the reader fetches the new state
itself, after the wake-up, so it never shows one older than the wake-up. With PostgreSQL the
hub's transport brings the topics of the other server processes too.
"""

import asyncio
from collections.abc import AsyncIterator, Iterable

from solvyd.server.events import BUILDS, DEPLOYMENTS, WORKERS, wait_for_any
from solvyd.server.services.context import ServerContext
from solvyd.server.signals import Signal

TOPICS = (BUILDS, WORKERS, DEPLOYMENTS)
# Wake-ups this close together become one: a burst (a trigger with its claim and start, a
# reaper round) costs the reader one refetch per topic, not one per change.
COALESCE_SECONDS = 0.2


class ChangeFeed:
    """Listens from its creation on: made before the answer's first byte, it misses nothing
    that changes after the reader could have started fetching."""

    def __init__(self, ctx: ServerContext) -> None:
        self._events = ctx.events
        self._signals = self._listen(TOPICS)

    async def follow(self, tick_seconds: float) -> AsyncIterator[list[str]]:
        """The topics that changed, as they change; an empty list after `tick_seconds` with
        no change (so the caller can do its periodic work). Ends when the hub closes, at
        server shutdown."""
        while True:
            woken = await wait_for_any(list(self._signals.values()), tick_seconds)
            if self._events.closed:
                return
            if not woken:
                yield []
                continue
            await asyncio.sleep(COALESCE_SECONDS)
            if self._events.closed:
                return
            changed = [topic for topic, signal in self._signals.items() if signal.fired]
            # A fired signal is spent: listen anew before the reader hears of it, so what
            # changes after the reader's refetch wakes us again.
            self._signals.update(self._listen(changed))
            yield changed

    def _listen(self, topics: Iterable[str]) -> dict[str, Signal]:
        return {topic: self._events.listen(topic) for topic in topics}
