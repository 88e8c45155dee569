"""Log retention: old builds' logs move to the artifact store and read through the API exactly
as they did from the database."""

import asyncio
import dataclasses
import gzip
import json
import time
import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from solvyd.server.background import run_log_archiver
from solvyd.server.db.models import Build, BuildLog
from solvyd.server.services.builds.log_archive import archive_build_log, archive_old_logs
from solvyd.server.services.context import ServerContext
from solvyd.shared.clock import utcnow
from tests.integration.api_helpers import (
    API,
    Headers,
    Worker,
    admin_headers,
    claim_build,
    create_job,
    register_worker,
    set_status,
    trigger,
)

STAMP = "2026-01-02T03:04:05.678000+00:00"
# seq, step, lines (text, ts); sent out of order, with a line JSON and splitlines() disagree on.
BATCHES: list[tuple[int, str | None, list[tuple[str, str | None]]]] = [
    (2, "test", [("c1", STAMP), ("c2 \u2028 still c2", None)]),
    (0, "build", [("a1", STAMP), ("a2", None)]),
    (1, "build", [("b1 ünïcödé", None)]),
    (3, None, [("d1", None)]),
    (4, "test", [("e1", None), ("", None), ("e3", None)]),
]


@pytest.fixture
async def admin(client: httpx.AsyncClient) -> Headers:
    return await admin_headers(client)


@pytest.fixture
def ctx(client: httpx.AsyncClient) -> ServerContext:
    context: ServerContext = client.app.state.ctx  # type: ignore[attr-defined]
    return context


async def _running_build_with_log(client: httpx.AsyncClient, admin: Headers) -> tuple[Worker, str]:
    job = await create_job(client, admin)
    worker = await register_worker(client)
    build = await trigger(client, admin, job["id"])
    assert (await claim_build(client, worker))["build_id"] == build["id"]
    assert (await set_status(client, worker, build["id"], "running")).status_code == 200
    for seq, step, lines in BATCHES:
        response = await client.post(
            f"{API}/builds/{build['id']}/logs",
            headers=worker.headers,
            json={"seq": seq, "step": step, "lines": [{"text": t, "ts": ts} for t, ts in lines]},
        )
        assert response.status_code == 200, response.text
    return worker, str(build["id"])


async def _finished_build_with_log(
    client: httpx.AsyncClient, admin: Headers, completed_at: datetime | None = None
) -> str:
    worker, build_id = await _running_build_with_log(client, admin)
    fields = {"completed_at": completed_at.isoformat()} if completed_at else {}
    response = await set_status(client, worker, build_id, "success", **fields)
    assert response.status_code == 200, response.text
    return build_id


async def _everything_read(client: httpx.AsyncClient, admin: Headers, build_id: str) -> Any:
    """What the API answers for a range of reads of the log."""
    url = f"{API}/builds/{build_id}/logs"

    async def get(**params: Any) -> Any:
        response = await client.get(url, headers=admin, params=params)
        assert response.status_code == 200, response.text
        return response.text if params.get("format") == "text" else response.json()

    async def paged(**params: Any) -> list[Any]:
        pages, after = [], -1
        for _ in range(20):
            page = await get(after=after, **params)
            pages.append(page)
            if page["finished"]:
                return pages
            after = page["next_after"]
        raise AssertionError("the log never finished")

    reads: dict[str, Any] = {
        "whole": await get(),
        "text": await get(format="text"),
        "text of a step": await get(format="text", step="test"),
        "text of no such step": await get(format="text", step="nope"),
        "after": await get(after=1),
        "after the end": await get(after=4),
        "far after the end": await get(after=99),
        "step": await get(step="build"),
    }
    for limit in (1, 2, 3):
        reads[f"pages of {limit}"] = await paged(limit=limit)
        reads[f"pages of {limit} of a step"] = await paged(limit=limit, step="test")
    return reads


async def _rows(ctx: ServerContext, build_id: str) -> int:
    async with ctx.db.transaction() as session:
        count = await session.scalar(
            sa.select(sa.func.count())
            .select_from(BuildLog)
            .where(BuildLog.build_id == uuid.UUID(build_id))
        )
    return int(count or 0)


async def _archive_key(ctx: ServerContext, build_id: str) -> str | None:
    async with ctx.db.transaction() as session:
        build = await session.get(Build, uuid.UUID(build_id))
    assert build is not None
    return build.log_archive_key


