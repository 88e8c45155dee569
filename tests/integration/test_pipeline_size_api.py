"""A pipeline too large once expanded is refused at the API with the limit in the message:
creating or changing a job (422, nothing saved), checking it (`valid: false`), and a trigger
whose variables would make the planned build too large (422, no build)."""

import httpx
import pytest

from solvyd.pipeline.config.parser import MAX_EXPANDED_CHARACTERS, MAX_PLANNED_CHARACTERS
from tests.integration.api_helpers import (
    API,
    Headers,
    admin_headers,
    assert_error,
    create_job,
    unique,
)
from tests.unit.pipeline.test_pipeline_size import alias_bomb

LIMIT = f"{MAX_EXPANDED_CHARACTERS:,} characters"


@pytest.fixture
async def admin(client: httpx.AsyncClient) -> Headers:
    return await admin_headers(client)


async def test_an_alias_bomb_is_422_with_the_limit_and_no_job_is_saved(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    name = unique("bomb")
    response = await client.post(
        f"{API}/jobs", headers=admin, json={"name": name, "pipeline": alias_bomb()}
    )
    assert LIMIT in assert_error(response, 422)
    listed = (await client.get(f"{API}/jobs", headers=admin)).json()
    assert name not in [job["name"] for job in listed["items"]]


async def test_changing_a_job_to_an_alias_bomb_is_422(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    job = await create_job(client, admin)
    response = await client.patch(
        f"{API}/jobs/{job['id']}", headers=admin, json={"pipeline": alias_bomb()}
    )
    assert LIMIT in assert_error(response, 422)
    kept = (await client.get(f"{API}/jobs/{job['id']}", headers=admin)).json()
    assert kept["pipeline"] == job["pipeline"]


async def test_validating_an_alias_bomb_names_the_limit(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    response = await client.post(
        f"{API}/pipelines/validate", headers=admin, json={"pipeline": alias_bomb()}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["valid"] is False
    assert LIMIT in body["errors"][0]["message"]


async def test_a_trigger_that_makes_the_plan_too_large_is_422_without_a_build(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    job = await create_job(client, admin)
    response = await client.post(
        f"{API}/jobs/{job['id']}/trigger",
        headers=admin,
        json={"env": {"BIG": "v" * (MAX_PLANNED_CHARACTERS + 1)}},
    )
    assert f"{MAX_PLANNED_CHARACTERS:,} characters" in assert_error(response, 422)
    builds = (await client.get(f"{API}/builds", headers=admin, params={"job_id": job["id"]})).json()
    assert builds["items"] == []
