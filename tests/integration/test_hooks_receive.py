"""POST /hooks/{forge}: each forge's push, tag and pull request, signed right and wrong,
redelivered, from a fork, deleting a branch; pings, malformed bodies, the size limit.

The requests are built by tests/support/forge_payloads, shaped like each forge's documented
examples (each module there names its source)."""

import asyncio
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from solvyd.server.db.models import Build, WebhookDelivery
from tests.integration.api_helpers import API, PIPELINE, admin_headers, assert_error, unique
from tests.support.forge_payloads import ZERO, HookRequest, bitbucket, gitea, github, gitlab, sign
from tests.support.git_repos import git, make_repo

SECRET = "a-webhook-secret-0123"
SHA = "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"


async def create_job(
    client: httpx.AsyncClient, scm_url: str, secret: str | None = SECRET, **fields: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {"name": unique("hook"), "scm_url": scm_url, "pipeline": PIPELINE}
    if secret is not None:
        body["webhook_secret"] = secret
    response = await client.post(
        f"{API}/jobs", headers=await admin_headers(client), json=body | fields
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def post(client: httpx.AsyncClient, request: HookRequest) -> httpx.Response:
    return await client.post(
        f"{API}/hooks/{request.forge}", headers=request.headers, content=request.body
    )


async def builds_of(client: httpx.AsyncClient, job_id: str) -> list[Build]:
    ctx = client.app.state.ctx  # type: ignore[attr-defined]
    async with ctx.db.transaction() as session:
        return list(
            await session.scalars(
                sa.select(Build).where(Build.job_id == uuid.UUID(job_id)).order_by(Build.number)
            )
        )


async def deliveries(client: httpx.AsyncClient) -> list[WebhookDelivery]:
    ctx = client.app.state.ctx  # type: ignore[attr-defined]
    async with ctx.db.transaction() as session:
        return list(
            await session.scalars(sa.select(WebhookDelivery).order_by(WebhookDelivery.received_at))
        )


# Per forge: the job's scm_url (in another of the forge's URL forms than the payload leads
# with), and builders of a push to `main`, a tag push, and a pull request into `main`.
GH_REPO = github.repository("octo-org", "hello-world")
GL_PROJECT = gitlab.project("mike", "diaspora")
GT_REPO = gitea.repository("gitea", "webhooks")
BB_REPO = bitbucket.repository("team", "project")

FORGES: dict[str, dict[str, Any]] = {
    "github": {
        "scm_url": "git@github.com:octo-org/hello-world.git",
        "push": lambda sha=SHA, **kw: github.push(repo=GH_REPO, after=sha, **kw),
        "tag": lambda: github.push(repo=GH_REPO, ref="refs/tags/v1.0", after=SHA),
        "delete": lambda: github.push(repo=GH_REPO, ref="refs/heads/old", after=ZERO),
        "pr": lambda **kw: github.pull_request(repo=GH_REPO, head_sha=SHA, **kw),
        "fork": lambda: github.pull_request(
            repo=GH_REPO, head_repo=github.repository("someone", "hello-world"), head_sha=SHA
        ),
        "closed": lambda: github.pull_request(repo=GH_REPO, action="closed", head_sha=SHA),
        "head_ref": "refs/pull/1/head",
    },
    "gitlab": {
        "scm_url": "https://GitLab.example.com/mike/diaspora/",
        "push": lambda sha=SHA, **kw: gitlab.push(proj=GL_PROJECT, after=sha, **kw),
        "tag": lambda: gitlab.push(proj=GL_PROJECT, ref="refs/tags/v1.0", after=SHA),
        "delete": lambda: gitlab.push(proj=GL_PROJECT, ref="refs/heads/old", after=ZERO),
        "pr": lambda **kw: gitlab.merge_request(proj=GL_PROJECT, last_commit=SHA, **kw),
        "fork": lambda: gitlab.merge_request(
            proj=GL_PROJECT, source=gitlab.project("someone", "diaspora", 99), last_commit=SHA
        ),
        "closed": lambda: gitlab.merge_request(proj=GL_PROJECT, action="close", last_commit=SHA),
        "head_ref": "refs/merge-requests/1/head",
    },
    "gitea": {
        "scm_url": "ssh://git@gitea.example.com:22/gitea/webhooks.git",
        "push": lambda sha=SHA, **kw: gitea.push(
            repo=GT_REPO, after=sha, ref="refs/heads/main", **kw
        ),
        "tag": lambda: gitea.push(repo=GT_REPO, ref="refs/tags/v1.0", after=SHA),
        "delete": lambda: gitea.push(repo=GT_REPO, ref="refs/heads/old", after=ZERO),
        "pr": lambda **kw: gitea.pull_request(repo=GT_REPO, head_sha=SHA, **kw),
        "fork": lambda: gitea.pull_request(
            repo=GT_REPO, head_repo=gitea.repository("someone", "webhooks", 141), head_sha=SHA
        ),
        "closed": lambda: gitea.pull_request(repo=GT_REPO, action="closed", head_sha=SHA),
        "head_ref": "refs/pull/2/head",
    },
    "bitbucket": {
        "scm_url": "git@bitbucket.org:team/project.git",
        "push": lambda sha=SHA, **kw: bitbucket.push(repo=BB_REPO, new_sha=sha, **kw),
        "tag": lambda: bitbucket.push(repo=BB_REPO, kind="tag", name="v1.0", new_sha=SHA),
        "delete": lambda: bitbucket.push(repo=BB_REPO, name="old", new_sha=None),
        "pr": lambda **kw: bitbucket.pull_request(repo=BB_REPO, source_sha=SHA, **kw),
        "fork": lambda: bitbucket.pull_request(
            repo=BB_REPO, source_repo=bitbucket.repository("someone", "project"), source_sha=SHA
        ),
        "closed": lambda: bitbucket.pull_request(
            repo=BB_REPO, event="pullrequest:fulfilled", source_sha=SHA
        ),
        "head_ref": None,
    },
}
forges = pytest.mark.parametrize("forge", sorted(FORGES))


def build_of(forge: str, kind: str) -> Callable[..., HookRequest]:
    return FORGES[forge][kind]  # type: ignore[no-any-return]


@forges
async def test_a_signed_push_queues_one_build_of_that_commit(
    client: httpx.AsyncClient, forge: str
) -> None:
    job = await create_job(client, FORGES[forge]["scm_url"])
    request = sign(build_of(forge, "push")(), SECRET)
    response = await post(client, request)
    assert response.status_code == 202, response.text
    answer = response.json()
    assert answer["ignored"] == []
    assert [(b["job_id"], b["number"]) for b in answer["builds"]] == [(job["id"], 1)]
    (build,) = await builds_of(client, job["id"])
    assert (build.trigger, build.branch, build.commit_sha) == ("push", "main", SHA)
    assert str(build.id) == answer["builds"][0]["id"]
    assert build.from_fork is False
    (row,) = await deliveries(client)
    assert row.outcome == "accepted" and row.status_code == 202
    assert row.job_ids == [job["id"]] and row.build_ids == [str(build.id)]


@forges
async def test_a_redelivery_answers_the_first_builds_and_queues_none(
    client: httpx.AsyncClient, forge: str
) -> None:
    job = await create_job(client, FORGES[forge]["scm_url"])
    request = sign(build_of(forge, "push")(), SECRET)
    first = await post(client, request)
    again = await post(client, request)
    assert first.status_code == again.status_code == 202, again.text
    assert again.json() == first.json()
    assert len(await builds_of(client, job["id"])) == 1


@forges
async def test_a_wrongly_signed_or_unsigned_delivery_is_401_and_creates_nothing(
    client: httpx.AsyncClient, forge: str
) -> None:
    job = await create_job(client, FORGES[forge]["scm_url"])
    request = build_of(forge, "push")()
    for attempt in (sign(request, "not-the-secret"), request):
        assert_error(await post(client, attempt), 401)
    assert await builds_of(client, job["id"]) == []
    rows = await deliveries(client)
    assert [(r.outcome, r.status_code, r.dedup_key) for r in rows] == [("rejected", 401, None)] * 2
    # The rightly signed delivery with the same id still builds: a forged one cannot block it.
    response = await post(client, sign(request, SECRET))
    assert response.status_code == 202 and len(response.json()["builds"]) == 1


async def test_a_delivery_id_verified_for_other_jobs_is_not_a_redelivery(
    client: httpx.AsyncClient,
) -> None:
    """GitHub's delivery id names the event, "shared with all deliveries for all webhooks that
    subscribe to this event" (the `guid` of a hook delivery in GitHub's REST API docs): a
    repository's and its organization's webhooks, each with its own job's secret, send the same
    id. Each job set builds once; neither delivery answers for the other."""
    ours = await create_job(client, GH_REPO["clone_url"])
    theirs = await create_job(client, GH_REPO["ssh_url"], "the-org-hook-secret")
    request = github.push(repo=GH_REPO)
    first = await post(client, sign(request, SECRET))
    second = await post(client, sign(request, "the-org-hook-secret"))
    assert first.status_code == second.status_code == 202, second.text
    assert [b["job_id"] for b in first.json()["builds"]] == [ours["id"]]
    assert [b["job_id"] for b in second.json()["builds"]] == [theirs["id"]]
    again = await post(client, sign(request, "the-org-hook-secret"))
    assert again.json() == second.json()
    assert [len(await builds_of(client, job["id"])) for job in (ours, theirs)] == [1, 1]


@forges
async def test_a_tag_push_builds_the_tag(client: httpx.AsyncClient, forge: str) -> None:
    job = await create_job(client, FORGES[forge]["scm_url"])
    response = await post(client, sign(build_of(forge, "tag")(), SECRET))
    assert response.status_code == 202, response.text
    (build,) = await builds_of(client, job["id"])
    assert (build.trigger, build.commit_sha) == ("tag", SHA)


async def test_gitlab_deliveries_are_told_apart_by_their_idempotency_key(
    client: httpx.AsyncClient,
) -> None:
    """GitLab's "Delivery headers": `Idempotency-Key` is "consistent across webhook retries";
    `X-Gitlab-Event-UUID` is shared by webhooks triggered by earlier webhooks (two events)
    and is all that GitLab before 17.4 sends."""
    job = await create_job(client, FORGES["gitlab"]["scm_url"])
    first = gitlab.push(proj=GL_PROJECT, after=SHA)
    # A retry: the same key, the same body; the event UUID need not be the same.
    retry = HookRequest(
        "gitlab", first.headers | {"X-Gitlab-Event-UUID": str(uuid.uuid4())}, first.payload
    )
    # Another event with the event UUID of the first (a push made by a webhook's receiver).
    recursive = gitlab.push(proj=GL_PROJECT, after="b" * 40)
    recursive.headers["X-Gitlab-Event-UUID"] = first.headers["X-Gitlab-Event-UUID"]
    answers = [await post(client, sign(r, SECRET)) for r in (first, retry, recursive)]
    assert [a.status_code for a in answers] == [202] * 3, answers[-1].text
    assert answers[1].json() == answers[0].json()
    assert answers[0].json()["delivery_id"] == first.headers["Idempotency-Key"]
    assert [b.commit_sha for b in await builds_of(client, job["id"])] == [SHA, "b" * 40]
    # Without Idempotency-Key, the event UUID tells a redelivery.
    older = gitlab.push(proj=GL_PROJECT, after="c" * 40)
    del older.headers["Idempotency-Key"]
    once, twice = [await post(client, sign(older, SECRET)) for _ in range(2)]
    assert twice.json() == once.json()
    assert once.json()["delivery_id"] == older.headers["X-Gitlab-Event-UUID"]
    assert len(await builds_of(client, job["id"])) == 3


@pytest.mark.parametrize("forge", ["github", "gitea"])
async def test_an_annotated_tag_builds_the_commit_it_points_at(
    client: httpx.AsyncClient, forge: str, tmp_path: Path
) -> None:
    """An annotated tag's ref names the tag object, not a commit: GitHub and Gitea send it
    as `after`, and the commit in `head_commit`. The build must name the commit (that is what
    the agent checks out and what the commit status is reported on). A real tag of a real
    repository gives both."""
    repo = make_repo(tmp_path / "repos")
    git(repo.path, "tag", "-a", "v2.0", "-m", "release 2.0", repo.commits["second"])
    tag_object = git(repo.path, "rev-parse", "refs/tags/v2.0")
    assert git(repo.path, "cat-file", "-t", tag_object) == "tag"
    job = await create_job(client, FORGES[forge]["scm_url"])
    push = github.push if forge == "github" else gitea.push
    where = GH_REPO if forge == "github" else GT_REPO
    request = push(
        repo=where,
        ref="refs/tags/v2.0",
        before=ZERO,
        after=tag_object,
        tagged_commit=repo.commits["second"],
    )
    response = await post(client, sign(request, SECRET))
    assert response.status_code == 202, response.text
    (build,) = await builds_of(client, job["id"])
    assert (build.trigger, build.tag) == ("tag", "v2.0")
    assert build.commit_sha == git(repo.path, "rev-parse", "v2.0^{commit}")
    assert git(repo.path, "cat-file", "-t", build.commit_sha) == "commit"


@forges
async def test_a_pull_request_builds_its_head_on_its_source_branch(
    client: httpx.AsyncClient, forge: str
) -> None:
    job = await create_job(client, FORGES[forge]["scm_url"])
    response = await post(client, sign(build_of(forge, "pr")(), SECRET))
    assert response.status_code == 202, response.text
    (build,) = await builds_of(client, job["id"])
    assert build.trigger == "pull_request"
    assert build.commit_sha == SHA
    assert build.branch in ("changes", "ms-viewport", "feature")
    assert build.from_fork is False


@forges
async def test_a_pull_request_from_a_fork_is_marked_so(
    client: httpx.AsyncClient, forge: str
) -> None:
    job = await create_job(client, FORGES[forge]["scm_url"])
    response = await post(client, sign(build_of(forge, "fork")(), SECRET))
    assert response.status_code == 202, response.text
    (build,) = await builds_of(client, job["id"])
    assert build.from_fork is True


@forges
async def test_deleting_a_branch_or_closing_a_pull_request_builds_nothing(
    client: httpx.AsyncClient, forge: str
) -> None:
    job = await create_job(client, FORGES[forge]["scm_url"])
    for kind, words in (("delete", "deletes"), ("closed", "nothing to build")):
        response = await post(client, sign(build_of(forge, kind)(), SECRET))
        assert response.status_code == 202, response.text
        answer = response.json()
        assert answer["builds"] == []
        [ignored] = answer["ignored"]
        assert ignored["job_id"] == job["id"] and words in ignored["reason"]
    assert await builds_of(client, job["id"]) == []
    assert {r.outcome for r in await deliveries(client)} == {"ignored"}


@forges
async def test_a_job_without_a_webhook_secret_never_builds_from_a_hook(
    client: httpx.AsyncClient, forge: str
) -> None:
    job = await create_job(client, FORGES[forge]["scm_url"], secret=None)
    assert job["has_webhook_secret"] is False
    request = build_of(forge, "push")()
    assert_error(await post(client, sign(request, SECRET)), 401)
    (row,) = await deliveries(client)
    assert row.outcome == "rejected"
    assert "the job has no webhook secret" in (row.reason or "")
    assert await builds_of(client, job["id"]) == []


async def test_only_the_jobs_whose_secret_verifies_build(client: httpx.AsyncClient) -> None:
    ours = await create_job(client, "https://github.com/octo-org/hello-world")
    theirs = await create_job(client, "https://github.com/octo-org/hello-world.git", "other-secret")
    elsewhere = await create_job(client, "https://github.com/octo-org/another")
    response = await post(client, sign(github.push(repo=GH_REPO), SECRET))
    assert response.status_code == 202, response.text
    assert [b["job_id"] for b in response.json()["builds"]] == [ours["id"]]
    assert await builds_of(client, theirs["id"]) == []
    assert await builds_of(client, elsewhere["id"]) == []


async def test_a_ping_answers_200_and_creates_nothing(client: httpx.AsyncClient) -> None:
    job = await create_job(client, GH_REPO["clone_url"])
    response = await post(client, sign(github.ping(repo=GH_REPO), SECRET))
    assert response.status_code == 200, response.text
    assert response.json()["builds"] == []
    assert await builds_of(client, job["id"]) == []


async def test_malformed_bodies_are_400_unknown_forges_404(client: httpx.AsyncClient) -> None:
    await create_job(client, GH_REPO["clone_url"])
    request = sign(github.push(repo=GH_REPO), SECRET)
    broken = await client.post(f"{API}/hooks/github", headers=request.headers, content=b"{nope")
    assert "JSON" in assert_error(broken, 400)
    # A push without its `after`: a clear 400, no KeyError.
    payload = {k: v for k, v in request.payload.items() if k != "after"}
    missing = sign(request.with_payload(payload), SECRET)
    assert "after" in assert_error(await post(client, missing), 400)
    headers = {k: v for k, v in request.headers.items() if k != "X-GitHub-Event"}
    no_event = await client.post(f"{API}/hooks/github", headers=headers, content=request.body)
    assert "X-GitHub-Event" in assert_error(no_event, 400)
    nul = await client.post(
        f"{API}/hooks/github", headers=request.headers, content=b'{"ref": "refs/heads/a\\u0000"}'
    )
    assert_error(nul, 400)
    assert_error(await client.post(f"{API}/hooks/sourceforge", content=request.body), 404)
    assert {r.status_code for r in await deliveries(client)} == {400}


async def test_a_body_over_25_mib_is_413(client: httpx.AsyncClient) -> None:
    request = github.push(repo=GH_REPO)
    big = b" " * (25 * 1024**2 + 1)
    response = await client.post(f"{API}/hooks/github", headers=request.headers, content=big)
    assert_error(response, 413)
    # Over the general 10 MiB limit, under the hooks' own: read and answered.
    padded = request.body + b" " * (11 * 1024**2)
    response = await client.post(f"{API}/hooks/github", headers=request.headers, content=padded)
    assert_error(response, 401)


async def test_the_same_delivery_twice_at_once_builds_once(client: httpx.AsyncClient) -> None:
    job = await create_job(client, GH_REPO["clone_url"])
    request = sign(github.push(repo=GH_REPO), SECRET)
    answers = await asyncio.gather(*(post(client, request) for _ in range(4)))
    assert {a.status_code for a in answers} == {202}, [a.text for a in answers]
    assert len({str(a.json()) for a in answers}) == 1
    assert len(await builds_of(client, job["id"])) == 1


async def test_an_event_that_builds_nothing_is_still_verified(client: httpx.AsyncClient) -> None:
    """A webhook sending every event (GitHub's "Send me everything") gets 202 with the reason
    for those it does not build, not a 401 that would show as a failed delivery."""
    job = await create_job(client, GH_REPO["clone_url"])
    request = github.ping(repo=GH_REPO)
    request.headers["X-GitHub-Event"] = "issues"
    request = request.with_payload(
        {"action": "opened", "issue": {"number": 1}, "repository": GH_REPO}
    )
    response = await post(client, sign(request, SECRET))
    assert response.status_code == 202, response.text
    [ignored] = response.json()["ignored"]
    assert ignored["job_id"] == job["id"] and "'issues' starts no build" in ignored["reason"]
    assert_error(await post(client, sign(request, "wrong-secret-1")), 401)
