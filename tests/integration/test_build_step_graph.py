"""Each step of `GET /builds/{id}` names the steps it waits for (`depends_on`), so a UI can
draw the build as a graph: the graph of the plan the agent reports it runs (`PUT
/builds/{id}/graph`); without one, the checkout first, the pipeline's own graph, and the steps
the agent adds after the step before them."""

from typing import Any

import httpx
import pytest

from solvyd.server.settings import ServerSettings
from tests.integration.api_helpers import (
    API,
    Headers,
    Worker,
    admin_headers,
    assert_error,
    claim,
    claim_build,
    create_job,
    get_build,
    register_worker,
    set_status,
    trigger,
)

REPOSITORY = "https://git.example/graph.git"
GRAPH = """\
steps:
  - name: lint
    commands: [ruff check]
  - name: unit
    commands: [pytest]
  - name: package
    commands: [make dist]
    depends_on: [lint, unit]
"""


@pytest.fixture
def settings(settings: ServerSettings) -> ServerSettings:
    """Automatic retries and the reaper fast enough to see a second attempt."""
    return settings.model_copy(
        update={"retry_backoff_seconds": 0.1, "reaper_interval_seconds": 0.1}
    )


@pytest.fixture
async def admin(client: httpx.AsyncClient) -> Headers:
    return await admin_headers(client)


def _graph(build: dict[str, Any]) -> dict[str, list[str]]:
    return {step["name"]: step["depends_on"] for step in build["steps"]}


