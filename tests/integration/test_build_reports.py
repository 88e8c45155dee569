"""`POST /builds/{id}/reports`: several reports of a build in one request, applied in order in
one transaction, all or none; on SQLite and PostgreSQL."""

from typing import Any

import httpx
import pytest

from solvyd.protocol.messages import MAX_REPORTS_PER_REQUEST
from tests.integration.api_helpers import (
    API,
    Headers,
    Worker,
    admin_headers,
    assert_error,
    create_job,
    get_build,
    running_build,
)


@pytest.fixture
async def admin(client: httpx.AsyncClient) -> Headers:
    return await admin_headers(client)


@pytest.fixture
async def job(client: httpx.AsyncClient, admin: Headers) -> dict[str, Any]:
    return await create_job(client, admin, branch="main")


def log(seq: int, *texts: str, step: str = "build") -> dict[str, Any]:
    return {
        "type": "log",
        "batch": {"seq": seq, "step": step, "lines": [{"text": t} for t in texts]},
    }


def step(name: str, status: str, **fields: Any) -> dict[str, Any]:
    return {"type": "step", "step": name, "update": {"status": status, **fields}}


def build_status(status: str, **fields: Any) -> dict[str, Any]:
    return {"type": "build", "update": {"status": status, **fields}}


async def send(
    http: httpx.AsyncClient, worker: Worker, build_id: str, reports: list[dict[str, Any]]
) -> httpx.Response:
    return await http.post(
        f"{API}/builds/{build_id}/reports", headers=worker.headers, json={"reports": reports}
    )


async def log_texts(http: httpx.AsyncClient, admin: Headers, build_id: str) -> list[str]:
    response = await http.get(f"{API}/builds/{build_id}/logs", headers=admin)
    assert response.status_code == 200, response.text
    return [line["text"] for line in response.json()["lines"]]


async def test_a_whole_build_in_one_request_is_applied_in_order(
    client: httpx.AsyncClient, admin: Headers, job: dict[str, Any]
) -> None:
    worker, build = await running_build(client, admin, job)
    reports = [
        {"type": "graph", "graph": {"steps": [{"name": "build"}, {"name": "test"}]}},
        step("build", "running"),
        log(0, "compiling", "done"),
        step("build", "success", exit_code=0),
        step("test", "running"),
        log(1, "ok", step="test"),
        step("test", "success", exit_code=0),
        build_status("success", exit_code=0),
    ]
    response = await send(client, worker, build["id"], reports)
    assert response.status_code == 200, response.text
    assert response.json() == {"id": build["id"], "status": "success", "attempt": 1, "stop": False}

    done = await get_build(client, admin, build["id"])
    assert done["status"] == "success"
    assert [(s["name"], s["status"]) for s in done["steps"]] == [
        ("build", "success"),
        ("test", "success"),
    ]
    assert await log_texts(client, admin, build["id"]) == ["compiling", "done", "ok"]

    # The same request again (its answer lost): nothing changes, nothing is stored twice.
    again = await send(client, worker, build["id"], reports[2:3] + reports[5:])
    assert again.status_code == 200, again.text
    assert await log_texts(client, admin, build["id"]) == ["compiling", "done", "ok"]


async def test_one_refused_report_leaves_nothing_of_the_request(
    client: httpx.AsyncClient, admin: Headers, job: dict[str, Any]
) -> None:
    worker, build = await running_build(client, admin, job)
    first = await send(
        client, worker, build["id"], [step("build", "running"), step("build", "success")]
    )
    assert first.status_code == 200, first.text
    # A step may not go back from success to running: 409, naming the report, and the log
    # batch and step before it in the same request are not kept.
    response = await send(
        client,
        worker,
        build["id"],
        [log(0, "kept?"), step("test", "running"), step("build", "running")],
    )
    message = assert_error(response, 409, "conflict")
    assert message.startswith("report 2 (step):")
    after = await get_build(client, admin, build["id"])
    assert {s["name"]: s["status"] for s in after["steps"]}["test"] == "pending"
    assert await log_texts(client, admin, build["id"]) == []

    # A stale attempt is refused the same way.
    stale = await send(
        client, worker, build["id"], [log(0, "x"), build_status("success", attempt=9)]
    )
    assert_error(stale, 409)
    assert (await get_build(client, admin, build["id"]))["status"] == "running"
    assert await log_texts(client, admin, build["id"]) == []


async def test_an_answer_says_when_the_build_was_cancelled_meanwhile(
    client: httpx.AsyncClient, admin: Headers, job: dict[str, Any]
) -> None:
    worker, build = await running_build(client, admin, job)
    cancelled = await client.post(f"{API}/builds/{build['id']}/cancel", headers=admin)
    assert cancelled.status_code == 200, cancelled.text
    response = await send(client, worker, build["id"], [log(0, "still running")])
    assert response.status_code == 200, response.text
    assert response.json()["stop"] is True
    assert response.json()["status"] == "cancelled"
    # Its own final report then answers no stop: it ended.
    final = await send(client, worker, build["id"], [build_status("cancelled")])
    assert final.status_code == 200, final.text
    assert final.json()["stop"] is False


@pytest.mark.parametrize(
    "body",
    [
        {"reports": []},
        {
            "reports": [{"type": "log", "batch": {"seq": 0, "lines": []}}]
            * (MAX_REPORTS_PER_REQUEST + 1)
        },
        {"reports": [{"type": "nonsense"}]},
        {"reports": [step("bad/../name", "running")]},
        {"reports": [log(-1, "x")]},
        {"reports": [log(0, "nul \u0000 here")]},
        {"reports": [build_status("running", duration_seconds="nan")]},
        {"reports": [step("build", "running"), "not an object"]},
        {"reports": {"type": "log"}},
    ],
)
async def test_hostile_requests_are_refused_and_store_nothing(
    client: httpx.AsyncClient, admin: Headers, job: dict[str, Any], body: Any
) -> None:
    worker, build = await running_build(client, admin, job)
    response = await client.post(
        f"{API}/builds/{build['id']}/reports", headers=worker.headers, json=body
    )
    assert_error(response, 422)
    after = await get_build(client, admin, build["id"])
    assert {s["status"] for s in after["steps"]} == {"pending"}
    assert await log_texts(client, admin, build["id"]) == []


async def test_another_workers_build_and_too_large_a_body_are_refused(
    client: httpx.AsyncClient, admin: Headers, job: dict[str, Any], settings: Any
) -> None:
    worker, build = await running_build(client, admin, job)
    other, _ = await running_build(client, admin, job)
    refused = await send(client, other, build["id"], [log(0, "not mine")])
    assert_error(refused, 403)
    line = "x" * 1000
    big = [log(seq, *[line] * 100) for seq in range(settings.max_request_bytes // 100_000 + 1)]
    too_large = await send(client, worker, build["id"], big)
    assert_error(too_large, 413)
    assert await log_texts(client, admin, build["id"]) == []
