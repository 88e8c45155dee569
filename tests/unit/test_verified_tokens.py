"""The cache of verified credentials (here worker tokens), with explicit times, and the hub
topics that empty it."""

import uuid

import pytest

from solvyd.server.auth.worker_tokens import VerifiedWorkerTokens, WorkerIdentity
from solvyd.server.events import ALL_TOPICS, QUEUE, USER_SESSIONS, WORKER_TOKENS, EventHub


def _identity(name: str = "builder") -> WorkerIdentity:
    return WorkerIdentity(id=uuid.uuid4(), name=name)


def test_a_verified_token_is_believed_for_the_ttl_and_no_longer() -> None:
    cache = VerifiedWorkerTokens(ttl_seconds=5.0)
    worker = _identity()
    cache.put("digest-a", worker, cache.ticket(), now=100.0)
    assert cache.get("digest-a", now=104.9) == worker
    # Believed from when the database said so, not from the last use: use does not extend it.
    assert cache.get("digest-a", now=105.0) is None
    assert len(cache) == 0
    assert cache.get("digest-b", now=100.0) is None


def test_a_lookup_that_raced_a_revocation_is_not_kept() -> None:
    cache = VerifiedWorkerTokens()
    ticket = cache.ticket()  # taken before asking the database...
    cache.forget_all()  # ...which a revocation committed to meanwhile
    cache.put("digest-a", _identity(), ticket, now=0.0)
    assert cache.get("digest-a", now=0.0) is None
    cache.put("digest-a", _identity(), cache.ticket(), now=0.0)  # asked again: kept
    assert cache.get("digest-a", now=0.0) is not None


def test_forget_all_forgets_every_token() -> None:
    cache = VerifiedWorkerTokens()
    for n in range(3):
        cache.put(f"digest-{n}", _identity(), cache.ticket(), now=0.0)
    cache.forget_all()
    assert [cache.get(f"digest-{n}", now=0.0) for n in range(3)] == [None, None, None]


def test_the_cache_is_bounded_and_the_oldest_entry_goes_first() -> None:
    cache = VerifiedWorkerTokens(ttl_seconds=5.0, max_entries=3)
    for n in range(10):
        cache.put(f"digest-{n}", _identity(), cache.ticket(), now=float(n) / 10)
    assert len(cache) == 3
    assert [cache.get(f"digest-{n}", now=1.0) is not None for n in range(10)] == (
        [False] * 7 + [True] * 3
    )
    # Verified again, an entry is the newest: the next one in evicts another.
    cache.put("digest-7", _identity(), cache.ticket(), now=1.0)
    cache.put("digest-10", _identity(), cache.ticket(), now=1.0)
    assert cache.get("digest-7", now=1.0) is not None
    assert cache.get("digest-8", now=1.0) is None


@pytest.mark.parametrize("topic", [WORKER_TOKENS, USER_SESSIONS])
def test_the_hub_calls_a_topics_subscribers_on_its_wake_ups_and_on_every_wake_all(
    topic: str,
) -> None:
    hub = EventHub()
    calls: list[str] = []
    hub.subscribe(topic, lambda: calls.append("tokens"))
    hub.notify(QUEUE)
    assert calls == []
    hub.notify(topic)  # this server's own notification
    hub.wake(topic)  # another server's, through the transport
    assert calls == ["tokens", "tokens"]
    hub.wake(ALL_TOPICS)  # another server's "wake everything"
    hub.wake_all()  # the transport reconnected: notifications may have been lost
    assert calls == ["tokens"] * 4
