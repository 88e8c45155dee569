"""Who may be which worker, on both databases (the in-process app over ASGI): a taken name
needs that worker's own token (else 409, and the worker keeps working), an admin frees a name
by removing the worker, and a registration token scoped to labels registers and claims
nothing beyond them."""

import uuid
from typing import Any

import httpx
import sqlalchemy as sa

from solvyd.server.db.models import Worker as WorkerRow
from tests.integration.api_helpers import (
    API,
    Headers,
    Worker,
    admin_headers,
    assert_error,
    bearer,
    claim,
    claim_build,
    create_job,
    register_worker,
    trigger,
    unique,
)
from tests.support.processes import AGENT_TOKEN


def _registration(name: str, labels: list[str]) -> dict[str, Any]:
    return {
        "name": name,
        "hostname": f"{name}.example",
        "ip": "127.0.0.1",
        "capabilities": {"labels": labels, "executors": ["local"], "concurrency": 1},
    }


async def _register(
    client: httpx.AsyncClient,
    name: str,
    *,
    token: str = AGENT_TOKEN,
    labels: list[str] | None = None,
    worker_token: str | None = None,
) -> httpx.Response:
    headers = bearer(token)
    if worker_token is not None:
        headers["X-Solvyd-Worker-Token"] = worker_token
    return await client.post(
        f"{API}/workers/register", headers=headers, json=_registration(name, labels or [])
    )


async def _heartbeat(client: httpx.AsyncClient, worker_id: str, token: str) -> httpx.Response:
    return await client.post(f"{API}/workers/{worker_id}/heartbeat", headers=bearer(token), json={})


async def _agent_token(
    client: httpx.AsyncClient, admin: Headers, labels: list[str] | None
) -> dict[str, Any]:
    response = await client.post(
        f"{API}/agent-tokens", headers=admin, json={"name": unique("rack"), "labels": labels}
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_a_taken_name_without_its_worker_token_is_409_and_the_worker_keeps_working(
    client: httpx.AsyncClient,
) -> None:
    admin = await admin_headers(client)
    original = await register_worker(client, "builder", labels=["deploy"])

    # The registration token alone, as a step that read it would have it.
    rogue = await _register(client, "builder", labels=["deploy", "gpu"])
    message = assert_error(rogue, 409, "conflict")
    assert "builder" in message and "token" in message
    assert original.token not in rogue.text
    # A wrong or another worker's token is no better.
    other = await register_worker(client)
    for presented in ("svw_made-up", other.token):
        response = await _register(client, "builder", worker_token=presented)
        assert_error(response, 409, "conflict")

    # Nothing changed: same labels, and the original's token still works.
    assert (await _heartbeat(client, original.id, original.token)).status_code == 200
    [row] = [
        w
        for w in (await client.get(f"{API}/workers", headers=admin)).json()["items"]
        if w["name"] == "builder"
    ]
    assert row["id"] == original.id and row["labels"] == ["deploy"]
    job = await create_job(client, admin, labels=["deploy"])
    build = await trigger(client, admin, job["id"])
    assert (await claim_build(client, original))["build_id"] == build["id"]


async def test_a_worker_registers_again_with_its_own_token(client: httpx.AsyncClient) -> None:
    first = await register_worker(client, "restarts")
    response = await _register(client, "restarts", worker_token=first.token)
    assert response.status_code == 200, response.text
    again = response.json()
    assert again["id"] == first.id and again["token"] != first.token
    # The token rotates: the old one is spent, the new one works.
    assert_error(await _heartbeat(client, first.id, first.token), 401)
    assert (await _heartbeat(client, first.id, again["token"])).status_code == 200
    assert_error(await _register(client, "restarts", worker_token=first.token), 409)


async def test_an_admin_frees_a_name_by_removing_the_worker(client: httpx.AsyncClient) -> None:
    admin = await admin_headers(client)
    gone = await register_worker(client, "gone-for-good")
    assert_error(await _register(client, "gone-for-good"), 409)
    removed = await client.delete(f"{API}/workers/{gone.id}", headers=admin)
    assert removed.status_code == 204
    response = await _register(client, "gone-for-good")
    assert response.status_code == 200, response.text
    assert response.json()["id"] != gone.id


async def test_a_label_scoped_token_registers_only_within_its_labels(
    client: httpx.AsyncClient,
) -> None:
    admin = await admin_headers(client)
    scoped = await _agent_token(client, admin, ["linux", "local"])
    assert scoped["labels"] == ["linux", "local"]
    listed = (await client.get(f"{API}/agent-tokens", headers=admin)).json()["items"]
    assert [t["labels"] for t in listed] == [["linux", "local"]]

    name = unique("scoped")
    refused = await _register(client, name, token=scoped["token"], labels=["linux", "deploy"])
    message = assert_error(refused, 403, "forbidden")
    assert "deploy" in message
    workers = (await client.get(f"{API}/workers", headers=admin)).json()["items"]
    assert name not in [w["name"] for w in workers]

    within = await _register(client, name, token=scoped["token"], labels=["linux"])
    assert within.status_code == 200, within.text
    # A token made without labels, and SOLVYD_AGENT_TOKEN, grant any.
    anything = await _agent_token(client, admin, None)
    assert anything["labels"] is None
    assert (await _register(client, unique("w"), token=anything["token"], labels=["x"])).is_success
    assert (await _register(client, unique("w"), labels=["deploy", "gpu"])).is_success


async def test_a_label_scoped_worker_never_claims_beyond_its_grant(
    client: httpx.AsyncClient,
) -> None:
    admin = await admin_headers(client)
    scoped = await _agent_token(client, admin, ["linux"])
    response = await _register(client, unique("scoped"), token=scoped["token"], labels=["linux"])
    body = response.json()
    worker = Worker(id=body["id"], name=body["name"], token=body["token"])
    deploy = await create_job(client, admin, labels=["linux", "deploy"])
    await trigger(client, admin, deploy["id"])

    # Even with labels widened behind the server's back (a row edited by hand, an older
    # server), the claim reads the grant kept on the worker.
    ctx = client.app.state.ctx  # type: ignore[attr-defined]
    async with ctx.db.transaction() as session:
        await session.execute(
            sa.update(WorkerRow)
            .where(WorkerRow.id == uuid.UUID(worker.id))
            .values(labels=["deploy", "linux"])
        )
    assert (await claim(client, worker)).status_code == 204
    beat = await _heartbeat(client, worker.id, worker.token)
    assert beat.json()["has_work"] is False

    plain = await create_job(client, admin, labels=["linux"])
    build = await trigger(client, admin, plain["id"])
    assert (await claim_build(client, worker))["build_id"] == build["id"]


async def test_agent_token_labels_are_checked(client: httpx.AsyncClient) -> None:
    admin = await admin_headers(client)
    for labels in ([""], ["has space"], ["x" * 101], "linux"):
        response = await client.post(
            f"{API}/agent-tokens", headers=admin, json={"name": "bad", "labels": labels}
        )
        assert_error(response, 422)
    assert (await client.get(f"{API}/agent-tokens", headers=admin)).json()["items"] == []
