"""A job's checkout credentials through the API on both databases: the field is set, shown,
validated and removed; the build's spec names the secret (never its value); the worker that
holds the build may read that secret though no step asks for it, another worker may not; a
fork's build gets it neither in its spec nor from the fetch unless the job gives forks
secrets; a protected secret keeps its branches; every read is audited, by name."""

import json
import uuid
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from solvyd.server.db.models import AuditEvent, Build
from solvyd.server.schemas.builds import TriggerRequest
from solvyd.server.services.builds.trigger import queue_build
from solvyd.server.services.context import ServerContext
from tests.integration.api_helpers import (
    API,
    Headers,
    Worker,
    admin_headers,
    assert_error,
    claim_build,
    create_job,
    register_worker,
    set_status,
    trigger,
)

TOKEN = "ghp_CheckoutT0kenValue42xyz"
# A pipeline the server plans: its steps ask for no secret at all.
PIPELINE = json.dumps({"steps": [{"name": "build", "commands": ["make"]}]})
SCM_URL = "https://git.example/org/private.git"


@pytest.fixture
async def admin(client: httpx.AsyncClient) -> Headers:
    return await admin_headers(client)


@pytest.fixture
def ctx(client: httpx.AsyncClient) -> ServerContext:
    context: ServerContext = client.app.state.ctx  # type: ignore[attr-defined]
    return context


async def _private_job(client: httpx.AsyncClient, admin: Headers, **fields: Any) -> dict[str, Any]:
    job = await create_job(
        client,
        admin,
        pipeline=PIPELINE,
        scm_url=SCM_URL,
        checkout_credentials="GIT_TOKEN",
        **fields,
    )
    put = await client.put(
        f"{API}/jobs/{job['id']}/secrets/GIT_TOKEN", headers=admin, json={"value": TOKEN}
    )
    assert put.status_code in (200, 201), put.text
    return job


async def _fetch(
    client: httpx.AsyncClient, worker: Worker, build_id: str, names: list[str]
) -> httpx.Response:
    return await client.post(
        f"{API}/builds/{build_id}/secrets", headers=worker.headers, json={"names": names}
    )


async def _claimed(client: httpx.AsyncClient, worker: Worker, build_id: str) -> dict[str, Any]:
    spec = await claim_build(client, worker)
    assert spec["build_id"] == build_id
    assert (await set_status(client, worker, build_id, "running")).status_code == 200
    return spec


async def test_the_field_is_set_shown_validated_and_removed(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    job = await create_job(client, admin, pipeline=PIPELINE, checkout_credentials="GIT_TOKEN")
    assert job["checkout_credentials"] == "GIT_TOKEN"
    assert (await client.get(f"{API}/jobs/{job['id']}", headers=admin)).json()[
        "checkout_credentials"
    ] == "GIT_TOKEN"
    for bad in ("not a name", "1ABC", "", "x" * 201, 7):
        response = await client.patch(
            f"{API}/jobs/{job['id']}", headers=admin, json={"checkout_credentials": bad}
        )
        assert_error(response, 422)
        created = await client.post(
            f"{API}/jobs",
            headers=admin,
            json={
                "name": f"bad-{uuid.uuid4().hex[:6]}",
                "pipeline": PIPELINE,
                "checkout_credentials": bad,
            },
        )
        assert_error(created, 422)
    unchanged = await client.get(f"{API}/jobs/{job['id']}", headers=admin)
    assert unchanged.json()["checkout_credentials"] == "GIT_TOKEN"
    renamed = await client.patch(
        f"{API}/jobs/{job['id']}", headers=admin, json={"checkout_credentials": "DEPLOY_KEY"}
    )
    assert renamed.status_code == 200 and renamed.json()["checkout_credentials"] == "DEPLOY_KEY"
    removed = await client.patch(
        f"{API}/jobs/{job['id']}", headers=admin, json={"checkout_credentials": None}
    )
    assert removed.status_code == 200 and removed.json()["checkout_credentials"] is None
    plain = await create_job(client, admin, pipeline=PIPELINE)
    assert plain["checkout_credentials"] is None


async def test_the_holding_worker_reads_the_checkout_secret_and_no_other_worker(
    client: httpx.AsyncClient, admin: Headers, ctx: ServerContext
) -> None:
    job = await _private_job(client, admin)
    worker = await register_worker(client)
    build = await trigger(client, admin, job["id"])
    spec = await _claimed(client, worker, build["id"])
    assert spec["checkout_credentials"] == "GIT_TOKEN"
    assert TOKEN not in json.dumps(spec)

    response = await _fetch(client, worker, build["id"], ["GIT_TOKEN"])
    assert response.status_code == 200, response.text
    assert response.json() == {"values": {"GIT_TOKEN": TOKEN}, "missing": [], "reason": None}
    # Only that name: the checkout does not open every secret of the job.
    other_name = await _fetch(client, worker, build["id"], ["GIT_TOKEN", "OTHER"])
    assert "OTHER" in assert_error(other_name, 403, "forbidden")
    other = await register_worker(client)
    assert_error(await _fetch(client, other, build["id"], ["GIT_TOKEN"]), 403, "forbidden")
    for path in (f"/builds/{build['id']}", f"/jobs/{job['id']}"):
        assert TOKEN not in (await client.get(f"{API}{path}", headers=admin)).text

    async with ctx.db.transaction() as session:
        events = list(
            await session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "secret.read"))
        )
    assert [(e.actor_name, e.outcome, e.details) for e in events] == [
        (f"worker:{worker.name}", "success", {"names": ["GIT_TOKEN"], "missing": []})
    ]


