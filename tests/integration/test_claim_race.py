"""Atomic claims: however many workers race for the queue, each build goes to exactly one."""

import asyncio
from collections import Counter

import httpx

from tests.integration.api_helpers import (
    API,
    Worker,
    admin_headers,
    claim,
    create_job,
    register_worker,
    set_status,
    timed,
    trigger,
)

BUILDS = 30
WORKERS = 10


async def _claim_until_empty(http: httpx.AsyncClient, worker: Worker) -> list[str]:
    """Claim, run (report running then success) and claim again until the queue is empty."""
    claimed: list[str] = []
    for _ in range(BUILDS + 1):
        response = await claim(http, worker, wait=0)
        if response.status_code == 204:
            return claimed
        assert response.status_code == 200, response.text
        build_id = response.json()["build_id"]
        claimed.append(build_id)
        for status in ("running", "success"):
            reported = await set_status(http, worker, build_id, status)
            assert reported.status_code == 200, reported.text
    raise AssertionError(f"{worker.name} claimed more builds than were queued: {claimed}")


async def test_every_build_is_claimed_exactly_once(client: httpx.AsyncClient) -> None:
    admin = await admin_headers(client)
    job = await create_job(client, admin)
    created = {(await trigger(client, admin, job["id"]))["id"] for _ in range(BUILDS)}
    workers = [await register_worker(client, f"racer-{i}") for i in range(WORKERS)]

    results = await asyncio.wait_for(
        asyncio.gather(*(_claim_until_empty(client, w) for w in workers)), 60
    )

    counts = Counter(build_id for claimed in results for build_id in claimed)
    assert set(counts) == created
    assert set(counts.values()) == {1}, [b for b, n in counts.items() if n > 1]

    # The server agrees on who ran what.
    listed = (await client.get(f"{API}/builds", headers=admin, params={"limit": BUILDS})).json()[
        "items"
    ]
    owner = {b: w.id for w, claimed in zip(workers, results, strict=True) for b in claimed}
    assert {b["id"]: b["worker_id"] for b in listed} == owner
    assert {b["status"] for b in listed} == {"success"}


async def test_one_wake_up_serves_every_waiting_claimer_once(client: httpx.AsyncClient) -> None:
    admin = await admin_headers(client)
    job = await create_job(client, admin)
    workers = [await register_worker(client, f"waiter-{i}") for i in range(WORKERS)]
    waiting = [asyncio.create_task(claim(client, w, wait=10)) for w in workers]
    await asyncio.sleep(0.3)  # every claimer has found the queue empty and waits
    assert not any(task.done() for task in waiting)

    created = {(await trigger(client, admin, job["id"]))["id"] for _ in range(WORKERS)}
    responses, elapsed = await timed(asyncio.gather(*waiting), 10)

    assert [r.status_code for r in responses] == [200] * WORKERS
    claimed = [r.json()["build_id"] for r in responses]
    assert sorted(claimed) == sorted(created)
    assert elapsed < 5.0


async def test_concurrent_triggers_number_builds_without_gaps(client: httpx.AsyncClient) -> None:
    admin = await admin_headers(client)
    job = await create_job(client, admin)
    builds = await asyncio.wait_for(
        asyncio.gather(*(trigger(client, admin, job["id"]) for _ in range(BUILDS))), 60
    )
    assert sorted(b["number"] for b in builds) == list(range(1, BUILDS + 1))
    assert len({b["id"] for b in builds}) == BUILDS


async def test_concurrent_claims_of_one_worker_respect_its_concurrency(
    client: httpx.AsyncClient,
) -> None:
    """A retried claim can overlap one still held by the server (a client-side timeout), and
    the seed's polling path can run beside the long poll: the worker's limit must still hold."""
    admin = await admin_headers(client)
    job = await create_job(client, admin)
    for _ in range(WORKERS):
        await trigger(client, admin, job["id"])
    for round_ in range(3):
        worker = await register_worker(client, f"single-{round_}", concurrency=1)
        responses = await asyncio.wait_for(
            asyncio.gather(*(claim(client, worker, wait=0) for _ in range(WORKERS))), 30
        )
        assert sorted(r.status_code for r in responses) == [200] + [204] * (WORKERS - 1)
