"""Deliveries that arrive at once for the same job, on PostgreSQL: each queues its build with
its own number, none answers 500.

The job row is locked while a build takes its number; the hook service has read the job
before (in the same session), so the locked read must refresh it, or the second delivery
numbers its build from the first's stale copy and fails on the unique (job, number)."""

import asyncio

import httpx
import pytest

from tests.integration.test_hooks_receive import (
    FORGES,
    GH_REPO,
    SECRET,
    builds_of,
    create_job,
    deliveries,
    post,
)
from tests.support.forge_payloads import github, sign

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)

DELIVERIES = 8


async def test_concurrent_deliveries_for_one_job_each_queue_a_numbered_build(
    client: httpx.AsyncClient,
) -> None:
    job = await create_job(client, FORGES["github"]["scm_url"])
    # GitHub's push, a different commit per delivery (each has its own X-GitHub-Delivery).
    requests = [
        sign(github.push(repo=GH_REPO, after=f"{i + 1:040x}"), SECRET) for i in range(DELIVERIES)
    ]
    responses = await asyncio.gather(*(post(client, request) for request in requests))
    assert [r.status_code for r in responses] == [202] * DELIVERIES, [r.text for r in responses]
    assert all(r.json()["builds"] for r in responses), [r.json()["ignored"] for r in responses]
    numbers = sorted(r.json()["builds"][0]["number"] for r in responses)
    assert numbers == list(range(1, DELIVERIES + 1))
    builds = await builds_of(client, job["id"])
    assert sorted(b.commit_sha for b in builds) == sorted(r.payload["after"] for r in requests)
    assert [row.outcome for row in await deliveries(client)] == ["accepted"] * DELIVERIES
