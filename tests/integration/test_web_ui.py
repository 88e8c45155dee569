"""The server serves the built web UI at `/`, and says how to build it when it is missing."""

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from solvyd.server.app import create_app
from solvyd.server.settings import ServerSettings

REPO = Path(__file__).resolve().parents[2]
INDEX = '<!doctype html><div id="root"></div><script src="/assets/index-abc123.js"></script>'


def _settings(tmp_path: Path, web_dir: Path) -> ServerSettings:
    return ServerSettings(data_dir=tmp_path / "data", web_dir=web_dir)


async def _client(settings: ServerSettings) -> AsyncIterator[httpx.AsyncClient]:
    # Static answers need no database, so the app runs without its lifespan.
    transport = httpx.ASGITransport(app=create_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


@pytest.fixture
async def built_ui(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text(INDEX)
    (dist / "assets" / "index-abc123.js").write_text("console.log('ui')")
    (dist / "favicon.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    async for http in _client(_settings(tmp_path, dist)):
        yield http


@pytest.fixture
async def unbuilt_ui(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async for http in _client(_settings(tmp_path, tmp_path / "no-such-dist")):
        yield http


@pytest.mark.parametrize("path", ["/", "/builds/0b7c", "/jobs/new", "/users"])
async def test_client_side_routes_answer_the_index_page(
    built_ui: httpx.AsyncClient, path: str
) -> None:
    response = await built_ui.get(path)
    assert response.status_code == 200
    assert response.text == INDEX
    assert response.headers["content-type"].startswith("text/html")
    # The page names the current build's assets, so a browser must ask again every time.
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-frame-options"] == "DENY"
    assert "default-src 'self'" in response.headers["content-security-policy"]


async def test_assets_are_served_with_a_long_cache(built_ui: httpx.AsyncClient) -> None:
    response = await built_ui.get("/assets/index-abc123.js")
    assert response.status_code == 200
    assert response.text == "console.log('ui')"
    assert "immutable" in response.headers["cache-control"]
    assert (await built_ui.get("/favicon.svg")).headers["content-type"] == "image/svg+xml"


async def test_a_missing_asset_is_a_404_not_the_index_page(built_ui: httpx.AsyncClient) -> None:
    response = await built_ui.get("/assets/index-old999.js")
    assert response.status_code == 404


async def test_unknown_api_paths_keep_the_json_404(built_ui: httpx.AsyncClient) -> None:
    response = await built_ui.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


async def test_a_path_outside_the_build_is_not_served(built_ui: httpx.AsyncClient) -> None:
    response = await built_ui.get("/..%2f..%2fetc/passwd")
    assert "root:" not in response.text


async def test_without_a_built_ui_the_page_says_how_to_build_it(
    unbuilt_ui: httpx.AsyncClient,
) -> None:
    response = await unbuilt_ui.get("/builds/123")
    assert response.status_code == 503
    assert "make web" in response.text
    assert "make run" in response.text
    assert (await unbuilt_ui.get("/api/v1/nothing")).status_code == 404
    assert (await unbuilt_ui.get("/healthz")).status_code == 200


def test_the_ui_types_were_generated_from_the_current_api(tmp_path: Path) -> None:
    """web/openapi.json is what the UI's TypeScript types come from: an API change without
    `make web-api` fails here, and the UI's `tsc` then shows every place it breaks."""
    document = create_app(_settings(tmp_path, tmp_path)).openapi()
    committed = json.loads((REPO / "web" / "openapi.json").read_text())
    assert committed == json.loads(json.dumps(document)), "run `make web-api`"
