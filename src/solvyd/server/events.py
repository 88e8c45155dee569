"""Wake-ups: a trigger wakes long-polling claimers, a log batch wakes log readers, a cancel
wakes the agent's cancel watcher.

Waiters take a `Signal` *before* they look at the database and wait on it after, so a notify
that lands between the look and the wait is never missed. A wake-up is only a hint to look
again: a spurious one costs a query, a lost one costs a whole long-poll wait.

Some state kept in memory is also only good until a topic says otherwise (the cached worker
tokens): it `subscribe`s a callback, which runs whenever the topic is woken here, and on every
`wake_all`.

The hub alone wakes waiters in this process (enough for SQLite, which is single-server). With
a transport attached (PostgreSQL LISTEN/NOTIFY, `events_pg.py`) every `notify` also reaches
the hubs of the other server processes on the same database, which `wake` their waiters.
"""

import asyncio
import weakref
from collections.abc import Callable, Collection
from typing import Protocol

from solvyd.server.claim_waiters import (
    CLAIMABLE_PREFIX,
    WORKER_SLOT_PREFIX,
    ClaimableBuild,
    ClaimWaiters,
)
from solvyd.server.signals import Signal


async def wait_for_any(signals: Collection[Signal], seconds: float) -> bool:
    """True as soon as one of `signals` fires, False if `seconds` pass first."""
    waiters = [asyncio.ensure_future(signal.wait(seconds)) for signal in signals]
    try:
        if waiters:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
    return any(signal.fired for signal in signals)


class EventTransport(Protocol):
    """Carries this process's notifications to the other server processes' hubs."""

    def publish(self, topic: str) -> None:
        """Send `topic` soon; never blocks and never raises."""

    async def stop(self) -> None:
        """Stop sending and receiving, within a bounded time."""


class EventHub:
    def __init__(self) -> None:
        # Weak values: a topic nobody waits on any more (e.g. the cancel topic of a build that
        # ended normally) is forgotten instead of kept for the life of the process.
        self._signals: weakref.WeakValueDictionary[str, Signal] = weakref.WeakValueDictionary()
        self._closed = False
        self._transport: EventTransport | None = None
        # The long-polling claims, woken by the queue's topics (claim_waiters.py).
        self.claims = ClaimWaiters()
        self._callbacks: dict[str, list[Callable[[], None]]] = {}

    def attach(self, transport: EventTransport) -> None:
        self._transport = transport

    async def detach(self) -> None:
        """Stop the transport, if any; from now on wake-ups stay in this process."""
        transport, self._transport = self._transport, None
        if transport is not None:
            await transport.stop()

    def listen(self, topic: str) -> Signal:
        if self._closed:
            fired = Signal()
            fired.fire()
            return fired
        signal = self._signals.get(topic)
        if signal is None:
            signal = self._signals[topic] = Signal()
        return signal

    def subscribe(self, topic: str, callback: Callable[[], None]) -> None:
        """Call `callback` each time `topic` is woken in this process (notified here or by
        another server), and on every `wake_all`, when wake-ups may have been lost. For the
        life of the hub; it runs inside `notify`, so it must be quick and must not raise."""
        self._callbacks.setdefault(topic, []).append(callback)

    def close(self) -> None:
        """Wake every waiter, now and later: the server is shutting down, so long polls
        answer at once instead of holding the shutdown up. The transport keeps running (until
        `detach`): what the last requests commit must still reach the other servers."""
        self._closed = True
        self.claims.close()
        self.wake_all()

    @property
    def closed(self) -> bool:
        return self._closed

    def notify(self, topic: str) -> None:
        """Wake `topic`'s waiters here and, through the transport, in the other servers."""
        self.wake(topic)
        if self._transport is not None:
            self._transport.publish(topic)

    def wake(self, topic: str) -> None:
        """Wake `topic`'s waiters in this process only (the transport's entry point)."""
        if topic == ALL_TOPICS:
            self.wake_all()
            return
        if topic == QUEUE:
            self.claims.wake_all()
        elif topic.startswith(CLAIMABLE_PREFIX):
            build = ClaimableBuild.from_topic(topic)
            if build is None:  # from a server of another version: wake them all, as it would
                self.claims.wake_all()
            else:
                self.claims.wake_one(build)
            return
        elif topic.startswith(WORKER_SLOT_PREFIX):
            self.claims.wake_worker(topic.removeprefix(WORKER_SLOT_PREFIX))
            return
        signal = self._signals.pop(topic, None)
        if signal is not None:
            signal.fire()
        for callback in self._callbacks.get(topic, ()):
            callback()

    def wake_all(self) -> None:
        """Wake every waiter in this process, e.g. after wake-ups may have been lost."""
        signals = list(self._signals.values())
        self._signals.clear()
        for signal in signals:
            signal.fire()
        self.claims.wake_all()
        for callbacks in self._callbacks.values():
            for callback in callbacks:
                callback()


# Wakes every waiting claim: something may have freed work for any worker (a worker resumed,
# a backoff passed). A build that became claimable wakes one (`ClaimableBuild.topic`).
QUEUE = "queue"
# What a viewer sees change, for UIs to refetch (`GET /events/stream`): a build was created or
# changed status (or a step's), a worker's row changed (registered, drained, resumed, removed,
# went offline, runs another number of builds).
BUILDS = "builds"
WORKERS = "workers"
# A commit status report was recorded (services/commit_statuses): wakes this process's sender.
COMMIT_STATUSES = "commit-statuses"
# A notification delivery was recorded (services/notifications): wakes this process's sender.
NOTIFICATIONS = "notifications"
# A deployment was queued, approved or ended: wakes the deployment runners (every server's).
DEPLOYMENTS = "deployments"
# A worker token stopped working (its worker removed, or registered anew): every server forgets
# the tokens it verified (`auth/verified_tokens.py`).
WORKER_TOKENS = "worker-tokens"
# A login session ended or its user changed (logged out, ended as a refresh token's reuse, the
# user disabled or given a new role or password): every server forgets the sessions it
# verified (`auth/verified_tokens.py`).
USER_SESSIONS = "user-sessions"
# Not a topic of its own: wakes every waiter. Sent when wake-ups may have been lost.
ALL_TOPICS = "*"


def build_topic(build_id: object) -> str:
    return f"build:{build_id}"


def cancel_topic(build_id: object) -> str:
    return f"cancel:{build_id}"


def deployment_topic(deployment_id: object) -> str:
    return f"deployment:{deployment_id}"
