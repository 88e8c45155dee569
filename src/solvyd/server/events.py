"""In-process wake-ups: a trigger wakes long-polling claimers, a log batch wakes log readers,
a cancel wakes the agent's cancel watcher.

Waiters take a `Signal` *before* they look at the database and wait on it after, so a notify
that lands between the look and the wait is never missed. A cross-process transport
(PostgreSQL LISTEN/NOTIFY) can later call `notify` from its listener without changing callers.
"""

import asyncio
from collections import defaultdict


class Signal:
    __slots__ = ("_event",)

    def __init__(self) -> None:
        self._event = asyncio.Event()

    async def wait(self, seconds: float) -> bool:
        """True if notified, False if `seconds` passed first."""
        try:
            async with asyncio.timeout(seconds):
                await self._event.wait()
        except TimeoutError:
            return False
        return True

    def fire(self) -> None:
        self._event.set()


class EventHub:
    def __init__(self) -> None:
        self._signals: dict[str, Signal] = defaultdict(Signal)
        self._closed = False

    def listen(self, topic: str) -> Signal:
        if self._closed:
            signal = Signal()
            signal.fire()
            return signal
        return self._signals[topic]

    def close(self) -> None:
        """Wake every waiter, now and later: the server is shutting down, so long polls
        answer at once instead of holding the shutdown up."""
        self._closed = True
        for signal in self._signals.values():
            signal.fire()
        self._signals.clear()

    @property
    def closed(self) -> bool:
        return self._closed

    def notify(self, topic: str) -> None:
        signal = self._signals.pop(topic, None)
        if signal is not None:
            signal.fire()


QUEUE = "queue"


def build_topic(build_id: object) -> str:
    return f"build:{build_id}"


def cancel_topic(build_id: object) -> str:
    return f"cancel:{build_id}"
