"""A build that becomes claimable wakes one waiting claim that can run it, not every waiting
claim (issue 20: fifty waiting agents cost fifty claim transactions per trigger)."""

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import sqlalchemy as sa

from tests.integration.api_helpers import (
    API,
    admin_headers,
    claim,
    create_job,
    register_worker,
    set_status,
    timed,
    trigger,
)

WAITERS = 8


@contextmanager
def counting_claim_looks(http: httpx.AsyncClient) -> Iterator[list[str]]:
    """The claim queries (`dialects.lock_next_claimable_build`, the one that reads the jobs'
    load) the app runs meanwhile: one per look of a claim."""
    engine = http.app.state.ctx.db.engine.sync_engine  # type: ignore[attr-defined]
    looks: list[str] = []

    def statement(conn: Any, cursor: Any, text: str, *args: Any) -> None:
        if "job_load" in text:
            looks.append(text)

    sa.event.listen(engine, "before_cursor_execute", statement)
    try:
        yield looks
    finally:
        sa.event.remove(engine, "before_cursor_execute", statement)


async def _all_waiting(tasks: list[asyncio.Task[httpx.Response]], looks: list[str]) -> None:
    for _ in range(200):
        if len(looks) >= len(tasks):
            break
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.05)
    assert not any(task.done() for task in tasks)


async def _stop(tasks: list[asyncio.Task[httpx.Response]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def test_a_trigger_wakes_one_waiting_claim(client: httpx.AsyncClient) -> None:
    admin = await admin_headers(client)
    job = await create_job(client, admin)
    workers = [await register_worker(client, f"idle-{i}") for i in range(WAITERS)]
    with counting_claim_looks(client) as looks:
        waiting = [asyncio.create_task(claim(client, w, wait=20)) for w in workers]
        await _all_waiting(waiting, looks)
        before = len(looks)

        build = await trigger(client, admin, job["id"])
        done, _ = await asyncio.wait(waiting, timeout=5, return_when=asyncio.FIRST_COMPLETED)
        await asyncio.sleep(0.2)  # time for any other woken claim to look

        assert len(done) == 1
        answer = done.pop().result()
        assert answer.status_code == 200 and answer.json()["build_id"] == build["id"]
        assert len(looks) - before == 1, f"{len(looks) - before} claims looked for one build"
        await _stop(waiting)


async def test_a_build_wakes_a_claim_of_a_worker_that_can_run_it(
    client: httpx.AsyncClient,
) -> None:
    admin = await admin_headers(client)
    job = await create_job(client, admin, labels=["gpu"])
    plain = [await register_worker(client, f"plain-{i}") for i in range(3)]
    gpu = await register_worker(client, "gpu", labels=["gpu"])
    with counting_claim_looks(client) as looks:
        waiting = [asyncio.create_task(claim(client, w, wait=20)) for w in [*plain, gpu]]
        await _all_waiting(waiting, looks)
        before = len(looks)

        build = await trigger(client, admin, job["id"])
        answer, elapsed = await timed(waiting[-1], 5)

        assert answer.json()["build_id"] == build["id"]
        assert elapsed < 2
        assert len(looks) - before == 1
        assert not any(task.done() for task in waiting[:-1])
        await _stop(waiting[:-1])


async def test_a_wake_up_for_a_draining_worker_passes_to_one_that_can_take_the_build(
    client: httpx.AsyncClient,
) -> None:
    admin = await admin_headers(client)
    job = await create_job(client, admin)
    draining = await register_worker(client, "draining")
    ready = await register_worker(client, "ready")
    with counting_claim_looks(client) as looks:
        waiting = [asyncio.create_task(claim(client, w, wait=20)) for w in (draining, ready)]
        await _all_waiting(waiting, looks)
        # It drains while its claim waits: the claim learns it only when it looks.
        drained = await client.post(f"{API}/workers/{draining.id}/drain", headers=admin)
        assert drained.status_code == 200, drained.text
        # Draining wakes nobody; resuming would wake every claim.

        build = await trigger(client, admin, job["id"])
        answer, elapsed = await timed(waiting[1], 5)

        assert answer.json()["build_id"] == build["id"]
        assert elapsed < 2
        assert not waiting[0].done()
        await _stop(waiting[:1])


async def test_a_build_held_back_by_its_job_s_limit_wakes_a_claim_when_the_slot_frees(
    client: httpx.AsyncClient,
) -> None:
    admin = await admin_headers(client)
    job = await create_job(client, admin, max_concurrent_builds=1)
    first = await register_worker(client, "first")
    second = await register_worker(client, "second")
    running = await trigger(client, admin, job["id"])
    spec = (await claim(client, first)).json()
    assert spec["build_id"] == running["id"]
    held_back = await trigger(client, admin, job["id"])
    waiting = asyncio.create_task(claim(client, second, wait=20))
    await asyncio.sleep(0.3)
    assert not waiting.done()

    for status in ("running", "success"):
        assert (await set_status(client, first, running["id"], status)).status_code == 200
    answer, elapsed = await timed(waiting, 5)

    assert answer.json()["build_id"] == held_back["id"]
    assert elapsed < 2


async def test_a_wake_up_for_a_claim_whose_worker_was_removed_passes_to_another(
    client: httpx.AsyncClient,
) -> None:
    """Found in review: the woken claim's look failed (its worker removed meanwhile, 404) and
    the wake-up went with it; the build waited for the other claim's poll to end."""
    admin = await admin_headers(client)
    job = await create_job(client, admin)
    removed = await register_worker(client, "removed")
    other = await register_worker(client, "other")
    with counting_claim_looks(client) as looks:
        first = asyncio.create_task(claim(client, removed, wait=20))
        await _all_waiting([first], looks)  # the longest waiting: the one woken
        second = asyncio.create_task(claim(client, other, wait=20))
        await _all_waiting([first, second], looks)
    gone = await client.delete(f"{API}/workers/{removed.id}", headers=admin)
    assert gone.status_code == 204, gone.text

    build = await trigger(client, admin, job["id"])
    answer, elapsed = await timed(second, 5)

    assert answer.json()["build_id"] == build["id"]
    assert elapsed < 2
    assert (await first).status_code == 404  # its look: the worker is gone