async def test_a_job_without_it_opens_nothing_more(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    job = await create_job(client, admin, pipeline=PIPELINE, scm_url=SCM_URL)
    await client.put(
        f"{API}/jobs/{job['id']}/secrets/GIT_TOKEN", headers=admin, json={"value": TOKEN}
    )
    worker = await register_worker(client)
    build = await trigger(client, admin, job["id"])
    spec = await _claimed(client, worker, build["id"])
    assert spec["checkout_credentials"] is None
    assert_error(await _fetch(client, worker, build["id"], ["GIT_TOKEN"]), 403, "forbidden")


async def _queue_fork_build(ctx: ServerContext, job_id: str) -> str:
    # What a webhook for a pull request from a fork queues (the hooks branch calls this).
    async with ctx.db.transaction() as session:
        queued = await queue_build(
            session,
            uuid.UUID(job_id),
            TriggerRequest(branch="feature", commit_sha="a" * 40),
            triggered_by=None,
            trigger="pull_request",
            from_fork=True,
        )
        build_id = str(queued.build.id)
    queued.wake(ctx.events)
    return build_id


async def test_a_fork_build_gets_no_checkout_credentials_unless_the_job_allows_it(
    client: httpx.AsyncClient, admin: Headers, ctx: ServerContext
) -> None:
    job = await _private_job(client, admin)
    worker = await register_worker(client)
    build_id = await _queue_fork_build(ctx, job["id"])
    spec = await _claimed(client, worker, build_id)
    assert spec["checkout_credentials"] is None
    # Even asked for by name (a spec changed on the way), the fetch withholds it.
    assert_error(await _fetch(client, worker, build_id, ["GIT_TOKEN"]), 403, "forbidden")
    async with ctx.db.transaction() as session:
        await session.execute(
            sa.update(Build)
            .where(Build.id == uuid.UUID(build_id))
            .values(spec={**spec, "checkout_credentials": "GIT_TOKEN"})
        )
    denied = (await _fetch(client, worker, build_id, ["GIT_TOKEN"])).json()
    assert denied["values"] == {} and "fork" in denied["reason"]
    assert (await set_status(client, worker, build_id, "failure")).status_code == 200

    allowed = await client.patch(
        f"{API}/jobs/{job['id']}", headers=admin, json={"secrets_for_forks": True}
    )
    assert allowed.status_code == 200
    build_id = await _queue_fork_build(ctx, job["id"])
    spec = await _claimed(client, worker, build_id)
    assert spec["checkout_credentials"] == "GIT_TOKEN"
    given = (await _fetch(client, worker, build_id, ["GIT_TOKEN"])).json()
    assert given["values"] == {"GIT_TOKEN": TOKEN}


async def test_a_protected_checkout_secret_keeps_its_branches(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    job = await _private_job(client, admin)
    protected = await client.put(
        f"{API}/jobs/{job['id']}/secrets/GIT_TOKEN",
        headers=admin,
        json={"value": TOKEN, "protected_branches": ["release/*"]},
    )
    assert protected.status_code == 200, protected.text
    worker = await register_worker(client)
    for branch, expected in (("main", {}), ("release/1.0", {"GIT_TOKEN": TOKEN})):
        build = await trigger(client, admin, job["id"], branch=branch)
        await _claimed(client, worker, build["id"])
        reply = (await _fetch(client, worker, build["id"], ["GIT_TOKEN"])).json()
        assert reply["values"] == expected, branch
        assert (await set_status(client, worker, build["id"], "success")).status_code == 200


async def test_the_server_masks_the_checkout_secret_in_the_log(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    job = await _private_job(client, admin)
    worker = await register_worker(client)
    build = await trigger(client, admin, job["id"])
    await _claimed(client, worker, build["id"])
    posted = await client.post(
        f"{API}/builds/{build['id']}/logs",
        headers=worker.headers,
        json={"seq": 0, "step": "build", "lines": [{"text": f"echo {TOKEN}"}]},
    )
    assert posted.status_code in (200, 202), posted.text
    text = await client.get(
        f"{API}/builds/{build['id']}/logs", headers=admin, params={"format": "text"}
    )
    assert TOKEN not in text.text and "echo ***" in text.text
