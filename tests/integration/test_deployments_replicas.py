"""Two server processes on one PostgreSQL database (in-process apps, each with its own runner
and its own LISTEN/NOTIFY): one deployment at a time per environment holds across them, and
when the server rolling a deployment out stops, the other takes the rollout over once its
lease runs out and carries it to the end."""

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from solvyd.server.app import create_app
from solvyd.server.db.models import Build, Deployment
from solvyd.server.services.deployments.create import end_waiting_deployments
from solvyd.server.services.deployments.runner import DeploymentRunner
from solvyd.server.settings import ServerSettings
from solvyd.shared.clock import utcnow
from tests.integration.api_helpers import (
    API,
    admin_headers,
    claim_build,
    create_job,
    register_worker,
    set_status,
    trigger,
)
from tests.support.databases import PostgresDatabases
from tests.support.kube_fake import apps
from tests.support.kube_fake.core import FakeCluster, serving
from tests.support.processes import ADMIN_PASSWORD, AGENT_TOKEN

PIPELINE = json.dumps(
    {
        "steps": [
            {
                "name": "ship",
                "deploy": {
                    "environment": "production",
                    "kubernetes": {
                        "namespace": "shop",
                        "deployment": "web",
                        "image": "shop/web:${SOLVYD_BUILD_NUMBER}",
                    },
                },
            }
        ]
    }
)


@pytest.fixture
def database_url(postgres_databases: PostgresDatabases) -> str:
    """PostgreSQL only: SQLite is one server's database."""
    return postgres_databases.require()


@contextlib.asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            http.app = app  # type: ignore[attr-defined]
            yield http


async def test_two_servers_run_one_deployment_at_a_time_per_environment(
    database_url: str, tmp_path: Path
) -> None:
    url = database_url
    fake = FakeCluster()
    kube = apps.install(fake, rollout_seconds=3.0)
    async with serving(fake):
        await kube.add_deployment("shop", "web", "shop/web:0", replicas=3)

        def settings(name: str) -> ServerSettings:
            return ServerSettings(
                database_url=url,
                data_dir=tmp_path / name,
                admin_password=ADMIN_PASSWORD,
                agent_token=AGENT_TOKEN,
                secret_key="test-secret-key-0123456789abcdef0123456789",
                deploy_kubeconfig=fake.write_kubeconfig(tmp_path / "kubeconfig"),
                deploy_poll_seconds=0.2,
                deploy_rollout_poll_seconds=0.1,
                deploy_lease_seconds=1.0,
            )

        async with running(create_app(settings("a"))) as first:
            admin = await admin_headers(first)
            job = await create_job(first, admin, pipeline=PIPELINE)
            async with running(create_app(settings("b"))) as second:
                states = []
                for http in (first, second):
                    worker = await register_worker(http)
                    build = await trigger(http, admin, job["id"])
                    spec = await claim_build(http, worker)
                    assert spec["build_id"] == build["id"]
                    await set_status(http, worker, build["id"], "running")
                    step = spec["steps"][0]
                    registered = await http.post(
                        f"{API}/builds/{build['id']}/deployments",
                        headers=worker.headers,
                        json={"step": "ship", "deploy": step["deploy"]},
                    )
                    assert registered.status_code == 200, registered.text
                    states.append(registered.json())
                assert [s["status"] for s in states] == ["running", "queued"]
                assert states[1]["waiting_reason"] == "waiting for deployment #1 to production"
                # The first rollout has begun, in either server; then b stops.
                await _until(first, admin, states[0]["id"], lambda d: bool(d["log"]))
            # If b held the rollout, a takes it over once b's lease ran out; either way both
            # deployments end, one after the other, never side by side.
            seen_running: set[tuple[str, ...]] = set()
            deadline = time.monotonic() + 30
            while True:
                found = [await _get(first, admin, s["id"]) for s in states]
                seen_running.add(tuple(d["id"] for d in found if d["status"] == "running"))
                if all(d["status"] == "succeeded" for d in found):
                    break
                assert time.monotonic() < deadline, found
                await asyncio.sleep(0.05)
            assert all(len(running_now) <= 1 for running_now in seen_running)
            assert kube.image_of("shop", "web") == "shop/web:2"
            assert found[1]["started_at"] >= found[0]["finished_at"]


async def test_a_rollout_whose_server_stopped_is_taken_over(
    database_url: str, tmp_path: Path
) -> None:
    url = database_url
    fake = FakeCluster()
    kube = apps.install(fake, rollout_seconds=3.0)
    async with serving(fake):
        await kube.add_deployment("shop", "web", "shop/web:0", replicas=3)

        def settings(name: str) -> ServerSettings:
            return ServerSettings(
                database_url=url,
                data_dir=tmp_path / name,
                admin_password=ADMIN_PASSWORD,
                agent_token=AGENT_TOKEN,
                secret_key="test-secret-key-0123456789abcdef0123456789",
                deploy_kubeconfig=fake.write_kubeconfig(tmp_path / "kubeconfig"),
                deploy_poll_seconds=0.2,
                deploy_rollout_poll_seconds=0.1,
                deploy_lease_seconds=1.0,
            )

        async with running(create_app(settings("a"))) as first:
            admin = await admin_headers(first)
            job = await create_job(first, admin, pipeline=PIPELINE)
            worker = await register_worker(first)
            build = await trigger(first, admin, job["id"])
            spec = await claim_build(first, worker)
            await set_status(first, worker, build["id"], "running")
            registered = await first.post(
                f"{API}/builds/{build['id']}/deployments",
                headers=worker.headers,
                json={"step": "ship", "deploy": spec["steps"][0]["deploy"]},
            )
            deployment_id = registered.json()["id"]
            await _until(first, admin, deployment_id, lambda d: bool(d["log"]))
        # Server a is gone mid-rollout (its lease stays until it runs out).
        async with running(create_app(settings("b"))) as second:
            admin = await admin_headers(second)
            done = await _until(
                second, admin, deployment_id, lambda d: d["status"] == "succeeded", timeout=30
            )
            texts = [line["text"] for line in done["log"]]
            assert "the server rolling this out stopped; resuming" in texts
            assert texts[-1] == "rolled out"
            assert kube.image_of("shop", "web") == "shop/web:1"


