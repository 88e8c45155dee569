"""GET /plugins and the plugins an agent reports at registration, through the real app on
both databases. A registration is hostile input: what it may say of plugins is bounded."""

from typing import Any

import httpx

from tests.integration.api_helpers import (
    AGENT_TOKEN,
    API,
    admin_headers,
    assert_error,
    bearer,
    register_worker,
    unique,
    user_headers,
)

SHOUT = {
    "name": "shout",
    "version": "0.9.0",
    "provides": {"executors": ["shout"]},
    "status": "loaded",
}
BROKEN = {"name": "broken", "status": "failed", "error": "RuntimeError: boom at import"}


async def _plugins(client: httpx.AsyncClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    response = await client.get(f"{API}/plugins", headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["api_version"] == "1.1"
    return list(response.json()["plugins"])


async def test_a_viewer_sees_the_servers_plugins_and_what_each_agent_reported(
    client: httpx.AsyncClient,
) -> None:
    admin = await admin_headers(client)
    viewer = await user_headers(client, admin, "viewer")
    worker = await register_worker(client, plugins=[SHOUT, BROKEN])

    listed = await _plugins(client, viewer)
    forges = next(p for p in listed if p["name"] == "solvyd.forges")
    assert forges == {
        "name": "solvyd.forges",
        "version": forges["version"],
        "provides": {
            "executors": [],
            "notifiers": [],
            "forges": ["github", "gitlab", "gitea", "bitbucket"],
            "artifact_stores": [],
        },
        "builtin": True,
        "loaded_in": "server",
        "worker": None,
        "status": "loaded",
        "error": None,
    }
    on_agent = [p for p in listed if p["worker"] == worker.name]
    assert on_agent == [
        {
            "name": "shout",
            "version": "0.9.0",
            "provides": {
                "executors": ["shout"],
                "notifiers": [],
                "forges": [],
                "artifact_stores": [],
            },
            "builtin": False,
            "loaded_in": "agent",
            "worker": worker.name,
            "status": "loaded",
            "error": None,
        },
        {
            "name": "broken",
            "version": None,
            "provides": {"executors": [], "notifiers": [], "forges": [], "artifact_stores": []},
            "builtin": False,
            "loaded_in": "agent",
            "worker": worker.name,
            "status": "failed",
            "error": "RuntimeError: boom at import",
        },
    ]
    workers = (await client.get(f"{API}/workers", headers=viewer)).json()["items"]
    [read] = [w for w in workers if w["name"] == worker.name]
    assert [p["name"] for p in read["plugins"]] == ["shout", "broken"]
    assert read["plugins"][1]["error"] == "RuntimeError: boom at import"


async def test_an_older_agent_that_reports_no_plugins_clears_them(
    client: httpx.AsyncClient,
) -> None:
    admin = await admin_headers(client)
    first = await register_worker(client, plugins=[SHOUT])
    await register_worker(client, first.name, worker_token=first.token)
    listed = await _plugins(client, admin)
    assert [p for p in listed if p["worker"] == first.name] == []


async def _register(client: httpx.AsyncClient, plugins: Any) -> httpx.Response:
    return await client.post(
        f"{API}/workers/register",
        headers=bearer(AGENT_TOKEN),
        json={"name": unique("w"), "capabilities": {"executors": ["local"], "plugins": plugins}},
    )


async def test_plugin_reports_past_their_bounds_are_422_and_nothing_is_saved(
    client: httpx.AsyncClient,
) -> None:
    admin = await admin_headers(client)
    hostile = [
        [SHOUT] * 101,
        [{**BROKEN, "error": "x" * 1001}],
        [{**SHOUT, "name": "n" * 201}],
        [{**SHOUT, "status": "sleeping"}],
        [{**SHOUT, "provides": {"executors": ["e"] * 51}}],
        [{**SHOUT, "provides": {"executors": ["e" * 101]}}],
        "shout",
    ]
    for plugins in hostile:
        assert_error(await _register(client, plugins), 422)
    assert (await client.get(f"{API}/workers", headers=admin)).json()["items"] == []


async def test_listing_plugins_needs_a_login(client: httpx.AsyncClient) -> None:
    assert_error(await client.get(f"{API}/plugins"), 401)
