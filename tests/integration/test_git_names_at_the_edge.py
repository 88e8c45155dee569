"""A branch, tag, commit, pull request ref or fork URL that git could read as an option never
gets into a build: the trigger API answers 422, a webhook 400, and nothing is saved but the
delivery log's row of the rejected request.

The webhooks are the forges' documented shapes (tests/support/forge_payloads names each
source) with one value replaced, rightly signed: a signature does not make a value safe."""

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from solvyd.server.db.models import Job, ScheduleRun
from solvyd.server.services.schedules import start_due_schedules
from tests.integration.api_helpers import API, admin_headers, assert_error, create_job, unique
from tests.integration.test_hooks_receive import (
    BB_REPO,
    FORGES,
    GH_REPO,
    GL_PROJECT,
    GT_REPO,
    SECRET,
    SHA,
    builds_of,
    deliveries,
    post,
)
from tests.integration.test_hooks_receive import create_job as create_hook_job
from tests.support.forge_payloads import HookRequest, bitbucket, gitea, github, gitlab, sign

INJECTION = "--upload-pack=touch /tmp/solvyd-pwned"
SSH_INJECTION = "-oProxyCommand=touch /tmp/solvyd-pwned"


@pytest.mark.parametrize(
    "body",
    [
        {"branch": INJECTION},
        {"branch": "main..other"},
        {"branch": "feature branch"},
        {"branch": "refs/heads/x.lock"},
        {"branch": ""},
        {"commit_sha": SSH_INJECTION},
        {"commit_sha": "abc12"},
        {"commit_sha": "not-hex-at-all"},
    ],
)
async def test_the_trigger_api_refuses_what_git_could_read_as_an_option(
    client: httpx.AsyncClient, body: dict[str, str]
) -> None:
    admin = await admin_headers(client)
    job = await create_job(client, admin)
    response = await client.post(f"{API}/jobs/{job['id']}/trigger", headers=admin, json=body)
    assert_error(response, 422, "invalid")
    (field,) = body
    assert [d["field"] for d in response.json()["error"]["details"]] == [field]
    builds = await client.get(f"{API}/builds", headers=admin, params={"job_id": job["id"]})
    assert builds.json()["items"] == []
    # The same names, valid, are taken.
    good = await client.post(
        f"{API}/jobs/{job['id']}/trigger",
        headers=admin,
        json={"branch": "feature/x-1.2", "commit_sha": SHA[:7]},
    )
    assert good.status_code == 201, good.text


async def test_a_schedule_stored_with_a_bad_branch_records_its_error_and_others_start(
    client: httpx.AsyncClient,
) -> None:
    """A schedule saved before branches were checked: its run is refused with the reason, and
    the round goes on to start the other jobs' schedules."""
    admin = await admin_headers(client)
    monthly = {"cron": "0 3 1 * *"}
    bad = await create_job(client, admin, schedules=[monthly])
    good = await create_job(client, admin, schedules=[monthly])
    ctx = client.app.state.ctx  # type: ignore[attr-defined]
    async with ctx.db.transaction() as session:
        await session.execute(
            sa.update(Job)
            .where(Job.id == uuid.UUID(bad["id"]))
            .values(schedules=[monthly | {"branch": INJECTION, "env": {}, "timezone": "UTC"}])
        )
    result = await start_due_schedules(ctx, datetime(2027, 1, 1, 3, 0, tzinfo=UTC))
    assert len(result.started) == 1
    async with ctx.db.transaction() as session:
        runs = {str(run.job_id): run for run in await session.scalars(sa.select(ScheduleRun))}
    assert runs[good["id"]].build_id is not None
    assert runs[bad["id"]].build_id is None
    assert "is not a valid git branch name" in (runs[bad["id"]].error or "")


async def test_a_jobs_branch_and_schedules_branch_are_names_too(
    client: httpx.AsyncClient,
) -> None:
    admin = await admin_headers(client)
    created = await client.post(
        f"{API}/jobs",
        headers=admin,
        json={"name": unique("job"), "pipeline": "steps: []", "branch": INJECTION},
    )
    assert_error(created, 422, "invalid")
    schedule = {"cron": "0 3 * * *", "branch": INJECTION}
    job = await create_job(client, admin)
    patched = await client.patch(
        f"{API}/jobs/{job['id']}", headers=admin, json={"schedules": [schedule]}
    )
    assert_error(patched, 422, "invalid")


