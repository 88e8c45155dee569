"""Which of the long-polling claims a newly claimable build wakes: one that can run it.

Waking every waiting claim for every build made each trigger cost one claim transaction per
waiting agent (fifty agents: fifty transactions, and the pool's connections with them) for
one build that only one of them could win. Here a build that became claimable wakes one idle
waiter whose worker can run it (its labels, whether it runs steps without an image), the one
that has waited longest. Events that may free work for anyone (a worker resumed, wake-ups
lost) still wake them all.

A wake-up stays a hint: the woken claim looks in the database and may find the build taken.
What keeps a build from being left with nobody looking is that a wake-up is never dropped
while its build may still be waiting for a worker:
- a waiter takes its place *before* it looks, so a build committed during its look wakes it;
- one that leaves (it won a build, its wait ran out, its agent went away) holding a wake-up it
  did not act on, or that won a different build than the one it was woken for, passes the
  wake-up on to the next waiter that can run that build;
- one that looked and could take nothing (its worker is draining or full) passes it on too,
  and is not woken for builds again until its worker can take one.
A claim that looked and found nothing although it could take a build drops the wake-up: the
build it was woken for is taken, or not claimable yet (its job at its concurrency limit: the
build ending that frees the slot wakes a waiter again).
"""

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from solvyd.server.signals import Signal

# Topics (events.py) of claim wake-ups: `QUEUE` wakes every waiting claim; these wake one.
CLAIMABLE_PREFIX = "claimable:"
# A worker's claims that could take nothing because the worker was full: its build ended.
WORKER_SLOT_PREFIX = "worker-slot:"


@dataclass(frozen=True)
class ClaimableBuild:
    """A build that has just become claimable, with what a worker needs to run it."""

    build_id: str
    labels: frozenset[str]
    needs_step_without_image: bool

    @classmethod
    def of(
        cls, build_id: uuid.UUID, labels: Iterable[str], needs_step_without_image: bool
    ) -> "ClaimableBuild":
        return cls(str(build_id), frozenset(labels), needs_step_without_image)

    def topic(self) -> str:
        payload = [self.build_id, sorted(self.labels), self.needs_step_without_image]
        return CLAIMABLE_PREFIX + json.dumps(payload, separators=(",", ":"))

    @classmethod
    def from_topic(cls, topic: str) -> "ClaimableBuild | None":
        """The build a topic names; None if it is not one this version can read."""
        try:
            build_id, labels, bare = json.loads(topic.removeprefix(CLAIMABLE_PREFIX))
        except (ValueError, TypeError):
            return None
        if not (
            isinstance(build_id, str)
            and isinstance(labels, list)
            and all(isinstance(label, str) for label in labels)
            and isinstance(bare, bool)
        ):
            return None
        return cls(build_id, frozenset(labels), bare)


def worker_slot_topic(worker_id: object) -> str:
    return f"{WORKER_SLOT_PREFIX}{worker_id}"


class ClaimWaiter:
    """One long-polling claim of one worker."""

    __slots__ = ("_signal", "able", "labels", "runs_steps_without_image", "woken_for", "worker_id")

    def __init__(self, worker_id: str) -> None:
        self.worker_id = worker_id
        # Unknown until its first look: until then it may be woken for anything.
        self.labels: frozenset[str] | None = None
        self.runs_steps_without_image = True
        # False while its worker can take no build (draining, or every slot held).
        self.able = True
        # The build a targeted wake-up named, until the waiter acts on it.
        self.woken_for: ClaimableBuild | None = None
        self._signal = Signal()

    def can_run(self, build: ClaimableBuild) -> bool:
        if not self.able:
            return False
        if build.needs_step_without_image and not self.runs_steps_without_image:
            return False
        return self.labels is None or build.labels <= self.labels

    @property
    def woken(self) -> bool:
        return self._signal.fired

    def fire(self, build: ClaimableBuild | None) -> None:
        self.woken_for = build
        self._signal.fire()

    def rearm(self) -> None:
        """Not woken any more (a signal fires once: a fired one is replaced)."""
        if self._signal.fired:
            self._signal = Signal()

    async def wait(self, seconds: float) -> bool:
        """True if woken, False if `seconds` passed first."""
        return await self._signal.wait(seconds)


class ClaimWaiters:
    """The waiting claims of this server process."""

    def __init__(self) -> None:
        # Not woken, longest waiting first (an ordered set).
        self._idle: dict[ClaimWaiter, None] = {}
        self._all: set[ClaimWaiter] = set()
        self._closed = False

    def join(self, worker_id: object) -> ClaimWaiter:
        """A new waiter, idle (call before its first look); `leave` it when done."""
        waiter = ClaimWaiter(str(worker_id))
        self._all.add(waiter)
        if self._closed:
            waiter.fire(None)
        else:
            self._idle[waiter] = None
        return waiter

    def look(self, waiter: ClaimWaiter) -> ClaimableBuild | None:
        """The waiter is about to look: it is idle again (at the back of the line), and this
        returns what it was woken for, which it now owns (see `handled`)."""
        woken_for, waiter.woken_for = waiter.woken_for, None
        if not self._closed:
            waiter.rearm()
            self._idle.pop(waiter, None)
            self._idle[waiter] = None
        return woken_for

    def handled(
        self,
        waiter: ClaimWaiter,
        woken_for: ClaimableBuild | None,
        *,
        won: str | None,
    ) -> None:
        """The waiter's look is over: it won the build `won` (or nothing). If it was woken for
        another build that it could not or did not take, the next waiter gets that wake-up."""
        if woken_for is None or woken_for.build_id == won:
            return
        if won is not None or not waiter.able:
            self.wake_one(woken_for)

    def leave(self, waiter: ClaimWaiter) -> None:
        self._all.discard(waiter)
        self._idle.pop(waiter, None)
        if waiter.woken and waiter.woken_for is not None:
            woken_for, waiter.woken_for = waiter.woken_for, None
            self.wake_one(woken_for)  # woken, but gone before it looked

    def wake_one(self, build: ClaimableBuild) -> bool:
        """Wake the longest-waiting idle waiter that can run `build`; False if none can."""
        for waiter in self._idle:
            if waiter.can_run(build):
                del self._idle[waiter]
                waiter.fire(build)
                return True
        return False

    def wake_worker(self, worker_id: str) -> None:
        """Wake the worker's waiters that could take nothing: one of its slots is free now."""
        for waiter in [w for w in self._idle if w.worker_id == worker_id and not w.able]:
            del self._idle[waiter]
            waiter.fire(None)

    def wake_all(self) -> None:
        waiters = list(self._idle)
        self._idle.clear()
        for waiter in waiters:
            waiter.fire(None)

    def close(self) -> None:
        """Wake every waiter, now and later (the server is shutting down)."""
        self._closed = True
        self.wake_all()

    def __len__(self) -> int:
        return len(self._all)
