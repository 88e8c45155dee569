"""Login, authentication on every endpoint, jobs CRUD, validation errors, health probes."""

import re
import uuid

import httpx

from tests.integration.api_helpers import (
    API,
    PIPELINE,
    admin_headers,
    assert_error,
    bearer,
    create_job,
    login,
    register_worker,
    trigger,
    unique,
)
from tests.support.processes import AGENT_TOKEN

# A forge's webhook carries no token: its signature is checked instead (test_hooks_receive.py).
UNAUTHENTICATED = {
    "/healthz",
    "/readyz",
    f"{API}/auth/login",
    f"{API}/auth/refresh",
    f"{API}/hooks/{{forge}}",
    f"{API}/badges/{{job_name}}.svg",  # a public job's badge, for README files
}


async def test_login_gives_a_bearer_token(client: httpx.AsyncClient) -> None:
    admin = await login(client)
    response = await client.get(f"{API}/jobs", headers=admin)
    assert response.status_code == 200
    assert response.json() == {"items": []}


async def test_bad_credentials_are_401(client: httpx.AsyncClient) -> None:
    wrong = await client.post(
        f"{API}/auth/login", json={"username": "admin", "password": "not-the-password"}
    )
    unknown = await client.post(
        f"{API}/auth/login", json={"username": "nobody", "password": "not-the-password"}
    )
    message = assert_error(wrong, 401, "unauthorized")
    assert assert_error(unknown, 401, "unauthorized") == message
    # A token that is no JWT, and the agent registration token, are no user tokens.
    for token in ("not.a.jwt", AGENT_TOKEN):
        response = await client.get(f"{API}/jobs", headers=bearer(token))
        assert_error(response, 401, "unauthorized")


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", lambda _: str(uuid.uuid4()), path)


async def test_every_endpoint_but_health_and_login_needs_a_token(
    client: httpx.AsyncClient,
) -> None:
    # The OpenAPI document is the list of endpoints, so a new one is covered without edits.
    document = (await client.get(f"{API}/openapi.json")).json()
    routes = [
        (method.upper(), path)
        for path, operations in document["paths"].items()
        if path not in UNAUTHENTICATED
        for method in operations
    ]
    assert len(routes) >= 15, routes
    for method, path in routes:
        response = await client.request(method, _concrete(path))
        assert_error(response, 401, "unauthorized")
        assert response.headers.get("www-authenticate") == "Bearer", (method, path)


async def test_tokens_of_the_wrong_kind_are_403(client: httpx.AsyncClient) -> None:
    admin = await admin_headers(client)
    worker = await register_worker(client)
    other = await register_worker(client)
    for method, path in [
        ("GET", f"{API}/jobs"),
        ("GET", f"{API}/builds"),
        ("GET", f"{API}/workers"),
        ("POST", f"{API}/jobs/{uuid.uuid4()}/trigger"),
        ("POST", f"{API}/builds/{uuid.uuid4()}/cancel"),
    ]:
        response = await client.request(method, path, headers=worker.headers)
        assert_error(response, 403, "forbidden")

    # A user token on a worker endpoint, and a worker acting as another worker.
    url = f"{API}/workers/{worker.id}/heartbeat"
    for headers in (admin, other.headers):
        response = await client.post(url, headers=headers, json={"current_builds": 0})
        assert_error(response, 403, "forbidden")


async def test_create_job(client: httpx.AsyncClient) -> None:
    admin = await admin_headers(client)
    name = unique("create")
    response = await client.post(
        f"{API}/jobs",
        headers=admin,
        json={
            "name": name,
            "pipeline": PIPELINE,
            "labels": ["linux"],
            "env": {"A": "1"},
            "max_retries": 2,
            "timeout_seconds": 600,
        },
    )
    assert response.status_code == 201, response.text
    job = response.json()
    assert uuid.UUID(job["id"]).version == 4
    assert job["name"] == name
    assert job["pipeline"] == PIPELINE
    assert job["labels"] == ["linux"]
    assert job["env"] == {"A": "1"}
    assert job["max_retries"] == 2
    assert job["timeout_seconds"] == 600

    fetched = await client.get(f"{API}/jobs/{job['id']}", headers=admin)
    assert fetched.status_code == 200
    assert fetched.json() == job


async def test_create_job_in_its_other_forms(client: httpx.AsyncClient) -> None:
    admin = await admin_headers(client)
    as_object = await create_job(
        client, admin, pipeline={"steps": [{"name": "build", "commands": ["make"]}]}
    )
    assert "make" in as_object["pipeline"]
    seed_form = await create_job(
        client, admin, pipeline=None, build_config={"image": "alpine", "commands": ["echo hi"]}
    )
    assert seed_form["build_config"] == {"image": "alpine", "commands": ["echo hi"]}
    assert seed_form["pipeline"] is None
    # A job whose pipeline lives in its repository.
    job = await create_job(client, admin, pipeline=None, scm_url="https://example.com/r.git")
    assert job["pipeline_path"] == ".solvyd.yml"


async def test_a_job_needs_something_to_run(client: httpx.AsyncClient) -> None:
    admin = await admin_headers(client)
    response = await client.post(f"{API}/jobs", headers=admin, json={"name": unique("empty")})
    assert_error(response, 422, "invalid")


async def test_duplicate_job_name_is_409(client: httpx.AsyncClient) -> None:
    admin = await admin_headers(client)
    job = await create_job(client, admin)
    again = await client.post(
        f"{API}/jobs", headers=admin, json={"name": job["name"], "pipeline": PIPELINE}
    )
    message = assert_error(again, 409, "conflict")
    assert job["name"] in message


