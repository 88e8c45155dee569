"""DELETE /workers/{id}: an admin forgets a worker. Refused while it holds builds; the builds
it ran before stay; its token stops working with a clear 401; its agent may register again."""

from typing import Any

import httpx
import pytest

from tests.integration.api_helpers import (
    API,
    Headers,
    admin_headers,
    assert_error,
    claim_build,
    create_job,
    get_build,
    register_worker,
    set_status,
    trigger,
    user_headers,
)


@pytest.fixture
async def admin(client: httpx.AsyncClient) -> Headers:
    return await admin_headers(client)


@pytest.fixture
async def job(client: httpx.AsyncClient, admin: Headers) -> dict[str, Any]:
    return await create_job(client, admin)


async def _worker_names(client: httpx.AsyncClient, admin: Headers) -> list[str]:
    response = await client.get(f"{API}/workers", headers=admin)
    assert response.status_code == 200, response.text
    return [worker["name"] for worker in response.json()["items"]]


async def test_a_removed_worker_is_gone_and_its_builds_stay(
    client: httpx.AsyncClient, admin: Headers, job: dict[str, Any]
) -> None:
    worker = await register_worker(client)
    build = await trigger(client, admin, job["id"])
    await claim_build(client, worker)
    await set_status(client, worker, build["id"], "running")
    assert (await set_status(client, worker, build["id"], "success")).status_code == 200

    response = await client.delete(f"{API}/workers/{worker.id}", headers=admin)
    assert response.status_code == 204, response.text
    assert response.content == b""
    assert worker.name not in await _worker_names(client, admin)
    kept = await get_build(client, admin, build["id"])
    assert (kept["status"], kept["worker_id"]) == ("success", None)

    [event] = (
        await client.get(f"{API}/audit", headers=admin, params={"action": "worker.remove"})
    ).json()["items"]
    assert (event["target"], event["details"], event["actor_name"]) == (
        f"worker:{worker.id}",
        {"name": worker.name},
        "admin",
    )
    assert_error(await client.delete(f"{API}/workers/{worker.id}", headers=admin), 404)


async def test_a_removed_workers_token_stops_working_and_it_may_register_again(
    client: httpx.AsyncClient, admin: Headers, job: dict[str, Any]
) -> None:
    worker = await register_worker(client)
    assert (await client.delete(f"{API}/workers/{worker.id}", headers=admin)).status_code == 204

    beat = await client.post(
        f"{API}/workers/{worker.id}/heartbeat", headers=worker.headers, json={}
    )
    assert "removed" in assert_error(beat, 401, "unauthorized")
    claim = await client.post(
        f"{API}/workers/{worker.id}/claim", headers=worker.headers, json={"wait": 0}
    )
    assert_error(claim, 401, "unauthorized")

    again = await register_worker(client, worker.name)
    assert again.id != worker.id
    build = await trigger(client, admin, job["id"])
    assert (await claim_build(client, again))["build_id"] == build["id"]


@pytest.mark.parametrize("started", [False, True], ids=["claimed", "running"])
async def test_a_worker_holding_builds_is_not_removed(
    client: httpx.AsyncClient, admin: Headers, job: dict[str, Any], started: bool
) -> None:
    worker = await register_worker(client)
    build = await trigger(client, admin, job["id"])
    await claim_build(client, worker)
    if started:
        await set_status(client, worker, build["id"], "running")

    refused = await client.delete(f"{API}/workers/{worker.id}", headers=admin)
    message = assert_error(refused, 409, "conflict")
    assert message == (f"worker {worker.name!r} has 1 build; drain it and wait, or cancel them")
    assert worker.name in await _worker_names(client, admin)

    assert (
        await client.post(f"{API}/builds/{build['id']}/cancel", headers=admin)
    ).status_code == 200
    assert (await client.delete(f"{API}/workers/{worker.id}", headers=admin)).status_code == 204


async def test_only_an_admin_removes_a_worker(client: httpx.AsyncClient, admin: Headers) -> None:
    worker = await register_worker(client)
    developer = await user_headers(client, admin, "developer")
    assert_error(await client.delete(f"{API}/workers/{worker.id}", headers=developer), 403)
    assert_error(await client.delete(f"{API}/workers/{worker.id}", headers=worker.headers), 403)
    assert worker.name in await _worker_names(client, admin)
