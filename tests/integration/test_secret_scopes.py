"""Which builds get which secret, on both databases (the in-process app over ASGI): a job's
secret only to that job's builds, a protected secret only to builds of its branches and never
to a pull request's or a fork's, and a withheld secret answers as not set, like one that does
not exist. The values never appear in an answer but the worker's own fetch."""

import json
import uuid
from typing import Any

import httpx
import sqlalchemy as sa

from solvyd.server.db.models import AuditEvent, Build
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
    user_headers,
)

VALUE = "protected-deploy-key-Q7vX2m"
OTHER = "other-jobs-key-Lk3pZ9"
PIPELINE = json.dumps(
    {"steps": [{"name": "deploy", "commands": ["./deploy"], "secrets": ["DEPLOY_KEY"]}]}
)


async def _put(
    client: httpx.AsyncClient, admin: Headers, job_id: str | None, value: str, **body: Any
) -> httpx.Response:
    base = f"{API}/jobs/{job_id}/secrets" if job_id else f"{API}/secrets"
    return await client.put(f"{base}/DEPLOY_KEY", headers=admin, json={"value": value, **body})


async def _fetch(
    client: httpx.AsyncClient, admin: Headers, job: dict[str, Any], **trig: Any
) -> Any:
    """A new build of `job` (trigger fields `trig`), claimed and started by a fresh worker,
    then its fetch of DEPLOY_KEY."""
    worker: Worker = await register_worker(client)
    build = await trigger(client, admin, job["id"], **trig)
    assert (await claim_build(client, worker))["build_id"] == build["id"]
    assert (await set_status(client, worker, build["id"], "running")).status_code == 200
    response = await client.post(
        f"{API}/builds/{build['id']}/secrets",
        headers=worker.headers,
        json={"names": ["DEPLOY_KEY"]},
    )
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_jobs_secret_is_not_given_to_another_jobs_build(
    client: httpx.AsyncClient,
) -> None:
    admin = await admin_headers(client)
    owner = await create_job(client, admin, pipeline=PIPELINE)
    other = await create_job(client, admin, pipeline=PIPELINE)
    assert (await _put(client, admin, owner["id"], VALUE)).status_code == 201
    assert (await _fetch(client, admin, owner))["values"] == {"DEPLOY_KEY": VALUE}
    denied = await _fetch(client, admin, other)
    assert denied["values"] == {} and denied["missing"] == ["DEPLOY_KEY"]


async def test_a_protected_secret_goes_only_to_builds_of_its_branches(
    client: httpx.AsyncClient,
) -> None:
    admin = await admin_headers(client)
    job = await create_job(client, admin, pipeline=PIPELINE, branch="main")
    created = await _put(client, admin, job["id"], VALUE, protected_branches=["main", "release/*"])
    assert created.status_code == 201, created.text
    assert created.json()["protected_branches"] == ["main", "release/*"]
    listed = (await client.get(f"{API}/jobs/{job['id']}/secrets", headers=admin)).json()
    assert listed["items"][0]["protected_branches"] == ["main", "release/*"]

    assert (await _fetch(client, admin, job))["values"] == {"DEPLOY_KEY": VALUE}
    assert (await _fetch(client, admin, job, branch="release/2.0"))["values"] == {
        "DEPLOY_KEY": VALUE
    }
    for branch in ("feature/x", "mainline", "release"):
        other = await _fetch(client, admin, job, branch=branch)
        # Answered as not set, with no reason that would tell the secret exists.
        assert other == {"values": {}, "missing": ["DEPLOY_KEY"], "reason": None}, branch


async def test_a_withheld_protected_secret_does_not_fall_back_to_the_global_one(
    client: httpx.AsyncClient,
) -> None:
    admin = await admin_headers(client)
    job = await create_job(client, admin, pipeline=PIPELINE, branch="main")
    await _put(client, admin, None, OTHER)
    await _put(client, admin, job["id"], VALUE, protected_branches=["main"])
    assert (await _fetch(client, admin, job))["values"] == {"DEPLOY_KEY": VALUE}
    # The job meant its own: a feature branch gets neither.
    assert (await _fetch(client, admin, job, branch="topic"))["values"] == {}


async def test_a_protected_global_secret_is_given_only_on_its_branches(
    client: httpx.AsyncClient,
) -> None:
    admin = await admin_headers(client)
    job = await create_job(client, admin, pipeline=PIPELINE, branch="main")
    await _put(client, admin, None, VALUE, protected_branches=["main"])
    assert (await _fetch(client, admin, job))["values"] == {"DEPLOY_KEY": VALUE}
    assert (await _fetch(client, admin, job, branch="dev"))["values"] == {}


async def test_pull_requests_and_forks_never_get_a_protected_secret(
    client: httpx.AsyncClient,
) -> None:
    admin = await admin_headers(client)
    job = await create_job(client, admin, pipeline=PIPELINE, branch="main")
    patched = await client.patch(
        f"{API}/jobs/{job['id']}", headers=admin, json={"secrets_for_forks": True}
    )
    assert patched.status_code == 200
    await _put(client, admin, job["id"], VALUE, protected_branches=["main"])
    ctx: ServerContext = client.app.state.ctx  # type: ignore[attr-defined]
    # A retry of a pull request's build keeps its event (trigger "retry").
    pull_request_retry = {"trigger": "retry", "event": "pull_request"}
    for change in ({"from_fork": True}, {"trigger": "pull_request"}, pull_request_retry):
        worker = await register_worker(client)
        build = await trigger(client, admin, job["id"])  # names main, as a PR may
        async with ctx.db.transaction() as session:
            await session.execute(
                sa.update(Build).where(Build.id == uuid.UUID(build["id"])).values(**change)
            )
        await claim_build(client, worker)
        await set_status(client, worker, build["id"], "running")
        answer = await client.post(
            f"{API}/builds/{build['id']}/secrets",
            headers=worker.headers,
            json={"names": ["DEPLOY_KEY"]},
        )
        assert answer.json()["values"] == {}, change