async def _get(http: httpx.AsyncClient, admin: dict[str, str], deployment_id: str) -> Any:
    response = await http.get(f"{API}/deployments/{deployment_id}", headers=admin)
    assert response.status_code == 200, response.text
    return response.json()


async def _until(
    http: httpx.AsyncClient,
    admin: dict[str, str],
    deployment_id: str,
    check: Any,
    timeout: float = 15.0,
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        found = await _get(http, admin, deployment_id)
        if check(found):
            return dict(found)
        assert time.monotonic() < deadline, found
        await asyncio.sleep(0.05)


async def test_a_build_ending_never_cancels_a_deployment_that_started_meanwhile(
    database_url: str, tmp_path: Path
) -> None:
    """The build's end reads its waiting deployments without a lock; a start that commits
    before its write (here: one holding the row while the end reads) must win: the rollout
    runs, so the deployment is not marked cancelled and its environment not freed."""
    settings = ServerSettings(
        database_url=database_url,
        data_dir=tmp_path / "data",
        admin_password=ADMIN_PASSWORD,
        agent_token=AGENT_TOKEN,
        secret_key="test-secret-key-0123456789abcdef0123456789",
    )
    async with running(create_app(settings)) as http:
        admin = await admin_headers(http)
        deploy = {**json.loads(PIPELINE)["steps"][0]["deploy"], "approval": "required"}
        job = await create_job(
            http, admin, pipeline=json.dumps({"steps": [{"name": "ship", "deploy": deploy}]})
        )
        worker = await register_worker(http)
        build = await trigger(http, admin, job["id"])
        spec = await claim_build(http, worker)
        await set_status(http, worker, build["id"], "running")
        registered = await http.post(
            f"{API}/builds/{build['id']}/deployments",
            headers=worker.headers,
            json={"step": "ship", "deploy": spec["steps"][0]["deploy"]},
        )
        assert registered.json()["status"] == "awaiting_approval", registered.text
        deployment_id = uuid.UUID(registered.json()["id"])
        ctx = http.app.state.ctx  # type: ignore[attr-defined]

        async def end_of_build() -> list[uuid.UUID]:
            async with ctx.db.transaction() as session:
                ended = await session.get(Build, uuid.UUID(build["id"]))
                assert ended is not None
                return await end_waiting_deployments(session, ended)

        async with ctx.db.transaction() as starting:
            # As approve then start_next do: the row locked, then running (and leased far
            # ahead, so that no runner rolls it out while the test looks).
            row = await starting.get(Deployment, deployment_id, with_for_update=True)
            assert row is not None
            row.status = "running"
            row.started_at = utcnow()
            row.lease_until = utcnow() + timedelta(hours=1)
            await starting.flush()
            ending = asyncio.create_task(end_of_build())
            await asyncio.sleep(1.0)
            assert not ending.done()  # it read the row as waiting, and waits for the lock
        assert await asyncio.wait_for(ending, 10) == []
        found = await _get(http, admin, str(deployment_id))
        assert (found["status"], found["finished_at"]) == ("running", None)


async def test_a_runner_renews_only_a_lease_it_holds(database_url: str, tmp_path: Path) -> None:
    """A server that stalled past its lease, whose rollout another took over, must not renew
    the lease back (two servers would then both think they hold it): it stops its rollout."""
    settings = ServerSettings(
        database_url=database_url,
        data_dir=tmp_path / "data",
        admin_password=ADMIN_PASSWORD,
        agent_token=AGENT_TOKEN,
        secret_key="test-secret-key-0123456789abcdef0123456789",
        deploy_lease_seconds=0.3,
    )
    async with running(create_app(settings)) as http:
        admin = await admin_headers(http)
        job = await create_job(http, admin, pipeline=PIPELINE)
        worker = await register_worker(http)
        build = await trigger(http, admin, job["id"])
        spec = await claim_build(http, worker)
        await set_status(http, worker, build["id"], "running")
        # Approval holds it: the app's own runner leaves it alone.
        deploy = {**spec["steps"][0]["deploy"], "approval": "required"}
        registered = await http.post(
            f"{API}/builds/{build['id']}/deployments",
            headers=worker.headers,
            json={"step": "ship", "deploy": deploy},
        )
        deployment_id = uuid.UUID(registered.json()["id"])
        ctx = http.app.state.ctx  # type: ignore[attr-defined]
        taken_over = utcnow() + timedelta(hours=1)
        async with ctx.db.transaction() as session:
            row = await session.get(Deployment, deployment_id)
            assert row is not None
            row.status, row.lease_holder, row.lease_until = "running", "another", taken_over
        stalled = DeploymentRunner(ctx)
        rollout = asyncio.create_task(asyncio.sleep(60))
        renewing = asyncio.create_task(stalled._renew_lease(deployment_id, rollout))
        await asyncio.wait_for(renewing, 5)
        await asyncio.gather(rollout, return_exceptions=True)
        assert rollout.cancelled()
        async with ctx.db.transaction() as session:
            row = await session.get(Deployment, deployment_id)
            assert row is not None
            assert (row.lease_holder, row.lease_until) == ("another", taken_over)
