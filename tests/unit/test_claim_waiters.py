"""The waiting claims a claimable build wakes (server/claim_waiters.py): one that can run it,
the longest waiting first, and a wake-up is passed on rather than lost."""

import asyncio

from solvyd.server.claim_waiters import CLAIMABLE_PREFIX, ClaimableBuild, ClaimWaiter, ClaimWaiters
from solvyd.server.events import QUEUE, EventHub

GPU = ClaimableBuild("b-gpu", frozenset({"gpu"}), False)
PLAIN = ClaimableBuild("b-plain", frozenset(), False)
BARE = ClaimableBuild("b-bare", frozenset(), True)


def _waiting(claims: ClaimWaiters, worker: str, labels: set[str], bare: bool = True) -> ClaimWaiter:
    waiter = claims.join(worker)
    claims.look(waiter)
    waiter.labels, waiter.runs_steps_without_image = frozenset(labels), bare
    return waiter


def test_wakes_only_the_longest_waiting_claim_that_can_run_the_build() -> None:
    claims = ClaimWaiters()
    plain_1 = _waiting(claims, "w1", set())
    container_only = _waiting(claims, "w2", {"gpu"}, bare=False)
    gpu = _waiting(claims, "w3", {"gpu", "linux"})
    plain_2 = _waiting(claims, "w4", {"linux"})

    assert claims.wake_one(GPU)
    assert [w.woken for w in (plain_1, container_only, gpu, plain_2)] == [False, True, False, False]
    assert container_only.woken_for == GPU

    assert claims.wake_one(BARE)  # container_only cannot, and is woken already
    assert [w.woken for w in (plain_1, gpu, plain_2)] == [True, False, False]

    assert claims.wake_one(PLAIN)
    assert claims.wake_one(PLAIN)
    assert [w.woken for w in (gpu, plain_2)] == [True, True]
    assert not claims.wake_one(PLAIN)  # nobody idle: the next claim to look finds it


def test_a_claim_that_looks_again_goes_to_the_back_of_the_line() -> None:
    claims = ClaimWaiters()
    first, second = _waiting(claims, "w1", set()), _waiting(claims, "w2", set())
    claims.wake_one(PLAIN)
    assert first.woken and not second.woken
    assert claims.look(first) == PLAIN
    assert not first.woken
    claims.wake_one(PLAIN)
    assert second.woken and not first.woken


def test_a_claim_that_leaves_before_acting_on_its_wake_up_passes_it_on() -> None:
    claims = ClaimWaiters()
    gone, other = _waiting(claims, "w1", set()), _waiting(claims, "w2", set())
    claims.wake_one(ClaimableBuild("b", frozenset(), False))
    claims.leave(gone)  # its agent went away before it looked
    assert other.woken and other.woken_for is not None and other.woken_for.build_id == "b"
    assert len(claims) == 1


def test_a_claim_that_won_another_build_or_could_take_none_passes_its_wake_up_on() -> None:
    claims = ClaimWaiters()
    winner, unable, last = (_waiting(claims, f"w{i}", set()) for i in range(3))
    claims.wake_one(PLAIN)
    woken_for = claims.look(winner)
    claims.handled(winner, woken_for, won="an-older-build")
    assert unable.woken and unable.woken_for == PLAIN

    woken_for = claims.look(unable)
    unable.able = False  # its worker turned out to be draining
    claims.handled(unable, woken_for, won=None)
    assert last.woken and last.woken_for == PLAIN
    claims.wake_one(PLAIN)
    assert winner.woken and not unable.woken, "a claim that can take nothing is not woken"


def test_a_claim_that_found_nothing_it_could_take_drops_the_wake_up() -> None:
    claims = ClaimWaiters()
    looked, other = _waiting(claims, "w1", set()), _waiting(claims, "w2", set())
    claims.wake_one(PLAIN)
    claims.handled(looked, claims.look(looked), won=None)  # taken by someone else meanwhile
    assert not other.woken
    claims.handled(looked, None, won="x")  # a look of its own accord passes nothing on
    assert not other.woken


def test_a_full_worker_s_claims_wake_when_one_of_its_slots_frees() -> None:
    claims = ClaimWaiters()
    full, busy_elsewhere = _waiting(claims, "w1", set()), _waiting(claims, "w2", set())
    full.able = busy_elsewhere.able = False
    claims.wake_worker("w1")
    assert full.woken and not busy_elsewhere.woken


async def test_the_hub_routes_queue_topics_to_the_claims() -> None:
    hub = EventHub()
    a, b = hub.claims.join("w1"), hub.claims.join("w2")
    hub.notify(PLAIN.topic())
    assert await a.wait(1) and not b.woken
    hub.notify(QUEUE)  # may free work for anyone
    assert await b.wait(1)
    c = hub.claims.join("w3")
    hub.notify(CLAIMABLE_PREFIX + "not json")  # another version's topic: wake them all
    assert await c.wait(1)
    hub.close()
    late = hub.claims.join("w4")
    assert late.woken, "a claim that starts while the server stops answers at once"


def test_topics_round_trip_and_refuse_what_they_cannot_read() -> None:
    build = ClaimableBuild("id", frozenset({"b", "a"}), True)
    assert ClaimableBuild.from_topic(build.topic()) == build
    for payload in ("", "[]", '["id", "a", true]', '["id", [1], true]', "[1, [], false]", "{}"):
        assert ClaimableBuild.from_topic(CLAIMABLE_PREFIX + payload) is None


async def test_a_woken_claim_waits_no_longer() -> None:
    claims = ClaimWaiters()
    waiter = _waiting(claims, "w1", set())
    woke = asyncio.create_task(waiter.wait(5))
    await asyncio.sleep(0)
    claims.wake_one(PLAIN)
    assert await asyncio.wait_for(woke, 1)
    assert not await _waiting(claims, "w2", set()).wait(0.01)
