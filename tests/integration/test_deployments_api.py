"""Environments and deployments through the API, on SQLite and PostgreSQL: approvals and who
gave them, one deployment at a time per environment, rollback as a recorded deployment (the
server's rollouts against the fake Kubernetes API), what each role may do, and hostile input
answered with a 4xx and nothing saved."""

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from solvyd.server.db.models import AuditEvent, Build, Deployment, Environment
from solvyd.server.settings import ServerSettings
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
    unique,
    user_headers,
)
from tests.integration.test_events_stream import watching
from tests.support.asgi_streaming import StreamingASGITransport
from tests.support.kube_fake import apps
from tests.support.kube_fake.core import FakeCluster, serving
from tests.support.processes import ADMIN_PASSWORD, AGENT_TOKEN

SCRIPT_DEPLOY = {"environment": "staging"}


def pipeline(deploy: dict[str, Any], *, commands: bool = True) -> str:
    step: dict[str, Any] = {"name": "ship", "deploy": deploy}
    if commands:
        step["commands"] = ["./deploy.sh"]
    return json.dumps({"steps": [{"name": "build", "commands": ["make"]}, step]})


def kube_deploy(environment: str, **extra: Any) -> dict[str, Any]:
    return {
        "environment": environment,
        "kubernetes": {
            "namespace": "shop",
            "deployment": "web",
            "image": "shop/web:${SOLVYD_BUILD_NUMBER}",
        },
        **extra,
    }


@pytest.fixture
async def cluster() -> AsyncIterator[tuple[FakeCluster, apps.AppsApi]]:
    fake = FakeCluster()
    api = apps.install(fake, rollout_seconds=0.4)
    async with serving(fake):
        await api.add_deployment("shop", "web", "shop/web:0")
        yield fake, api


@pytest.fixture
def settings(
    database_url: str, tmp_path: Path, cluster: tuple[FakeCluster, apps.AppsApi]
) -> ServerSettings:
    fake, _ = cluster
    return ServerSettings(
        database_url=database_url,
        data_dir=tmp_path / "data",
        admin_password=ADMIN_PASSWORD,
        agent_token=AGENT_TOKEN,
        secret_key="test-secret-key-0123456789abcdef0123456789",
        deploy_kubeconfig=fake.write_kubeconfig(tmp_path / "kubeconfig"),
        deploy_poll_seconds=0.2,
        deploy_rollout_poll_seconds=0.1,
    )


@pytest.fixture
async def admin(client: httpx.AsyncClient) -> Headers:
    return await admin_headers(client)


async def started_build(
    http: httpx.AsyncClient, admin: Headers, job: dict[str, Any]
) -> tuple[Worker, dict[str, Any]]:
    worker = await register_worker(http)
    build = await trigger(http, admin, job["id"])
    spec = await claim_build(http, worker)
    assert spec["build_id"] == build["id"]
    assert (await set_status(http, worker, build["id"], "running")).status_code == 200
    return worker, spec


async def register(
    http: httpx.AsyncClient, worker: Worker, spec: dict[str, Any], step: str = "ship"
) -> httpx.Response:
    deploy = next(s["deploy"] for s in spec["steps"] if s["name"] == step)
    return await http.post(
        f"{API}/builds/{spec['build_id']}/deployments",
        headers=worker.headers,
        json={"step": step, "deploy": deploy, "attempt": spec["attempt"]},
    )


async def deployment(http: httpx.AsyncClient, admin: Headers, deployment_id: str) -> Any:
    response = await http.get(f"{API}/deployments/{deployment_id}", headers=admin)
    assert response.status_code == 200, response.text
    return response.json()


