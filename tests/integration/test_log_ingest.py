"""Log ingest on the server: masking as a safety net behind the agent's, long lines, the log
cap (and its reset when a retry starts the log again), ANSI stripping and gzip downloads."""

import base64
import gzip
import json
from typing import Any

import httpx
import pytest

from solvyd.server.settings import ServerSettings
from tests.integration.api_helpers import (
    API,
    Headers,
    admin_headers,
    create_job,
    post_logs,
    running_build,
)

SECRET = "hunter2-but-longer"
PIPELINE = json.dumps(
    {"mask": ["API_KEY"], "steps": [{"name": "build", "commands": ["echo $API_KEY"]}]}
)


@pytest.fixture
def settings(settings: ServerSettings) -> ServerSettings:
    return settings.model_copy(update={"max_log_bytes": 4096})


@pytest.fixture
async def admin(client: httpx.AsyncClient) -> Headers:
    return await admin_headers(client)


@pytest.fixture
async def job(client: httpx.AsyncClient, admin: Headers) -> dict[str, Any]:
    return await create_job(client, admin, pipeline=PIPELINE, env={"API_KEY": SECRET})


async def _text(client: httpx.AsyncClient, admin: Headers, build_id: str, **params: Any) -> str:
    response = await client.get(
        f"{API}/builds/{build_id}/logs", headers=admin, params={"format": "text", **params}
    )
    assert response.status_code == 200, response.text
    return response.text


async def test_server_masks_what_an_agent_sent_unmasked(
    client: httpx.AsyncClient, admin: Headers, job: dict[str, Any]
) -> None:
    worker, build = await running_build(client, admin, job)
    encoded = base64.b64encode(SECRET.encode()).decode()
    await post_logs(client, worker, build["id"], 0, [f"key={SECRET}", encoded, "clean"])
    text = await _text(client, admin, build["id"])
    assert text == "key=***\n***\nclean\n"


async def test_long_lines_are_cut_and_the_cap_stores_a_marker_then_nothing(
    client: httpx.AsyncClient, admin: Headers, job: dict[str, Any]
) -> None:
    worker, build = await running_build(client, admin, job)
    await post_logs(client, worker, build["id"], 0, ["x" * 70_000])
    lines = (await _text(client, admin, build["id"])).splitlines()
    # The first batch alone exceeds the 4 KiB cap: its start is kept, then the marker.
    assert lines[-1].startswith("[solvyd: log truncated")
    assert sum(len(line) + 1 for line in lines[:-1]) <= 4096

    answer = await post_logs(client, worker, build["id"], 1, ["after the cap"])
    assert answer.status_code == 200 and answer.json()["stored"] is False
    assert "after the cap" not in await _text(client, admin, build["id"])


async def test_the_cap_counts_bytes_across_batches(
    client: httpx.AsyncClient, admin: Headers, job: dict[str, Any]
) -> None:
    worker, build = await running_build(client, admin, job)
    for seq in range(10):
        await post_logs(client, worker, build["id"], seq, [f"{seq}" * 999])
    lines = (await _text(client, admin, build["id"])).splitlines()
    assert lines[:4] == [f"{seq}" * 999 for seq in range(4)]
    assert lines[4].startswith("[solvyd: log truncated")
    assert len(lines) == 5


async def test_ansi_codes_are_kept_and_stripped_on_request(
    client: httpx.AsyncClient, admin: Headers, job: dict[str, Any]
) -> None:
    worker, build = await running_build(client, admin, job)
    await post_logs(client, worker, build["id"], 0, ["\x1b[1;32mok\x1b[0m done"])
    assert await _text(client, admin, build["id"]) == "\x1b[1;32mok\x1b[0m done\n"
    assert await _text(client, admin, build["id"], strip_ansi=True) == "ok done\n"
    page = await client.get(
        f"{API}/builds/{build['id']}/logs", headers=admin, params={"strip_ansi": True}
    )
    assert page.json()["lines"][0]["text"] == "ok done"


async def test_text_download_is_gzip_compressed_when_accepted(
    client: httpx.AsyncClient, admin: Headers, job: dict[str, Any]
) -> None:
    worker, build = await running_build(client, admin, job)
    await post_logs(client, worker, build["id"], 0, ["same line"] * 300)
    url = f"{API}/builds/{build['id']}/logs"
    params = {"format": "text"}
    async with client.stream(
        "GET", url, params=params, headers={**admin, "Accept-Encoding": "gzip"}
    ) as response:
        assert response.headers["content-encoding"] == "gzip"
        wire = b"".join([chunk async for chunk in response.aiter_raw()])
    assert gzip.decompress(wire) == b"same line\n" * 300
    assert len(wire) < 300

    plain = await client.get(url, params=params, headers={**admin, "Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert plain.text == "same line\n" * 300