async def test_list_jobs_and_filter_by_name(client: httpx.AsyncClient) -> None:
    admin = await admin_headers(client)
    first = await create_job(client, admin, unique("alpha"))
    second = await create_job(client, admin, unique("beta"))

    everything = (await client.get(f"{API}/jobs", headers=admin)).json()["items"]
    assert {j["id"] for j in everything} == {first["id"], second["id"]}

    response = await client.get(f"{API}/jobs", headers=admin, params={"name": second["name"]})
    assert response.status_code == 200
    assert [j["id"] for j in response.json()["items"]] == [second["id"]]

    none = await client.get(f"{API}/jobs", headers=admin, params={"name": "no-such-job"})
    assert none.json()["items"] == []


async def test_unknown_job_is_404(client: httpx.AsyncClient) -> None:
    admin = await admin_headers(client)
    url = f"{API}/jobs/{uuid.uuid4()}"
    assert_error(await client.get(url, headers=admin), 404, "not_found")
    assert_error(await client.patch(url, headers=admin, json={"description": "x"}), 404)
    assert_error(await client.delete(url, headers=admin), 404, "not_found")
    response = await client.get(f"{API}/jobs/not-a-uuid", headers=admin)
    message = assert_error(response, 422, "invalid")
    assert "job_id" in message


async def test_patch_job(client: httpx.AsyncClient) -> None:
    admin = await admin_headers(client)
    job = await create_job(client, admin, description="old", labels=["a"])
    new_pipeline = "steps:\n  - name: only\n    commands: [echo new]\n"
    response = await client.patch(
        f"{API}/jobs/{job['id']}",
        headers=admin,
        json={"description": "new", "labels": ["b", "c"], "pipeline": new_pipeline},
    )
    assert response.status_code == 200, response.text

    fetched = (await client.get(f"{API}/jobs/{job['id']}", headers=admin)).json()
    assert fetched["description"] == "new"
    assert fetched["labels"] == ["b", "c"]
    assert fetched["pipeline"] == new_pipeline
    assert fetched["name"] == job["name"]
    assert fetched["created_at"] == job["created_at"]


async def test_patch_with_an_invalid_pipeline_changes_nothing(client: httpx.AsyncClient) -> None:
    admin = await admin_headers(client)
    job = await create_job(client, admin)
    response = await client.patch(
        f"{API}/jobs/{job['id']}", headers=admin, json={"pipeline": "steps: 3\n"}
    )
    assert_error(response, 422, "invalid")
    fetched = (await client.get(f"{API}/jobs/{job['id']}", headers=admin)).json()
    assert fetched["pipeline"] == PIPELINE


async def test_delete_job(client: httpx.AsyncClient) -> None:
    admin = await admin_headers(client)
    job = await create_job(client, admin)
    build = await trigger(client, admin, job["id"])
    response = await client.delete(f"{API}/jobs/{job['id']}", headers=admin)
    assert response.status_code == 204
    assert response.content == b""
    assert_error(await client.get(f"{API}/jobs/{job['id']}", headers=admin), 404)
    # Its builds go with it.
    assert_error(await client.get(f"{API}/builds/{build['id']}", headers=admin), 404)
    assert_error(await client.delete(f"{API}/jobs/{job['id']}", headers=admin), 404)
    # The name is free again.
    await create_job(client, admin, job["name"])


async def test_invalid_pipeline_names_the_line_and_field(client: httpx.AsyncClient) -> None:
    admin = await admin_headers(client)
    bad = "steps:\n  - name: build\n    command: [echo hi]\n"
    response = await client.post(
        f"{API}/jobs", headers=admin, json={"name": unique("bad"), "pipeline": bad}
    )
    message = assert_error(response, 422, "invalid")
    # The misspelt key sits on line 3; the step missing `commands` starts on line 2.
    assert ":3:5: steps[0].command" in message, message
    assert "steps[0].commands" in message, message
    details = response.json()["error"]["details"]
    assert {"line": 3, "column": 5, "field": "steps[0].command"}.items() <= next(
        d for d in details if d["field"] == "steps[0].command"
    ).items()

    response = await client.post(
        f"{API}/jobs",
        headers=admin,
        json={"name": unique("notyaml"), "pipeline": "steps: [unclosed\n"},
    )
    assert_error(response, 422, "invalid")


async def test_missing_name_is_422_naming_the_field(client: httpx.AsyncClient) -> None:
    admin = await admin_headers(client)
    response = await client.post(f"{API}/jobs", headers=admin, json={"pipeline": PIPELINE})
    message = assert_error(response, 422, "invalid")
    assert message.startswith("name:"), message
    assert response.json()["error"]["details"][0]["field"] == "name"


async def test_malformed_bodies_are_422(client: httpx.AsyncClient) -> None:
    admin = await admin_headers(client)
    response = await client.post(
        f"{API}/jobs",
        headers={**admin, "Content-Type": "application/json"},
        content=b"{not json",
    )
    assert_error(response, 422, "invalid")
    # Unknown fields are refused, so a typo never passes silently.
    response = await client.post(
        f"{API}/jobs",
        headers=admin,
        json={"name": unique("extra"), "pipeline": PIPELINE, "pipline": "typo"},
    )
    message = assert_error(response, 422, "invalid")
    assert "pipline" in message


async def test_health_probes_and_unknown_paths(client: httpx.AsyncClient) -> None:
    healthz = await client.get("/healthz")
    assert healthz.status_code == 200
    assert healthz.json()["status"] == "ok"
    readyz = await client.get("/readyz")
    assert readyz.status_code == 200
    assert readyz.json() == {"status": "ready"}
    assert_error(await client.get(f"{API}/no-such-thing"), 404, "not_found")
