"""A job's `cancel_previous`: a new build cancels the older queued builds of its own kind only
(the same event, fork or not, pull request and tag, on the same branch).

The builds are started by real signed GitHub deliveries (push, tag push, pull_request from
the repository and from a fork; shapes from tests/support/forge_payloads/github.py, after
docs.github.com's webhook payload examples) and by the trigger API."""

from typing import Any

import httpx

from tests.integration.api_helpers import admin_headers, get_build, trigger
from tests.integration.test_hooks_receive import FORGES, GH_REPO, SECRET, create_job, post
from tests.support.forge_payloads import HookRequest, github, sign

FORK = github.repository("someone", "hello-world")


async def _queued(client: httpx.AsyncClient, request: HookRequest) -> str:
    response = await post(client, sign(request, SECRET))
    assert response.status_code == 202, response.text
    (build,) = response.json()["builds"]
    return str(build["id"])


def _sha(n: int) -> str:
    return f"{n:040x}"


async def test_a_new_build_cancels_only_older_queued_builds_of_its_kind(
    client: httpx.AsyncClient,
) -> None:
    job = await create_job(client, FORGES["github"]["scm_url"], cancel_previous=True)
    admin = await admin_headers(client)

    def push(n: int) -> HookRequest:
        return github.push(repo=GH_REPO, ref="refs/heads/changes", after=_sha(n))

    def tag(name: str, n: int) -> HookRequest:
        return github.push(repo=GH_REPO, ref=f"refs/tags/{name}", after=_sha(n))

    def pull(number: int, n: int, **fields: Any) -> HookRequest:
        # Every pull request's head branch is `changes`, like the pushed branch.
        return github.pull_request(
            repo=GH_REPO, number=number, head_ref="changes", head_sha=_sha(n), **fields
        )

    # One queued build of each kind, all on (or from) the branch `changes` but the tags.
    first = {
        "push": await _queued(client, push(1)),
        "pull request #1": await _queued(client, pull(1, 2)),
        "pull request #2": await _queued(client, pull(2, 3)),
        "fork's pull request #3": await _queued(client, pull(3, 4, head_repo=FORK)),
        "tag v1.0": await _queued(client, tag("v1.0", 5)),
        "tag v2.0": await _queued(client, tag("v2.0", 6)),
        "manual": str((await trigger(client, admin, job["id"], branch="changes"))["id"]),
    }

    async def statuses() -> dict[str, str]:
        return {
            kind: (await get_build(client, admin, build_id))["status"]
            for kind, build_id in first.items()
        }

    # None superseded another: they are all of different kinds.
    assert set((await statuses()).values()) == {"queued"}

    # A newer build of each kind cancels that kind's first build, and only it.
    newer: dict[str, HookRequest | None] = {
        "push": push(11),
        "pull request #1": pull(1, 12, action="synchronize"),
        "fork's pull request #3": pull(3, 14, action="synchronize", head_repo=FORK),
        "tag v1.0": tag("v1.0", 15),
        "manual": None,
    }
    expected = dict.fromkeys(first, "queued")
    for kind, request in newer.items():
        if request is None:
            await trigger(client, admin, job["id"], branch="changes")
        else:
            await _queued(client, request)
        expected[kind] = "cancelled"
        assert await statuses() == expected, kind

    superseded = await get_build(client, admin, first["push"])
    assert superseded["error_message"].startswith("superseded by build #")
