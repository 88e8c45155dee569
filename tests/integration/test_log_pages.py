"""JSON log pages are bounded by lines and bytes, not only by batches: a page never holds more
than MAX_LINES_PER_PAGE lines or MAX_PAGE_BYTES of text, and following `next_after` and
`next_line` returns every line exactly once, also when a page ends inside a batch, for one
step, without ANSI codes, and once the log is archived."""

import uuid
from typing import Any

import httpx
import pytest

from solvyd.server.services.builds.log_archive import archive_build_log
from solvyd.server.services.builds.logs import MAX_LINES_PER_PAGE, MAX_PAGE_BYTES
from solvyd.server.services.context import ServerContext
from tests.integration.api_helpers import (
    API,
    Headers,
    admin_headers,
    create_job,
    post_logs,
    running_build,
    set_status,
)

WIDE = 60_000  # characters: about 17 such lines fill a page's bytes


def batches() -> list[tuple[int, str, list[str]]]:
    """seq, step, lines: a batch of 2.5 pages of short lines, a small one, a batch of wide
    lines (several pages by bytes), and another step's batch in between."""
    return [
        (0, "build", [f"short {i}" for i in range(25_000)]),
        (1, "other", ["o1", "o2"]),
        (2, "build", ["\x1b[31mred\x1b[0m", "plain"]),
        (3, "build", [f"{i:03d}" + "w" * WIDE for i in range(40)]),
        (4, "other", ["o3"]),
    ]


@pytest.fixture
async def admin(client: httpx.AsyncClient) -> Headers:
    return await admin_headers(client)


@pytest.fixture
async def finished_build(client: httpx.AsyncClient, admin: Headers) -> str:
    job = await create_job(client, admin)
    worker, build = await running_build(client, admin, job)
    for seq, step, lines in batches():
        response = await post_logs(client, worker, build["id"], seq, lines, step=step)
        assert response.status_code == 200, response.text
    assert (await set_status(client, worker, build["id"], "success")).status_code == 200
    return str(build["id"])


def expected(step: str | None = None, strip: bool = False) -> list[tuple[int, str]]:
    lines = [
        (seq, text)
        for seq, batch_step, texts in batches()
        if step in (None, batch_step)
        for text in texts
    ]
    if strip:
        lines = [(seq, text.replace("\x1b[31m", "").replace("\x1b[0m", "")) for seq, text in lines]
    return lines


async def follow(
    client: httpx.AsyncClient, admin: Headers, build_id: str, **params: Any
) -> tuple[list[tuple[int, str]], int]:
    """Every line by following the cursor, checking each page's bounds; and the page count."""
    seen: list[tuple[int, str]] = []
    after, line = -1, 0
    for pages in range(1, 100):
        response = await client.get(
            f"{API}/builds/{build_id}/logs",
            headers=admin,
            params={"after": after, "line": line, **params},
        )
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["lines"]) <= MAX_LINES_PER_PAGE
        assert sum(len(item["text"].encode()) + 1 for item in page["lines"]) <= MAX_PAGE_BYTES
        seen.extend((item["seq"], item["text"]) for item in page["lines"])
        if page["finished"]:
            return seen, pages
        assert page["lines"] or (page["next_after"], page["next_line"]) != (after, line)
        after, line = page["next_after"], page["next_line"]
    raise AssertionError("the log never finished")


async def test_pages_are_bounded_and_cursors_return_every_line_once(
    client: httpx.AsyncClient, admin: Headers, finished_build: str
) -> None:
    seen, pages = await follow(client, admin, finished_build)
    assert seen == expected()
    # 10,000 lines, 10,000, then 5,000 and wide lines up to 1 MiB, and 2.4 MB of wide lines
    # in all: 5 pages.
    assert pages == 5
    only_build, _ = await follow(client, admin, finished_build, step="build")
    assert only_build == expected("build")
    stripped, _ = await follow(client, admin, finished_build, strip_ansi=True, limit=1)
    assert stripped == expected(strip=True)


async def test_a_page_cut_inside_a_batch_says_where_to_resume(
    client: httpx.AsyncClient, admin: Headers, finished_build: str
) -> None:
    url = f"{API}/builds/{finished_build}/logs"
    first = (await client.get(url, headers=admin)).json()
    assert len(first["lines"]) == MAX_LINES_PER_PAGE
    assert (first["next_after"], first["next_line"], first["finished"]) == (0, 10_000, False)
    resumed = (await client.get(url, headers=admin, params={"after": 0, "line": 10_000})).json()
    assert resumed["lines"][0]["text"] == "short 10000"
    # Past the end of the batch: the batches after it, no error.
    beyond = await client.get(url, headers=admin, params={"after": 1, "line": 99})
    assert beyond.status_code == 200, beyond.text
    assert beyond.json()["lines"][0]["text"] == "\x1b[31mred\x1b[0m"
    assert (await client.get(url, headers=admin, params={"line": -1})).status_code == 422


async def test_an_archived_log_pages_the_same_and_downloads_whole(
    client: httpx.AsyncClient, admin: Headers, finished_build: str, ctx: ServerContext
) -> None:
    before, _ = await follow(client, admin, finished_build)
    assert await archive_build_log(ctx, uuid.UUID(finished_build))
    after, _ = await follow(client, admin, finished_build)
    assert after == before == expected()
    only_other, _ = await follow(client, admin, finished_build, step="other", limit=1)
    assert only_other == expected("other")
    text = await client.get(
        f"{API}/builds/{finished_build}/logs", headers=admin, params={"format": "text"}
    )
    assert text.text == "".join(line + "\n" for _, line in expected())


@pytest.fixture
def ctx(client: httpx.AsyncClient) -> ServerContext:
    context: ServerContext = client.app.state.ctx  # type: ignore[attr-defined]
    return context
