"""Step names from workers follow the pipeline language's rule, and a worker's cancel watch
is for its own builds only.

In-process app over ASGI on SQLite and PostgreSQL."""

import json
from typing import Any
from urllib.parse import quote

import httpx

from tests.integration.api_helpers import (
    API,
    Headers,
    admin_headers,
    assert_error,
    create_job,
    get_build,
    register_worker,
    running_build,
    set_status,
)

RTL_OVERRIDE = "build\u202etxt.exe"


async def _send(
    http: httpx.AsyncClient, method: str, url: str, headers: Headers, body: Any
) -> httpx.Response:
    """`body` as JSON with `\\uXXXX` escapes (httpx's own encoder refuses a lone surrogate,
    so it could not send one; a script with `json.dumps` does)."""
    return await http.request(
        method,
        url,
        headers={**headers, "Content-Type": "application/json"},
        content=json.dumps(body).encode(),
    )


BAD_STEP_NAMES = ["../../evil", "a" * 5000, RTL_OVERRIDE, "build (A=\u202e)", "build\n", ""]


async def test_step_names_from_a_worker_follow_the_pipeline_rule(
    client: httpx.AsyncClient,
) -> None:
    admin = await admin_headers(client)
    worker, build = await running_build(client, admin, await create_job(client, admin))
    logs_url = f"{API}/builds/{build['id']}/logs"
    for seq, name in enumerate(BAD_STEP_NAMES):
        batch = {"seq": seq, "step": name, "lines": [{"text": "hi"}]}
        response = await _send(client, "POST", logs_url, worker.headers, batch)
        assert_error(response, 422, "invalid")
        # (Starlette's router reads a path ending in a newline as the path without it.)
        if name and not name.endswith("\n"):
            # Quoted whole, as the agent sends it.
            step_url = f"{API}/builds/{build['id']}/steps/{quote(name, safe='')}"
            status = await client.put(step_url, headers=worker.headers, json={"status": "running"})
            assert_error(status, 422, "invalid")
    steps = (await get_build(client, admin, build["id"]))["steps"]
    assert [step["name"] for step in steps] == ["build", "test"]
    assert (await client.get(logs_url, headers=admin)).json()["lines"] == []

    # The names a pipeline can make, a matrix copy's included, are taken.
    for seq, name in enumerate(["checkout", "test (PY=3.12, IMAGE=docker.io/python:3.12)"], 100):
        batch = {"seq": seq, "step": name, "lines": [{"text": "hi"}]}
        response = await _send(client, "POST", logs_url, worker.headers, batch)
        assert response.status_code == 200, response.text
        status = await client.put(
            f"{API}/builds/{build['id']}/steps/{quote(name, safe='')}",
            headers=worker.headers,
            json={"status": "running"},
        )
        assert status.status_code == 200, status.text


async def test_a_step_name_with_an_rtl_override_in_the_url_is_422(
    client: httpx.AsyncClient,
) -> None:
    admin = await admin_headers(client)
    worker, build = await running_build(client, admin, await create_job(client, admin))
    # Unquoted, as a careless client would send it.
    for name in (RTL_OVERRIDE, "a" * 5000, "build (A=\u202e)", "-rf"):
        response = await client.put(
            f"{API}/builds/{build['id']}/steps/{name}",
            headers=worker.headers,
            json={"status": "running"},
        )
        assert_error(response, 422, "invalid")
    steps = (await get_build(client, admin, build["id"]))["steps"]
    assert [step["name"] for step in steps] == ["build", "test"]


async def test_cancel_wait_for_another_workers_build_is_403(client: httpx.AsyncClient) -> None:
    admin = await admin_headers(client)
    owner, build = await running_build(client, admin, await create_job(client, admin))
    other = await register_worker(client)
    url = f"{API}/builds/{build['id']}/cancel-wait"

    refused = await client.get(url, headers=other.headers, params={"wait": 0})
    assert_error(refused, 403, "forbidden")
    own = await client.get(url, headers=owner.headers, params={"wait": 0})
    assert own.json() == {"cancelled": False}
    await set_status(client, owner, build["id"], "success", exit_code=0)
    assert_error(await client.get(url, headers=other.headers, params={"wait": 0}), 403)


async def test_a_matrix_that_makes_a_bad_step_name_is_refused(client: httpx.AsyncClient) -> None:
    """A matrix copy's name carries its values; one that could not be reported by that name
    (a right-to-left override, a newline) is refused with the pipeline."""
    admin = await admin_headers(client)
    for value in ("\u202e", "a\nb", "x" * 600):
        pipeline = {"steps": [{"name": "t", "commands": ["x"], "matrix": {"A": [value]}}]}
        response = await client.post(
            f"{API}/jobs", headers=admin, json={"name": "matrix", "pipeline": pipeline}
        )
        message = assert_error(response, 422)
        assert "step name" in message
    fine = {"steps": [{"name": "t", "commands": ["x"], "matrix": {"OS": ["linux/amd64"]}}]}
    response = await client.post(
        f"{API}/jobs", headers=admin, json={"name": "matrix", "pipeline": fine}
    )
    assert response.status_code == 201, response.text
