"""Each step of `GET /builds/{id}` names the steps it waits for (`depends_on`), so a UI can
draw the build as a graph: the checkout first, the pipeline's own graph, and the steps the
agent adds after the step before them."""

from typing import Any

import httpx
import pytest

from tests.integration.api_helpers import (
    API,
    Headers,
    admin_headers,
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
