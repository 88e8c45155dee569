"""The agent's deploy gate (agent/deploy_gate.py) against a real server process: a script
deploy waits for its approval, saying how to give it, then runs its commands through the
wrapped executor (the scripted fake) with the deployment's variables and reports how they
ended; a rejected or failing one fails the step; a destroyed one stops waiting at once, and
its deployment is cancelled."""

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from solvyd.agent.client import ServerClient
from solvyd.agent.deploy_gate import DeployGate
from solvyd.pipeline.executors.fake import FakeExecutor
from solvyd.protocol import BuildStatus, BuildStatusUpdate, JobSpec, WorkerRegistration
from tests.support.processes import AGENT_TOKEN, ServerProcess, start_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server for the module, on SQLite: the gate is the agent's; the server's behaviour
    on both engines is tested in test_deployments_api.py."""
    root = tmp_path_factory.mktemp("deploy-gate")
    (root / "logs").mkdir()
    process = start_server(f"sqlite:///{root}/solvyd.db", root / "data", root / "logs")
    try:
        yield process
    finally:
        process.process.stop()


@pytest.fixture
async def users(server: ServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {server.admin_token()}"}
    async with httpx.AsyncClient(
        base_url=f"{server.url}/api/v1", headers=headers, timeout=30
    ) as http:
        yield http


@pytest.fixture
async def agent(server: ServerProcess) -> AsyncIterator[ServerClient]:
    client = ServerClient(server.url, AGENT_TOKEN)
    await client.register(
        WorkerRegistration(
            name=f"gate-{uuid.uuid4().hex[:6]}", capabilities={"executors": ["fake"]}
        )
    )
    yield client
    await client.aclose()


async def running_job(
    users: httpx.AsyncClient, agent: ServerClient, commands: list[str], **deploy: Any
) -> JobSpec:
    pipeline = {
        "steps": [
            {"name": "ship", "commands": commands, "deploy": {"environment": "staging", **deploy}}
        ]
    }
    job = await users.post(
        "/jobs", json={"name": f"gate-{uuid.uuid4().hex[:8]}", "pipeline": json.dumps(pipeline)}
    )
    assert job.status_code == 201, job.text
    assert (await users.post(f"/jobs/{job.json()['id']}/trigger", json={})).status_code == 201
    spec = await agent.claim(wait=5)
    assert spec is not None
    await agent.update_build(
        spec.build_id, BuildStatusUpdate(status=BuildStatus.RUNNING, attempt=spec.attempt)
    )
    return spec


async def run_step(
    gate: DeployGate, job: JobSpec
) -> tuple[asyncio.Task[int], list[str], asyncio.Task[None]]:
    step = job.steps[0]
    await gate.setup_job(job)
    await gate.start_step(job, step)
    lines: list[str] = []

    async def read() -> None:
        async for line in gate.stream_output(job, step):
            lines.append(line)

    return asyncio.create_task(gate.wait_step(job, step)), lines, asyncio.create_task(read())


async def awaiting(users: httpx.AsyncClient, job: JobSpec) -> dict[str, Any]:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        items = (await users.get(f"/builds/{job.build_id}/deployments")).json()["items"]
        if items and items[0]["status"] == "awaiting_approval":
            return dict(items[0])
        await asyncio.sleep(0.05)
    raise AssertionError("no deployment awaits approval")


async def test_a_script_deploy_waits_for_approval_then_runs_and_reports(
    users: httpx.AsyncClient, agent: ServerClient
) -> None:
    job = await running_job(
        users,
        agent,
        ["echo deploying", "env SOLVYD_DEPLOY_ENVIRONMENT"],
        approval="required",
        version="v7",
    )
    gate = DeployGate(FakeExecutor(), agent)
    waiting, lines, reader = await run_step(gate, job)
    deployment = await awaiting(users, job)
    await asyncio.sleep(0.3)
    assert not waiting.done()
    assert f"waiting for approval (approve: solvyd deploy approve {deployment['id']})" in lines
    approved = await users.post(f"/deployments/{deployment['id']}/approve")
    assert approved.status_code == 200, approved.text
    assert await asyncio.wait_for(waiting, 15) == 0
    await gate.destroy_step(job, job.steps[0])
    await asyncio.wait_for(reader, 5)
    assert lines[0] == f"deployment #1 of v7 to staging (id {deployment['id']})"
    assert "deploying v7 to staging" in lines
    assert "deploying" in lines
    assert "SOLVYD_DEPLOY_ENVIRONMENT=staging" in lines
    assert lines[-1] == "deployment #1 to staging succeeded"
    found = (await users.get(f"/deployments/{deployment['id']}")).json()
    assert found["status"] == "succeeded" and found["approved_by"] == "admin"


async def test_a_failing_script_fails_the_deployment_and_a_rejected_one_the_step(
    users: httpx.AsyncClient, agent: ServerClient
) -> None:
    gate = DeployGate(FakeExecutor(), agent)
    job = await running_job(users, agent, ["exit 3"])
    waiting, lines, reader = await run_step(gate, job)
    assert await asyncio.wait_for(waiting, 15) == 3
    await gate.destroy_step(job, job.steps[0])
    await asyncio.wait_for(reader, 5)
    items = (await users.get(f"/builds/{job.build_id}/deployments")).json()["items"]
    assert items[0]["status"] == "failed"
    assert items[0]["message"] == "the deploy script ended with exit code 3"
    await agent.update_build(job.build_id, BuildStatusUpdate(status=BuildStatus.FAILURE, attempt=1))

    job = await running_job(users, agent, ["echo never"], approval="required")
    waiting, lines, reader = await run_step(gate, job)
    deployment = await awaiting(users, job)
    rejected = await users.post(
        f"/deployments/{deployment['id']}/reject", json={"reason": "not today"}
    )
    assert rejected.status_code == 200
    assert await asyncio.wait_for(waiting, 15) == 1
    await gate.destroy_step(job, job.steps[0])
    await asyncio.wait_for(reader, 5)
    assert "echo never" not in " ".join(lines)
    assert lines[-1].endswith("rejected: rejected by admin: not today")


async def test_destroying_a_waiting_deploy_step_ends_it_at_once(
    users: httpx.AsyncClient, agent: ServerClient
) -> None:
    gate = DeployGate(FakeExecutor(), agent)
    job = await running_job(users, agent, ["echo never"], approval="required")
    waiting, _, reader = await run_step(gate, job)
    deployment = await awaiting(users, job)
    started = time.monotonic()
    await gate.destroy_step(job, job.steps[0])
    await asyncio.wait_for(reader, 5)
    assert time.monotonic() - started < 2
    with pytest.raises(asyncio.CancelledError):
        await waiting
    # The build goes on (a step timeout, allow_failure): the deployment no longer waits for
    # an approval nobody needs.
    found = (await users.get(f"/deployments/{deployment['id']}")).json()
    assert (found["status"], found["message"]) == (
        "cancelled",
        "its step stopped before it deployed",
    )
    again = await agent.deployment_step_stopped(uuid.UUID(deployment["id"]))
    assert again.status == "cancelled"
