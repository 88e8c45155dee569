"""Badges: the SVG of a public job's last finished build of its default branch (or the one
asked), never a pull request's or a tag's; the same 404 for a private job and a missing one;
hostile text escaped."""

import xml.etree.ElementTree as ET
from typing import Any

import httpx
import pytest

from tests.integration.api_helpers import (
    API,
    Headers,
    admin_headers,
    claim_build,
    create_job,
    register_worker,
    set_status,
    trigger,
)
from tests.support.forge_payloads import HookRequest, github, sign

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
async def admin(client: httpx.AsyncClient) -> Headers:
    return await admin_headers(client)


async def _finish(
    client: httpx.AsyncClient, admin: Headers, job: dict[str, Any], status: str, **body: Any
) -> None:
    """Trigger a build of `job` and have a worker run it to `status`."""
    build = await trigger(client, admin, job["id"], **body)
    await _run(client, build["id"], status)


async def _run(client: httpx.AsyncClient, build_id: str, status: str) -> None:
    """Have a worker run the (only) queued build to `status`."""
    worker = await register_worker(client)
    assert (await claim_build(client, worker))["build_id"] == build_id
    for state in ("running", status):
        response = await set_status(client, worker, build_id, state)
        assert response.status_code == 200, response.text


async def _badge(client: httpx.AsyncClient, name: str, **params: str) -> tuple[str, str]:
    """The badge's message and title, from the SVG as an XML parser reads it."""
    response = await client.get(f"{API}/badges/{name}.svg", params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("image/svg+xml")
    assert response.headers["cache-control"] == "no-cache"
    root = ET.fromstring(response.text)  # noqa: S314 - our own server's answer
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert texts[:2] == ["build", "build"]
    title = root.find(f"{SVG}title")
    assert title is not None and title.text is not None
    assert root.get("aria-label") == title.text
    return str(texts[-1]), title.text


async def test_a_public_badge_shows_the_last_finished_build(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    job = await create_job(client, admin, branch="main", public_badge=True)
    assert await _badge(client, job["name"]) == ("unknown", "build on main: unknown")

    await _finish(client, admin, job, "success")
    assert (await _badge(client, job["name"]))[0] == "passing"

    await _finish(client, admin, job, "failure", branch="dev")
    # Without ?branch=, the job's own branch: dev's failure is not main's.
    assert await _badge(client, job["name"]) == ("passing", "build on main: passing")
    assert await _badge(client, job["name"], branch="main") == ("passing", "build on main: passing")
    assert (await _badge(client, job["name"], branch="dev"))[0] == "failing"
    assert (await _badge(client, job["name"], branch="none-yet"))[0] == "unknown"

    # A build not finished yet does not change the badge.
    queued = await trigger(client, admin, job["id"])
    assert (await _badge(client, job["name"]))[0] == "passing"

    cancelled = await client.post(f"{API}/builds/{queued['id']}/cancel", headers=admin)
    assert cancelled.status_code == 200, cancelled.text
    assert (await _badge(client, job["name"]))[0] == "cancelled"


async def test_a_job_without_a_branch_shows_its_last_build_of_any_branch(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    job = await create_job(client, admin, public_badge=True)
    await _finish(client, admin, job, "success", branch="main")
    await _finish(client, admin, job, "failure", branch="dev")
    assert await _badge(client, job["name"]) == ("failing", "build: failing")


async def _hook_build(client: httpx.AsyncClient, request: HookRequest, secret: str) -> str:
    signed = sign(request, secret)
    response = await client.post(f"{API}/hooks/github", headers=signed.headers, content=signed.body)
    assert response.status_code == 202, response.text
    [build] = response.json()["builds"]
    return str(build["id"])


async def test_pull_request_and_tag_builds_never_show_on_the_badge(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    """A push to main passes; then a pull request from a fork's own `main` branch fails (its
    build's branch is `main` too), and so do a tag's build and a retry of the pull request's:
    the badge, of main or of any branch asked, still says main passed. Requests are GitHub's
    webhooks as it documents them (tests/support/forge_payloads/github.py)."""
    secret = "badge-hook-secret-42"
    repo = github.repository("octo-org", "hello-world")
    job = await create_job(
        client,
        admin,
        scm_url="https://github.com/octo-org/hello-world.git",
        branch="main",
        webhook_secret=secret,
        public_badge=True,
    )
    await _run(client, await _hook_build(client, github.push(repo=repo), secret), "success")
    fork = github.repository("someone", "hello-world")
    pull = github.pull_request(repo=repo, head_repo=fork, head_ref="main", base_ref="main")
    pull_build = await _hook_build(client, pull, secret)
    await _run(client, pull_build, "failure")
    tag = github.push(repo=repo, ref="refs/tags/v1.0")
    await _run(client, await _hook_build(client, tag, secret), "failure")
    retried = await client.post(f"{API}/builds/{pull_build}/retry", headers=admin)
    assert retried.status_code == 201, retried.text
    await _run(client, retried.json()["id"], "failure")

    # Three are builds of `main` (the fork's pull request, its retry, the push); the tag's is
    # on no branch.
    builds = (await client.get(f"{API}/builds", headers=admin)).json()["items"]
    assert sorted((b["branch"] or "", b["status"]) for b in builds) == [
        ("", "failure"),
        ("main", "failure"),
        ("main", "failure"),
        ("main", "success"),
    ]
    assert await _badge(client, job["name"]) == ("passing", "build on main: passing")
    assert (await _badge(client, job["name"], branch="main"))[0] == "passing"
    assert (await _badge(client, job["name"], branch="v1.0"))[0] == "unknown"


async def test_a_private_job_and_a_missing_one_answer_the_same_404(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    private = await create_job(client, admin)
    await _finish(client, admin, private, "success")
    answers = [
        await client.get(f"{API}/badges/{name}.svg", params=params)
        for name in (private["name"], "no-such-job")
        for params in ({}, {"branch": "main"})
    ]
    assert {r.status_code for r in answers} == {404}
    assert len({r.content for r in answers}) == 1
    assert answers[0].json()["error"]["code"] == "not_found"

    # Made public, it answers; made private again, the same 404 again.
    public = await client.patch(
        f"{API}/jobs/{private['id']}", headers=admin, json={"public_badge": True}
    )
    assert public.status_code == 200 and public.json()["public_badge"] is True
    assert (await _badge(client, private["name"]))[0] == "passing"
    await client.patch(f"{API}/jobs/{private['id']}", headers=admin, json={"public_badge": False})
    again = await client.get(f"{API}/badges/{private['name']}.svg")
    assert again.status_code == 404 and again.content == answers[0].content


async def test_hostile_branch_text_is_escaped(client: httpx.AsyncClient, admin: Headers) -> None:
    job = await create_job(client, admin, public_badge=True)
    hostile = "\"><script>alert(1)</script><x a='&amp;"
    response = await client.get(f"{API}/badges/{job['name']}.svg", params={"branch": hostile})
    assert response.status_code == 200, response.text
    assert "<script>" not in response.text
    assert "&lt;script&gt;" in response.text
    # Well-formed, and the text reads back as it was sent.
    message, title = await _badge(client, job["name"], branch=hostile)
    assert (message, title) == ("unknown", f"build on {hostile}: unknown")
    too_long = await client.get(f"{API}/badges/{job['name']}.svg", params={"branch": "b" * 256})
    assert too_long.status_code == 422
