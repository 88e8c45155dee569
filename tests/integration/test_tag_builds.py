"""A build started by a tag push is a build of the tag, on no branch: it carries the tag in
`tag`, never a branch (not the tag's name, not the job's default branch), and never receives
a protected (branch-scoped) secret, whatever the secret's branch patterns.

The pushes are real signed webhooks of each forge's documented tag push
(tests/support/forge_payloads names each source)."""

import json
import uuid
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from solvyd.server.db.models import Build
from tests.integration.api_helpers import (
    API,
    admin_headers,
    claim_build,
    get_build,
    register_worker,
    set_status,
)
from tests.integration.test_hooks_receive import FORGES, SECRET, SHA, build_of, post
from tests.integration.test_hooks_receive import create_job as create_hook_job
from tests.support.forge_payloads import sign

VALUE = "protected-release-key-R4nd0m9"
PIPELINE = json.dumps(
    {
        "steps": [
            {"name": "release", "commands": ["./release"], "secrets": ["RELEASE_KEY"]},
            {"name": "on-main", "commands": ["echo main"], "when": {"branch": ["main"]}},
        ]
    }
)


async def _tag_build(client: httpx.AsyncClient, forge: str, **job_fields: Any) -> dict[str, Any]:
    job = await create_hook_job(
        client, FORGES[forge]["scm_url"], pipeline=PIPELINE, branch="main", **job_fields
    )
    admin = await admin_headers(client)
    # Protected to every name the build could be said to be on: the job's branch, the tag's
    # name (v1.0) and anything.
    response = await client.put(
        f"{API}/jobs/{job['id']}/secrets/RELEASE_KEY",
        headers=admin,
        json={"value": VALUE, "protected_branches": ["main", "v1.0", "v*", "*"]},
    )
    assert response.status_code == 201, response.text
    response = await post(client, sign(build_of(forge, "tag")(), SECRET))
    assert response.status_code == 202, response.text
    (queued,) = response.json()["builds"]
    return await get_build(client, admin, queued["id"])


async def _secrets_of(client: httpx.AsyncClient, build_id: str) -> Any:
    worker = await register_worker(client)
    spec = await claim_build(client, worker)
    assert spec["build_id"] == build_id
    assert (await set_status(client, worker, build_id, "running")).status_code == 200
    response = await client.post(
        f"{API}/builds/{build_id}/secrets",
        headers=worker.headers,
        json={"names": ["RELEASE_KEY"]},
    )
    assert response.status_code == 200, response.text
    return spec, response.json()


@pytest.mark.parametrize("forge", sorted(FORGES))
async def test_a_tag_push_builds_the_tag_on_no_branch_without_protected_secrets(
    client: httpx.AsyncClient, forge: str
) -> None:
    build = await _tag_build(client, forge)
    assert (build["trigger"], build["event"], build["tag"]) == ("tag", "tag", "v1.0")
    assert build["commit_sha"] == SHA
    assert build["branch"] is None
    spec, secrets = await _secrets_of(client, build["id"])
    assert secrets == {"values": {}, "missing": ["RELEASE_KEY"], "reason": None}
    assert (spec["branch"], spec["commit_sha"]) == (None, SHA)
    assert spec["env"]["SOLVYD_BRANCH"] == ""
    assert spec["env"]["SOLVYD_TAG"] == "v1.0"
    # A step for builds of main is not a tag's.
    assert [step["name"] for step in spec["steps"]] == ["release"]


async def test_a_retry_of_a_tag_build_is_still_on_no_branch_without_protected_secrets(
    client: httpx.AsyncClient,
) -> None:
    build = await _tag_build(client, "github")
    admin = await admin_headers(client)
    worker = await register_worker(client)
    assert (await claim_build(client, worker))["build_id"] == build["id"]
    await set_status(client, worker, build["id"], "running")
    await set_status(client, worker, build["id"], "failure", exit_code=1)
    response = await client.post(f"{API}/builds/{build['id']}/retry", headers=admin)
    assert response.status_code == 201, response.text
    again = response.json()
    assert (again["trigger"], again["event"], again["tag"], again["branch"]) == (
        "retry",
        "tag",
        "v1.0",
        None,
    )
    _, secrets = await _secrets_of(client, again["id"])
    assert secrets["values"] == {}


async def test_a_tag_build_stored_with_a_branch_still_gets_no_protected_secret(
    client: httpx.AsyncClient,
) -> None:
    """A tag build queued before tags had no branch named the job's: its row says `main`."""
    build = await _tag_build(client, "gitlab")
    ctx = client.app.state.ctx  # type: ignore[attr-defined]
    async with ctx.db.transaction() as session:
        await session.execute(
            sa.update(Build).where(Build.id == uuid.UUID(build["id"])).values(branch="main")
        )
    _, secrets = await _secrets_of(client, build["id"])
    assert secrets == {"values": {}, "missing": ["RELEASE_KEY"], "reason": None}