async def test_steps_in_order_and_a_graph_after_the_checkout(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    in_order = await create_job(client, admin)
    build = await trigger(client, admin, in_order["id"])
    assert _graph(await get_build(client, admin, build["id"])) == {
        "build": [],
        "test": ["build"],
    }

    graph = await create_job(client, admin, pipeline=GRAPH, scm_url=REPOSITORY)
    build = await trigger(client, admin, graph["id"])
    assert _graph(build) == {
        "checkout": [],
        "lint": ["checkout"],
        "unit": ["checkout"],
        "package": ["lint", "unit"],
    }
    listed = await client.get(f"{API}/builds", headers=admin, params={"job_id": graph["id"]})
    assert _graph(listed.json()["items"][0]) == _graph(build)


async def test_steps_the_agent_reports_follow_the_step_before_them(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    # The pipeline is read from the repository after the checkout: the server knows no steps.
    job = await create_job(client, admin, scm_url=REPOSITORY, pipeline=None)
    worker = await register_worker(client)
    build = await trigger(client, admin, job["id"])
    assert _graph(build) == {"checkout": []}
    await claim_build(client, worker)
    await set_status(client, worker, build["id"], "running")
    for name in ("checkout", "build", "test"):
        response = await client.put(
            f"{API}/builds/{build['id']}/steps/{name}",
            headers=worker.headers,
            json={"status": "running"},
        )
        assert response.status_code == 200, response.text
    assert _graph(await get_build(client, admin, build["id"])) == {
        "checkout": [],
        "build": ["checkout"],
        "test": ["build"],
    }


# What an agent reports for a repository pipeline with lint and a two-cell matrix test side by
# side, then a wheel after all three.
REPORTED = [
    {"name": "checkout", "depends_on": []},
    {"name": "lint", "depends_on": ["checkout"]},
    {"name": "test (PY=3.11)", "depends_on": ["checkout"]},
    {"name": "test (PY=3.12)", "depends_on": ["checkout"]},
    {"name": "wheel", "depends_on": ["lint", "test (PY=3.11)", "test (PY=3.12)"]},
]


async def _running_repository_build(
    client: httpx.AsyncClient, admin: Headers
) -> tuple[Worker, dict[str, Any]]:
    job = await create_job(client, admin, scm_url=REPOSITORY, pipeline=None)
    worker = await register_worker(client)
    build = await trigger(client, admin, job["id"])
    await claim_build(client, worker)
    assert (await set_status(client, worker, build["id"], "running")).status_code == 200
    return worker, build


async def test_the_graph_the_agent_reports_is_the_one_drawn(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    worker, build = await _running_repository_build(client, admin)
    response = await client.put(
        f"{API}/builds/{build['id']}/graph",
        headers=worker.headers,
        json={"steps": REPORTED, "attempt": 1},
    )
    assert response.status_code == 204, response.text
    shown = await get_build(client, admin, build["id"])
    # Every step of the plan shows before it runs, in the plan's order.
    assert [(s["name"], s["status"]) for s in shown["steps"]] == [
        ("checkout", "pending"),
        ("lint", "pending"),
        ("test (PY=3.11)", "pending"),
        ("test (PY=3.12)", "pending"),
        ("wheel", "pending"),
    ]
    assert _graph(shown) == {step["name"]: step["depends_on"] for step in REPORTED}


BAD_GRAPHS = {
    "unknown dependency": [{"name": "a", "depends_on": ["checkout"]}],
    "cycle": [
        {"name": "a", "depends_on": ["c"]},
        {"name": "b", "depends_on": ["a"]},
        {"name": "c", "depends_on": ["b"]},
    ],
    "waits for itself": [{"name": "a", "depends_on": ["a"]}],
    "listed twice": [{"name": "a"}, {"name": "a"}],
    "bad name": [{"name": "../a"}],
    "bad name in depends_on": [{"name": "a"}, {"name": "b", "depends_on": ["a\u202e"]}],
    "no steps": [],
    "too many steps": [{"name": f"s{index}"} for index in range(1001)],
    "not a list": {"a": []},
}


@pytest.mark.parametrize("steps", BAD_GRAPHS.values(), ids=BAD_GRAPHS.keys())
async def test_a_graph_that_is_not_one_is_refused_and_nothing_kept(
    client: httpx.AsyncClient, admin: Headers, steps: Any
) -> None:
    worker, build = await _running_repository_build(client, admin)
    response = await client.put(
        f"{API}/builds/{build['id']}/graph", headers=worker.headers, json={"steps": steps}
    )
    assert_error(response, 422)
    assert _graph(await get_build(client, admin, build["id"])) == {"checkout": []}


async def test_only_the_worker_holding_the_build_reports_its_graph(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    worker, build = await _running_repository_build(client, admin)
    other = await register_worker(client)
    url = f"{API}/builds/{build['id']}/graph"
    assert_error(await client.put(url, headers=other.headers, json={"steps": REPORTED}), 403)
    stale = {"steps": REPORTED, "attempt": 2}
    assert_error(await client.put(url, headers=worker.headers, json=stale), 409)
    assert_error(await client.put(url, headers=admin, json={"steps": REPORTED}), 403)
    assert _graph(await get_build(client, admin, build["id"])) == {"checkout": []}


async def test_each_attempt_reports_its_own_graph(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    job = await create_job(client, admin, scm_url=REPOSITORY, pipeline=None, max_retries=1)
    worker = await register_worker(client)
    build = await trigger(client, admin, job["id"])
    await claim_build(client, worker)
    await set_status(client, worker, build["id"], "running")
    url = f"{API}/builds/{build['id']}/graph"
    first = {"steps": REPORTED, "attempt": 1}
    assert (await client.put(url, headers=worker.headers, json=first)).status_code == 204

    lost = await set_status(client, worker, build["id"], "error", error_message="executor lost")
    assert (lost.json()["status"], lost.json()["attempt"]) == ("queued", 2)
    assert (await claim(client, worker, wait=5)).status_code == 200
    await set_status(client, worker, build["id"], "running", attempt=2)
    # The second attempt planned a commit whose file runs the steps one after the other.
    in_order = [{"name": "checkout"}, {"name": "lint", "depends_on": ["checkout"]}]
    second = {"steps": in_order, "attempt": 2}
    assert (await client.put(url, headers=worker.headers, json=second)).status_code == 204
    # The first attempt's late report is refused.
    assert_error(await client.put(url, headers=worker.headers, json=first), 409)
    graph = _graph(await get_build(client, admin, build["id"]))
    # Only this attempt's plan: the first one's steps that never ran are gone.
    assert graph == {"checkout": [], "lint": ["checkout"]}


async def test_a_matrix_cell_with_a_long_name_is_kept(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    worker, build = await _running_repository_build(client, admin)
    cell = f"test (PY={'3' * 300})"
    steps = [{"name": "checkout"}, {"name": cell, "depends_on": ["checkout"]}]
    response = await client.put(
        f"{API}/builds/{build['id']}/graph", headers=worker.headers, json={"steps": steps}
    )
    assert response.status_code == 204, response.text
    assert _graph(await get_build(client, admin, build["id"]))[cell] == ["checkout"]