async def test_an_archived_log_reads_exactly_as_before(
    client: httpx.AsyncClient, admin: Headers, ctx: ServerContext
) -> None:
    build_id = await _finished_build_with_log(client, admin)
    before = await _everything_read(client, admin, build_id)
    assert before["text"] == "a1\na2\nb1 ünïcödé\nc1\nc2 \u2028 still c2\nd1\ne1\n\ne3\n"
    assert before["whole"]["lines"][0]["ts"] is not None

    assert await archive_build_log(ctx, uuid.UUID(build_id)) is True

    key = f"logs/{build_id}.jsonl.gz"
    assert await _archive_key(ctx, build_id) == key
    assert await _rows(ctx, build_id) == 0
    stored = b"".join([chunk async for chunk in ctx.artifacts.open(key)])
    archived = [json.loads(line) for line in gzip.decompress(stored).decode().split("\n") if line]
    assert [(batch["seq"], batch["step"]) for batch in archived] == [
        (0, "build"),
        (1, "build"),
        (2, "test"),
        (3, None),
        (4, "test"),
    ]
    assert await _everything_read(client, admin, build_id) == before


async def test_a_build_that_has_not_finished_is_never_archived(
    client: httpx.AsyncClient, admin: Headers, ctx: ServerContext
) -> None:
    _, build_id = await _running_build_with_log(client, admin)

    assert await archive_build_log(ctx, uuid.UUID(build_id)) is False
    assert await archive_old_logs(ctx, utcnow() + timedelta(days=365)) == 0
    assert await archive_build_log(ctx, uuid.uuid4()) is False

    assert await _archive_key(ctx, build_id) is None
    assert await _rows(ctx, build_id) == len(BATCHES)


async def test_only_logs_older_than_the_retention_are_archived(
    client: httpx.AsyncClient, admin: Headers, ctx: ServerContext
) -> None:
    assert ctx.settings.log_retention_days == 30
    now = utcnow()
    old = await _finished_build_with_log(client, admin, now - timedelta(days=31))
    recent = await _finished_build_with_log(client, admin, now - timedelta(days=29))
    recent_text = await client.get(
        f"{API}/builds/{recent}/logs", headers=admin, params={"format": "text"}
    )

    assert await archive_old_logs(ctx, now) == 1
    assert await _archive_key(ctx, old) is not None
    assert await _archive_key(ctx, recent) is None
    assert await _rows(ctx, recent) == len(BATCHES)
    again = await client.get(
        f"{API}/builds/{recent}/logs", headers=admin, params={"format": "text"}
    )
    assert again.text == recent_text.text

    # Two days on, the recent one is old enough too.
    assert await archive_old_logs(ctx, now + timedelta(days=2)) == 1
    assert await _archive_key(ctx, recent) is not None

    forever = dataclasses.replace(
        ctx, settings=ctx.settings.model_copy(update={"log_retention_days": 0})
    )
    third = await _finished_build_with_log(client, admin, now - timedelta(days=1000))
    assert await archive_old_logs(forever, now) == 0
    assert await _archive_key(ctx, third) is None


async def test_archiving_again_or_at_once_is_harmless(
    client: httpx.AsyncClient, admin: Headers, ctx: ServerContext
) -> None:
    build_id = await _finished_build_with_log(client, admin)
    before = await _everything_read(client, admin, build_id)

    # Two archivers at once (two servers' rounds): exactly one moves the log.
    results = await asyncio.gather(*(archive_build_log(ctx, uuid.UUID(build_id)) for _ in range(2)))
    assert sorted(results) == [False, True]
    assert await archive_build_log(ctx, uuid.UUID(build_id)) is False
    assert await archive_old_logs(ctx, utcnow() + timedelta(days=365)) == 0

    assert await _rows(ctx, build_id) == 0
    assert await _everything_read(client, admin, build_id) == before


async def test_the_background_archiver_moves_old_logs(
    client: httpx.AsyncClient, admin: Headers, ctx: ServerContext
) -> None:
    build_id = await _finished_build_with_log(client, admin, utcnow() - timedelta(days=40))
    frequent = dataclasses.replace(
        ctx, settings=ctx.settings.model_copy(update={"log_archive_interval_seconds": 0.05})
    )
    archiver = asyncio.create_task(run_log_archiver(frequent))
    try:
        deadline = time.monotonic() + 10
        while await _archive_key(ctx, build_id) is None:
            assert time.monotonic() < deadline, "the archiver never archived the old log"
            await asyncio.sleep(0.05)
    finally:
        archiver.cancel()
        with pytest.raises(asyncio.CancelledError):
            await archiver

    forever = dataclasses.replace(
        ctx, settings=ctx.settings.model_copy(update={"log_retention_days": 0})
    )
    await asyncio.wait_for(run_log_archiver(forever), 1)