async def test_replacing_a_value_keeps_its_protection_until_lifted(
    client: httpx.AsyncClient,
) -> None:
    admin = await admin_headers(client)
    job = await create_job(client, admin, pipeline=PIPELINE, branch="main")
    await _put(client, admin, job["id"], VALUE, protected_branches=["main"])
    replaced = await _put(client, admin, job["id"], VALUE + "2")
    assert replaced.status_code == 200 and replaced.json()["protected_branches"] == ["main"]
    assert (await _fetch(client, admin, job, branch="dev"))["values"] == {}
    lifted = await _put(client, admin, job["id"], VALUE, protected_branches=[])
    assert lifted.json()["protected_branches"] == []
    assert (await _fetch(client, admin, job, branch="dev"))["values"] == {"DEPLOY_KEY": VALUE}
    ctx: ServerContext = client.app.state.ctx  # type: ignore[attr-defined]
    async with ctx.db.transaction() as session:
        events = list(
            await session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "secret.set"))
        )
    assert [e.details["protected_branches"] for e in events] == [["main"], ["main"], []]
    assert all(VALUE not in json.dumps(e.details) for e in events)


async def test_bad_branch_patterns_are_422_and_nothing_is_saved(
    client: httpx.AsyncClient,
) -> None:
    admin = await admin_headers(client)
    job = await create_job(client, admin, pipeline=PIPELINE)
    for patterns in ([""], ["has space"], ["tab\there"], ["x\u202ey"], ["b" * 256], "main"):
        response = await _put(client, admin, job["id"], VALUE, protected_branches=patterns)
        assert VALUE not in assert_error(response, 422)
    listed = (await client.get(f"{API}/jobs/{job['id']}/secrets", headers=admin)).json()
    assert listed["items"] == []


async def test_a_build_a_developer_shaped_gets_no_protected_secret(
    client: httpx.AsyncClient,
) -> None:
    """A developer who triggers a protected branch (at a commit of their own), or changes the
    job's pipeline, would run their own code with the secret: such builds get none, until an
    admin vouches for the job again by changing it (an empty PATCH will do)."""
    admin = await admin_headers(client)
    developer = await user_headers(client, admin, "developer")
    job = await create_job(client, admin, pipeline=PIPELINE, branch="main")
    await _put(client, admin, job["id"], VALUE, protected_branches=["main"])
    await _put(client, admin, None, OTHER)  # unprotected: developers' builds still get these
    assert (await _fetch(client, admin, job))["values"] == {"DEPLOY_KEY": VALUE}

    by_developer = await _fetch(client, developer, job, commit_sha="f" * 40)
    assert by_developer == {"values": {}, "missing": ["DEPLOY_KEY"], "reason": None}

    edited = await client.patch(
        f"{API}/jobs/{job['id']}", headers=developer, json={"pipeline": PIPELINE}
    )
    assert edited.status_code == 200, edited.text
    assert (await _fetch(client, admin, job))["values"] == {}
    vouched = await client.patch(f"{API}/jobs/{job['id']}", headers=admin, json={})
    assert vouched.status_code == 200, vouched.text
    assert (await _fetch(client, admin, job))["values"] == {"DEPLOY_KEY": VALUE}

    # A job a developer created is theirs to shape: its protected secrets wait for an admin.
    theirs = await create_job(client, developer, pipeline=PIPELINE, branch="main")
    await _put(client, admin, theirs["id"], VALUE, protected_branches=["main"])
    assert (await _fetch(client, admin, theirs))["values"] == {}


async def test_an_admins_retry_of_a_developers_build_gets_no_protected_secret(
    client: httpx.AsyncClient,
) -> None:
    """A retry replays its build's commit and variables: when a developer chose them, an
    admin's click on retry must not hand the developer's code the protected secret."""
    admin = await admin_headers(client)
    developer = await user_headers(client, admin, "developer")
    job = await create_job(client, admin, pipeline=PIPELINE, branch="main")
    await _put(client, admin, job["id"], VALUE, protected_branches=["main"])
    worker: Worker = await register_worker(client)

    async def run_to_failure(build_id: str) -> Any:
        assert (await claim_build(client, worker))["build_id"] == build_id
        assert (await set_status(client, worker, build_id, "running")).status_code == 200
        fetched = await client.post(
            f"{API}/builds/{build_id}/secrets",
            headers=worker.headers,
            json={"names": ["DEPLOY_KEY"]},
        )
        assert fetched.status_code == 200, fetched.text
        assert (await set_status(client, worker, build_id, "failure")).status_code == 200
        return fetched.json()

    theirs = await trigger(client, developer, job["id"], commit_sha="f" * 40)
    assert (await run_to_failure(theirs["id"]))["values"] == {}
    retried = await client.post(f"{API}/builds/{theirs['id']}/retry", headers=admin)
    assert retried.status_code == 201, retried.text
    assert (await run_to_failure(retried.json()["id"]))["values"] == {}

    # The same chain started by an admin keeps its secret through the retry.
    ours = await trigger(client, admin, job["id"])
    assert (await run_to_failure(ours["id"]))["values"] == {"DEPLOY_KEY": VALUE}
    again = await client.post(f"{API}/builds/{ours['id']}/retry", headers=admin)
    assert again.status_code == 201, again.text
    assert (await run_to_failure(again.json()["id"]))["values"] == {"DEPLOY_KEY": VALUE}