async def until(
    http: httpx.AsyncClient,
    admin: Headers,
    deployment_id: str,
    check: Callable[[dict[str, Any]], bool],
    timeout: float = 15.0,
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        found = await deployment(http, admin, deployment_id)
        if check(found):
            return dict(found)
        assert time.monotonic() < deadline, found
        await asyncio.sleep(0.05)


async def test_a_deploy_waits_for_a_developers_approval_who_is_recorded_and_audited(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    job = await create_job(
        client, admin, pipeline=pipeline({"environment": "staging", "approval": "required"})
    )
    worker, spec = await started_build(client, admin, job)
    created = await register(client, worker, spec)
    assert created.status_code == 200, created.text
    state = created.json()
    assert state["status"] == "awaiting_approval"
    assert state["waiting_reason"] == "waiting for approval"
    assert state["environment"] == "staging" and state["number"] == 1
    # Registering again (a lost answer) is the same deployment.
    again = await register(client, worker, spec)
    assert again.json()["id"] == state["id"]

    viewer = await user_headers(client, admin, "viewer")
    developer = await user_headers(client, admin, "developer")
    refused = await client.post(f"{API}/deployments/{state['id']}/approve", headers=viewer)
    assert_error(refused, 403)
    approved = await client.post(f"{API}/deployments/{state['id']}/approve", headers=developer)
    assert approved.status_code == 200, approved.text
    body = approved.json()
    assert body["approved_by"].startswith("developer-")
    assert body["approved_at"] is not None
    # Nothing else runs in staging: it starts at once, and the agent sees it running.
    waited = await client.get(
        f"{API}/deployments/{state['id']}/state",
        headers=worker.headers,
        params={"status": "awaiting_approval", "wait": 5},
    )
    assert waited.json()["status"] == "running"
    assert_error(
        await client.post(f"{API}/deployments/{state['id']}/approve", headers=developer), 409
    )
    done = await client.put(
        f"{API}/deployments/{state['id']}/outcome",
        headers=worker.headers,
        json={"status": "succeeded", "attempt": spec["attempt"]},
    )
    assert done.json()["status"] == "succeeded"

    environments = (await client.get(f"{API}/environments", headers=viewer)).json()["items"]
    staging = next(e for e in environments if e["name"] == "staging")
    current = staging["current"]
    assert current["deployment_id"] == state["id"]
    assert current["build_number"] == spec["build_number"]
    assert current["version"] == spec.get("commit_sha") or current["version"]
    assert current["approved_by"] == body["approved_by"]
    assert current["since"] is not None
    of_build = await client.get(f"{API}/builds/{spec['build_id']}/deployments", headers=viewer)
    assert [d["id"] for d in of_build.json()["items"]] == [state["id"]]

    audit = (
        await client.get(f"{API}/audit", headers=admin, params={"action": "deployment.approve"})
    ).json()
    (event,) = audit["items"]
    assert event["actor_name"] == body["approved_by"]
    assert event["target"] == f"deployment:{state['id']}"


async def test_a_rejected_deployment_ends_and_says_who(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    await client.put(
        f"{API}/environments/production", headers=admin, json={"approval_required": True}
    )
    job = await create_job(client, admin, pipeline=pipeline({"environment": "production"}))
    worker, spec = await started_build(client, admin, job)
    state = (await register(client, worker, spec)).json()
    assert state["status"] == "awaiting_approval"  # the environment asks for it
    rejected = await client.post(
        f"{API}/deployments/{state['id']}/reject", headers=admin, json={"reason": "freeze"}
    )
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["status"] == "rejected"
    assert rejected.json()["message"] == "rejected by admin: freeze"


async def test_one_deployment_at_a_time_per_environment(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    job = await create_job(client, admin, pipeline=pipeline(SCRIPT_DEPLOY))
    first_worker, first_spec = await started_build(client, admin, job)
    second_worker, second_spec = await started_build(client, admin, job)
    first = (await register(client, first_worker, first_spec)).json()
    second = (await register(client, second_worker, second_spec)).json()
    assert first["status"] == "running"
    assert second["status"] == "queued"
    assert second["waiting_reason"] == f"waiting for deployment #{first['number']} to staging"
    environment = (await client.get(f"{API}/environments/staging", headers=admin)).json()
    assert environment["running"]["id"] == first["id"] and environment["waiting"] == 1
    # The second's agent long-polls; the first ends; the second starts.
    poll = asyncio.create_task(
        client.get(
            f"{API}/deployments/{second['id']}/state",
            headers=second_worker.headers,
            params={"status": "queued", "wait": 10},
        )
    )
    await asyncio.sleep(0.2)
    assert not poll.done()
    ended = await client.put(
        f"{API}/deployments/{first['id']}/outcome",
        headers=first_worker.headers,
        json={"status": "failed", "message": "exit code 2"},
    )
    assert ended.json()["status"] == "failed"
    answer = await asyncio.wait_for(poll, 10)
    assert answer.json()["status"] == "running"
    assert answer.json()["waiting_reason"] is None


async def test_cancelling_a_build_cancels_its_waiting_deployment(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    job = await create_job(
        client, admin, pipeline=pipeline({"environment": "qa", "approval": "required"})
    )
    worker, spec = await started_build(client, admin, job)
    state = (await register(client, worker, spec)).json()
    cancelled = await client.post(f"{API}/builds/{spec['build_id']}/cancel", headers=admin)
    assert cancelled.status_code == 200, cancelled.text
    found = await deployment(client, admin, state["id"])
    assert found["status"] == "cancelled"
    assert found["message"] == "its build ended (cancelled)"


async def test_a_stopped_step_fails_its_running_script_deploy_and_frees_its_environment(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    job = await create_job(client, admin, pipeline=pipeline(SCRIPT_DEPLOY))
    worker, spec = await started_build(client, admin, job)
    state = (await register(client, worker, spec)).json()
    assert state["status"] == "running"
    stopped = f"{API}/deployments/{state['id']}/step-stopped"
    other = await register_worker(client)
    assert_error(await client.post(stopped, headers=other.headers), 403)
    answer = await client.post(stopped, headers=worker.headers)
    assert answer.status_code == 200, answer.text
    assert (answer.json()["status"], answer.json()["message"]) == (
        "failed",
        "its step stopped before the script ended",
    )
    # Its environment is free again: the next deployment starts at once.
    worker, spec = await started_build(client, admin, job)
    assert (await register(client, worker, spec)).json()["status"] == "running"


async def test_a_stopped_step_leaves_the_servers_rollout_to_its_end(
    client: httpx.AsyncClient, admin: Headers, cluster: tuple[FakeCluster, apps.AppsApi]
) -> None:
    _, kube = cluster
    job = await create_job(client, admin, pipeline=pipeline(kube_deploy("live"), commands=False))
    worker, spec = await started_build(client, admin, job)
    state = (await register(client, worker, spec)).json()
    answer = await client.post(
        f"{API}/deployments/{state['id']}/step-stopped", headers=worker.headers
    )
    assert answer.json()["status"] == "running", answer.text
    await until(client, admin, state["id"], lambda d: d["status"] == "succeeded")
    assert kube.image_of("shop", "web") == state["version"]


async def test_rollouts_and_a_rollback_are_recorded_deployments(
    client: httpx.AsyncClient, admin: Headers, cluster: tuple[FakeCluster, apps.AppsApi]
) -> None:
    _, kube = cluster
    job = await create_job(
        client, admin, pipeline=pipeline(kube_deploy("web-prod"), commands=False)
    )
    ids = []
    for _ in range(2):
        worker, spec = await started_build(client, admin, job)
        created = await register(client, worker, spec)
        assert created.status_code == 200, created.text
        state = created.json()
        assert state["version"] == f"shop/web:{spec['build_number']}"
        done = await until(client, admin, state["id"], lambda d: d["status"] == "succeeded")
        assert any("complete" in line["text"] for line in done["log"])
        assert kube.image_of("shop", "web") == state["version"]
        ids.append(state["id"])
        assert (await set_status(client, worker, spec["build_id"], "success")).status_code == 200

    developer = await user_headers(client, admin, "developer")
    rolled = await client.post(f"{API}/environments/web-prod/rollback", headers=developer)
    assert rolled.status_code == 201, rolled.text
    rollback = rolled.json()
    assert rollback["kind"] == "rollback"
    assert rollback["version"] == "shop/web:1"
    assert rollback["rolled_back_from"] == ids[1]
    assert rollback["requested_by"].startswith("developer-")
    await until(client, admin, rollback["id"], lambda d: d["status"] == "succeeded")
    assert kube.image_of("shop", "web") == "shop/web:1"
    replaced = await deployment(client, admin, ids[1])
    assert replaced["rolled_back_by"] == rollback["id"]
    environment = (await client.get(f"{API}/environments/web-prod", headers=admin)).json()
    assert environment["current"]["deployment_id"] == rollback["id"]
    assert [d["number"] for d in environment["history"]] == [3, 2, 1]
    # Paged: one at a time, newest first, by the cursor.
    page = (
        await client.get(f"{API}/environments/web-prod", headers=admin, params={"limit": 2})
    ).json()
    assert [d["number"] for d in page["history"]] == [3, 2]
    rest = await client.get(
        f"{API}/environments/web-prod",
        headers=admin,
        params={"limit": 2, "cursor": page["next_cursor"]},
    )
    assert [d["number"] for d in rest.json()["history"]] == [1]
    # Back to a chosen one, by its id.
    chosen = await client.post(
        f"{API}/environments/web-prod/rollback", headers=admin, json={"deployment_id": ids[1]}
    )
    assert chosen.status_code == 201
    assert chosen.json()["version"] == "shop/web:2"
    audit = await client.get(
        f"{API}/audit", headers=admin, params={"action": "deployment.rollback"}
    )
    assert len(audit.json()["items"]) == 2


async def test_a_kubernetes_deployment_belongs_to_the_environment_that_deployed_it_first(
    client: httpx.AsyncClient, admin: Headers, cluster: tuple[FakeCluster, apps.AppsApi]
) -> None:
    _, kube = cluster
    for name in ("guarded", "squat", "late"):
        body = {"approval_required": True}
        assert (await client.put(f"{API}/environments/{name}", headers=admin, json=body)).is_success

    async def registered(environment: str) -> dict[str, Any]:
        job = await create_job(
            client, admin, pipeline=pipeline(kube_deploy(environment), commands=False)
        )
        worker, spec = await started_build(client, admin, job)
        response = await register(client, worker, spec)
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "awaiting_approval"
        return dict(response.json())

    # Registered and rejected: it never touched the Deployment, so it binds nothing.
    squat = await registered("squat")
    assert (await client.post(f"{API}/deployments/{squat['id']}/reject", headers=admin)).is_success
    # Two registered while shop/web is nobody's; the first to start binds it.
    first, late = await registered("guarded"), await registered("late")
    assert (await client.post(f"{API}/deployments/{first['id']}/approve", headers=admin)).is_success
    await until(client, admin, first["id"], lambda d: d["status"] == "succeeded")
    guarded = (await client.get(f"{API}/environments/guarded", headers=admin)).json()
    assert guarded["targets"] == [{"namespace": "shop", "deployment": "web"}]
    squatted = (await client.get(f"{API}/environments/squat", headers=admin)).json()
    assert squatted["targets"] == []
    assert (await client.post(f"{API}/deployments/{late['id']}/approve", headers=admin)).is_success
    refused = await until(client, admin, late["id"], lambda d: d["status"] == "failed")
    assert refused["message"] == (
        "deployment shop/web belongs to environment 'guarded': only deployments to "
        "'guarded' may change it"
    )
    assert kube.image_of("shop", "web") == first["version"]
    # From now on another environment's step naming it is refused as it registers: 409,
    # nothing saved (not even the new environment).
    sneaky = await create_job(
        client, admin, pipeline=pipeline(kube_deploy("guarded2"), commands=False)
    )
    worker, spec = await started_build(client, admin, sneaky)
    before = await _counts(client)
    refused_now = await register(client, worker, spec)
    assert "belongs to environment 'guarded'" in assert_error(refused_now, 409)
    assert await _counts(client) == before
    assert_error(await client.get(f"{API}/environments/guarded2", headers=admin), 404)


async def test_a_new_environment_named_by_the_repositorys_plan_is_protected(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    job = await create_job(client, admin, pipeline=None, scm_url="https://git.example/shop.git")
    await client.put(f"{API}/environments/open", headers=admin, json={"approval_required": False})
    for name, waits in [("brand-new", "awaiting_approval"), ("open", "running")]:
        worker, spec = await started_build(client, admin, job)
        registered = await client.post(
            f"{API}/builds/{spec['build_id']}/deployments",
            headers=worker.headers,
            json={"step": "ship", "deploy": {"environment": name}},
        )
        assert registered.json()["status"] == waits, registered.text
    made = (await client.get(f"{API}/environments/brand-new", headers=admin)).json()
    assert made["approval_required"] is True


async def test_a_failed_rollout_with_auto_rollback_restores_the_last_good_version(
    client: httpx.AsyncClient, admin: Headers, cluster: tuple[FakeCluster, apps.AppsApi]
) -> None:
    _, kube = cluster
    job = await create_job(
        client, admin, pipeline=pipeline(kube_deploy("canary", rollback="auto"), commands=False)
    )
    worker, spec = await started_build(client, admin, job)
    good = (await register(client, worker, spec)).json()
    await until(client, admin, good["id"], lambda d: d["status"] == "succeeded")
    await set_status(client, worker, spec["build_id"], "success")
    kube.fail_image("shop/web:2", "deadline")
    worker, spec = await started_build(client, admin, job)
    bad = (await register(client, worker, spec)).json()
    failed = await until(client, admin, bad["id"], lambda d: d["status"] == "failed")
    assert "ProgressDeadlineExceeded" not in failed["message"]  # the condition's message
    assert "has timed out progressing" in failed["message"]
    assert "rolling back to shop/web:1" in failed["message"]
    rollback_id = failed["rolled_back_by"]
    rollback = await until(client, admin, rollback_id, lambda d: d["status"] == "succeeded")
    assert rollback["kind"] == "auto_rollback"
    assert rollback["requested_by"] == "solvyd"  # the server itself
    assert kube.image_of("shop", "web") == "shop/web:1"
    # The agent of the failed step follows the rollback.
    seen = await client.get(
        f"{API}/deployments/{rollback_id}/state", headers=worker.headers, params={"wait": 0}
    )
    assert seen.json()["status"] == "succeeded"
    listed = await client.get(f"{API}/builds/{spec['build_id']}/deployments", headers=admin)
    assert [d["kind"] for d in listed.json()["items"]] == ["deploy", "auto_rollback"]


async def test_rollbacks_go_back_on_the_target_of_the_deployment_they_replace(
    client: httpx.AsyncClient, admin: Headers, cluster: tuple[FakeCluster, apps.AppsApi]
) -> None:
    """One environment, two Deployments: going back on one never sets the other's image."""
    _, kube = cluster
    await kube.add_deployment("shop", "api", "shop/api:0")
    web = await create_job(client, admin, pipeline=pipeline(kube_deploy("multi"), commands=False))
    api_deploy = kube_deploy("multi", rollback="auto")
    api_deploy["kubernetes"] = {
        "namespace": "shop",
        "deployment": "api",
        "image": "shop/api:${SOLVYD_BUILD_NUMBER}",
    }
    api = await create_job(client, admin, pipeline=pipeline(api_deploy, commands=False))

    async def deploy(job: dict[str, Any], status: str = "succeeded") -> dict[str, Any]:
        worker, spec = await started_build(client, admin, job)
        state = (await register(client, worker, spec)).json()
        done = await until(client, admin, state["id"], lambda d: d["status"] == status)
        await set_status(client, worker, spec["build_id"], "success")
        return done

    await deploy(web)  # shop/web:1
    await deploy(api)  # shop/api:1
    await deploy(web)  # shop/web:2, the environment's latest
    rolled = await client.post(f"{API}/environments/multi/rollback", headers=admin)
    assert rolled.status_code == 201, rolled.text
    assert rolled.json()["version"] == "shop/web:1"
    await until(client, admin, rolled.json()["id"], lambda d: d["status"] == "succeeded")
    assert kube.image_of("shop", "web") == "shop/web:1"
    # A failed rollout of api goes back to api's last good image, not the environment's
    # latest deployment (web's rollback).
    kube.fail_image("shop/api:2", "deadline")
    failed = await deploy(api, "failed")
    rollback = await until(
        client, admin, failed["rolled_back_by"], lambda d: d["status"] == "succeeded"
    )
    assert rollback["version"] == "shop/api:1"
    assert (kube.image_of("shop", "api"), kube.image_of("shop", "web")) == (
        "shop/api:1",
        "shop/web:1",
    )


async def test_a_script_deploy_cannot_be_rolled_back(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    job = await create_job(client, admin, pipeline=pipeline({"environment": "scripted"}))
    for _ in range(2):
        worker, spec = await started_build(client, admin, job)
        state = (await register(client, worker, spec)).json()
        await client.put(
            f"{API}/deployments/{state['id']}/outcome",
            headers=worker.headers,
            json={"status": "succeeded"},
        )
        await set_status(client, worker, spec["build_id"], "success")
    refused = await client.post(f"{API}/environments/scripted/rollback", headers=admin)
    assert "script" in assert_error(refused, 409)


async def _counts(client: httpx.AsyncClient) -> tuple[int, int, int]:
    ctx = client.app.state.ctx  # type: ignore[attr-defined]
    async with ctx.db.transaction() as session:
        return (
            int(await session.scalar(sa.select(sa.func.count()).select_from(Deployment)) or 0),
            int(await session.scalar(sa.select(sa.func.count()).select_from(Environment)) or 0),
            int(await session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) or 0),
        )


async def test_hostile_input_is_refused_and_nothing_is_saved(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    job = await create_job(client, admin, pipeline=pipeline(SCRIPT_DEPLOY))
    worker, spec = await started_build(client, admin, job)
    other = await register_worker(client)
    state = (await register(client, worker, spec)).json()
    before = await _counts(client)
    deploy = {"environment": "staging"}
    builds = f"{API}/builds/{spec['build_id']}/deployments"
    this = f"{API}/deployments/{state['id']}"
    envs = f"{API}/environments"
    on = {"approval_required": True}
    mine, theirs = worker.headers, other.headers
    bad_requests: list[tuple[str, str, Headers, dict[str, Any], int]] = [
        ("PUT", f"{envs}/Prod!", admin, {"json": on}, 422),
        ("PUT", f"{envs}/prod", admin, {"json": {"approval_required": "yes"}}, 422),
        ("PUT", f"{envs}/prod", admin, {"json": {"approval": True}}, 422),
        ("PUT", f"{envs}/{'a' * 64}", admin, {"json": on}, 422),
        ("POST", f"{envs}/nowhere/rollback", admin, {}, 404),
        ("POST", f"{envs}/staging/rollback", admin, {"json": {"deployment_id": "x"}}, 422),
        ("POST", f"{envs}/staging/rollback", admin, {"json": {"deployment_id": state["id"]}}, 409),
        ("POST", f"{API}/deployments/{job['id']}/approve", admin, {}, 404),
        ("POST", f"{this}/approve", admin, {}, 409),
        ("POST", f"{this}/reject", admin, {"json": {"reason": "x" * 1001}}, 422),
        ("GET", f"{envs}/staging", admin, {"params": {"cursor": "bm90LWEtY3Vyc29y"}}, 422),
        ("GET", f"{envs}/staging", admin, {"params": {"limit": 0}}, 422),
        ("POST", builds, theirs, {"json": {"step": "ship", "deploy": deploy}}, 403),
        ("POST", builds, mine, {"json": {"step": "bad/name", "deploy": deploy}}, 422),
        ("POST", builds, mine, {"json": {"step": "x", "deploy": {"environment": "UP"}}}, 422),
        ("POST", builds, mine, {"json": {"step": "build", "deploy": deploy}}, 409),
        ("POST", builds, mine, {"json": {"step": "invented", "deploy": deploy}}, 409),
        ("POST", builds, mine, {"json": {"step": "ship", "deploy": deploy, "attempt": 9}}, 409),
        ("PUT", f"{this}/outcome", mine, {"json": {"status": "running"}}, 422),
        ("PUT", f"{this}/outcome", theirs, {"json": {"status": "failed"}}, 403),
        ("GET", f"{this}/state", theirs, {}, 403),
        ("GET", f"{this}/state", mine, {"params": {"status": "done"}}, 422),
        ("GET", f"{API}/builds/{job['id']}/deployments", admin, {}, 404),
    ]
    for method, path, headers, extra, status in bad_requests:
        response = await client.request(method, path, headers=headers, **extra)
        assert_error(response, status)
    assert await _counts(client) == before
    found = await deployment(client, admin, state["id"])
    assert found["status"] == "running" and found["approved_by"] is None


async def test_a_deploy_image_the_variables_leave_empty_refuses_the_trigger(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    deploy = kube_deploy("staging")
    deploy["kubernetes"]["image"] = "$UNSET_HERE"
    job = await create_job(client, admin, pipeline=pipeline(deploy, commands=False))
    ctx = client.app.state.ctx  # type: ignore[attr-defined]

    async def builds() -> int:
        async with ctx.db.transaction() as session:
            return int(await session.scalar(sa.select(sa.func.count()).select_from(Build)) or 0)

    before = (await builds(), await _counts(client))
    refused = await client.post(f"{API}/jobs/{job['id']}/trigger", headers=admin, json={})
    message = assert_error(refused, 422)
    assert "deploy.kubernetes.image" in message and "empty" in message
    assert (await builds(), await _counts(client)) == before


async def test_roles_protect_and_roll_back(client: httpx.AsyncClient, admin: Headers) -> None:
    viewer = await user_headers(client, admin, "viewer")
    developer = await user_headers(client, admin, "developer")
    name = unique("env")
    body = {"approval_required": True}
    assert_error(await client.put(f"{API}/environments/{name}", headers=developer, json=body), 403)
    assert_error(await client.post(f"{API}/environments/{name}/rollback", headers=viewer), 403)
    made = await client.put(f"{API}/environments/{name}", headers=admin, json=body)
    assert made.status_code == 200, made.text
    assert made.json() == {
        "name": name,
        "approval_required": True,
        "created_at": made.json()["created_at"],
        "current": None,
        "running": None,
        "waiting": 0,
        "targets": [],
    }
    listed = (await client.get(f"{API}/environments", headers=viewer)).json()["items"]
    assert [e["approval_required"] for e in listed if e["name"] == name] == [True]
    # Nothing deployed yet: nothing to undo.
    assert "nothing" in assert_error(
        await client.post(f"{API}/environments/{name}/rollback", headers=developer), 409
    )


async def test_the_change_stream_says_when_deployments_change(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    job = await create_job(
        client, admin, pipeline=pipeline({"environment": "live", "approval": "required"})
    )
    worker, spec = await started_build(client, admin, job)
    transport = StreamingASGITransport(client.app)  # type: ignore[attr-defined]
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://test") as streaming,
        watching(streaming, admin) as changes,
    ):
        state = (await register(client, worker, spec)).json()
        await changes.wait_for("deployments")
        approved = await client.post(f"{API}/deployments/{state['id']}/approve", headers=admin)
        assert approved.status_code == 200
        await changes.wait_for("deployments")


async def test_a_plan_read_from_the_repository_deploys_what_the_agent_planned(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    job = await create_job(client, admin, pipeline=None, scm_url="https://git.example/shop.git")
    worker, spec = await started_build(client, admin, job)
    assert spec["pipeline_path"] and spec["steps"] == []
    deploy = {"environment": "from-repo", "version": "v9", "approval": "required"}
    registered = await client.post(
        f"{API}/builds/{spec['build_id']}/deployments",
        headers=worker.headers,
        json={"step": "ship", "deploy": deploy},
    )
    assert registered.status_code == 200, registered.text
    state = registered.json()
    assert (state["environment"], state["version"], state["status"]) == (
        "from-repo",
        "v9",
        "awaiting_approval",
    )
