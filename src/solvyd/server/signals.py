"""A one-shot wake-up that a waiter awaits with a timeout (the event hub's and the claims')."""

import asyncio


class Signal:
    # Weak-referenceable: the hub holds a topic's signal only while some waiter holds it.
    __slots__ = ("__weakref__", "_event")

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

    @property
    def fired(self) -> bool:
        return self._event.is_set()