def _fork_with_clone_url(url: str) -> dict[str, Any]:
    fork = github.repository("someone", "hello-world")
    return fork | {"clone_url": url}


# Per forge, a signed event naming one hostile value where that forge puts it.
HOSTILE: dict[str, Callable[[], HookRequest]] = {
    "github-branch": lambda: github.push(repo=GH_REPO, ref=f"refs/heads/{INJECTION}"),
    "github-tag": lambda: github.push(repo=GH_REPO, ref=f"refs/tags/{INJECTION}"),
    "github-sha": lambda: github.push(repo=GH_REPO, after=SSH_INJECTION),
    "github-pr-branch": lambda: github.pull_request(repo=GH_REPO, head_ref=INJECTION),
    "github-pr-target": lambda: github.pull_request(repo=GH_REPO, base_ref="main~1"),
    "github-pr-sha": lambda: github.pull_request(repo=GH_REPO, head_sha=INJECTION),
    "github-fork-url": lambda: github.pull_request(
        repo=GH_REPO, head_repo=_fork_with_clone_url(INJECTION), head_sha=SHA
    ),
    "github-fork-ext-url": lambda: github.pull_request(
        repo=GH_REPO, head_repo=_fork_with_clone_url("ext::sh -c touch% /tmp/x"), head_sha=SHA
    ),
    "gitlab-branch": lambda: gitlab.push(proj=GL_PROJECT, ref=f"refs/heads/{INJECTION}"),
    "gitlab-tag": lambda: gitlab.push(proj=GL_PROJECT, ref="refs/tags/v1.0 ; touch x"),
    "gitlab-mr-branch": lambda: gitlab.merge_request(proj=GL_PROJECT, source_branch=INJECTION),
    "gitlab-mr-sha": lambda: gitlab.merge_request(proj=GL_PROJECT, last_commit=SSH_INJECTION),
    "gitea-branch": lambda: gitea.push(repo=GT_REPO, ref=f"refs/heads/{INJECTION}"),
    "gitea-pr-sha": lambda: gitea.pull_request(repo=GT_REPO, head_sha=INJECTION),
    "bitbucket-branch": lambda: bitbucket.push(repo=BB_REPO, name=INJECTION),
    "bitbucket-tag": lambda: bitbucket.push(repo=BB_REPO, kind="tag", name="v1..0"),
    "bitbucket-pr-sha": lambda: bitbucket.pull_request(repo=BB_REPO, source_sha=INJECTION),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
async def test_a_signed_webhook_naming_an_option_is_400_and_builds_nothing(
    client: httpx.AsyncClient, case: str
) -> None:
    request = HOSTILE[case]()
    job = await create_hook_job(client, FORGES[request.forge]["scm_url"])
    response = await post(client, sign(request, SECRET))
    message = assert_error(response, 400, "bad_payload")
    assert "the payload names what git cannot build" in message
    assert await builds_of(client, job["id"]) == []
    # The delivery log keeps the request, rejected, with why and no job, build or id that
    # would answer a later delivery of the same id as a redelivery.
    (row,) = await deliveries(client)
    assert (row.outcome, row.status_code) == ("rejected", 400)
    assert row.reason == message
    assert (row.job_ids, row.build_ids, row.ignored, row.dedup_key) == ([], [], [], None)
    assert row.delivery_id is not None


async def test_after_a_refused_delivery_the_forges_next_one_builds(
    client: httpx.AsyncClient,
) -> None:
    job = await create_hook_job(client, FORGES["github"]["scm_url"])
    refused = sign(github.push(repo=GH_REPO, ref=f"refs/heads/{INJECTION}"), SECRET)
    assert_error(await post(client, refused), 400, "bad_payload")
    good = sign(github.push(repo=GH_REPO, delivery=refused.headers["X-GitHub-Delivery"]), SECRET)
    response = await post(client, good)
    assert response.status_code == 202, response.text
    (build,) = await builds_of(client, job["id"])
    assert (build.branch, build.commit_sha) == ("main", SHA)
