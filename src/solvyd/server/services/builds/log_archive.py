"""Log retention: the log of a build finished long ago moves from `build_logs` to the artifact
store, one gzip-compressed JSON-lines object per build (`logs/<build id>.jsonl.gz`, a line per
batch: seq, step, lines), and `builds.log_archive_key` points at it. Readers page over the
archived batches exactly as over the rows (logs.py).

The object is written before the database changes, so a crash in between leaves an unused
object (overwritten by the next pass), never a build whose log is gone from both places.
"""

import asyncio
import bisect
import gzip
import json
import uuid
import zlib
from collections import OrderedDict
from collections.abc import AsyncIterator, Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple

import sqlalchemy as sa

from solvyd.protocol import BuildStatus
from solvyd.server.artifacts import ArtifactNotFound
from solvyd.server.db import queries
from solvyd.server.db.models import Build, BuildLog
from solvyd.server.services.context import ServerContext
from solvyd.server.services.errors import NotFound

BUILDS_PER_QUERY = 100
# Enough for a few readers paging through different archived logs at once; the byte budget
# (of log JSON) keeps a few maximal logs from holding gigabytes. The latest log read is kept
# even if larger, or paging through it would download it again for every page.
CACHED_ARCHIVES = 4
CACHE_BUDGET_BYTES = 256 * 1024**2
FINISHED_STATUSES = [status.value for status in BuildStatus if status.finished]


class StoredBatch(NamedTuple):
    seq: int
    step: str | None
    # [{"text": ..., "ts": iso8601 | null}, ...]
    lines: list[dict[str, Any]]


def archive_key(build_id: uuid.UUID) -> str:
    return f"logs/{build_id}.jsonl.gz"


async def archive_build_log(ctx: ServerContext, build_id: uuid.UUID) -> bool:
    """Move a finished build's log to the artifact store. True if this call moved it; False if
    there was nothing to move, the build is not finished, or another server got there first."""
    async with ctx.db.transaction() as session:
        build = await queries.get_build(session, build_id)
        if (
            build is None
            or build.log_archive_key is not None
            or not BuildStatus(build.status).finished
        ):
            return False
        rows = (
            await session.execute(
                sa.select(BuildLog.id, BuildLog.seq, BuildLog.step, BuildLog.lines)
                .where(BuildLog.build_id == build_id)
                .order_by(BuildLog.seq)
            )
        ).all()
    if not rows:
        return False
    batches = [StoredBatch(row.seq, row.step, row.lines) for row in rows]
    data = await asyncio.to_thread(_compress, batches)
    key = archive_key(build_id)
    await ctx.artifacts.put(key, _one_chunk(data), len(data))

    return await _point_at_archive(ctx, build_id, key, rows)


async def _point_at_archive(
    ctx: ServerContext, build_id: uuid.UUID, key: str, rows: Sequence[Any]
) -> bool:
    """Point the build at its written archive and drop its rows, if they are still the whole
    log; False if not (or another server got there first)."""
    gone = False
    async with ctx.db.transaction() as session:
        # SKIP LOCKED: a build another server is archiving right now is left to it. (SQLite
        # drops the clause; its transactions are serialised anyway.)
        build = await session.scalar(
            sa.select(Build).where(Build.id == build_id).with_for_update(skip_locked=True)
        )
        if build is None:
            gone = await session.scalar(sa.select(Build.id).where(Build.id == build_id)) is None
        elif build.log_archive_key is None:
            # Rows are only ever added to a finished build's log (a batch arriving late), so
            # the count and the highest id tell whether what was written is still the whole log.
            count, last_id = (
                await session.execute(
                    sa.select(sa.func.count(), sa.func.max(BuildLog.id)).where(
                        BuildLog.build_id == build_id
                    )
                )
            ).one()
            if (count, last_id) == (len(rows), max(row.id for row in rows)):
                build.log_archive_key = key
                await session.execute(sa.delete(BuildLog).where(BuildLog.build_id == build_id))
                return True
    if gone:
        # Retention removed the build meanwhile: nothing will ever point at the object.
        await ctx.artifacts.delete(key)
    return False


async def archive_old_logs(ctx: ServerContext, now: datetime) -> int:
    """Archive the logs of builds that finished before `now` minus the retention; answers how
    many were archived. Retention 0 archives nothing."""
    days = ctx.settings.log_retention_days
    if days <= 0:
        return 0
    cutoff = now - timedelta(days=days)
    archived = 0
    # Paged by (completed_at, id), not by "still unarchived": a build that stays unarchived
    # (another server holds it) must not be picked up again and again in one pass.
    position: tuple[datetime, uuid.UUID] | None = None
    while True:
        candidates = await _builds_to_archive(ctx, cutoff, position)
        for build_id, _ in candidates:
            # A failure here is the store's or the database's, not the build's: it ends the
            # pass rather than repeat itself for every build.
            if await archive_build_log(ctx, build_id):
                archived += 1
        if len(candidates) < BUILDS_PER_QUERY:
            return archived
        last_id, last_completed_at = candidates[-1]
        position = (last_completed_at, last_id)


async def _builds_to_archive(
    ctx: ServerContext, cutoff: datetime, after: tuple[datetime, uuid.UUID] | None
) -> Sequence[tuple[uuid.UUID, datetime]]:
    has_rows = sa.exists().where(BuildLog.build_id == Build.id)
    query = (
        sa.select(Build.id, Build.completed_at)
        .where(
            Build.status.in_(FINISHED_STATUSES),
            Build.completed_at < cutoff,
            Build.log_archive_key.is_(None),
            # Without it, builds with an empty log would fill every page forever.
            has_rows,
        )
        .order_by(Build.completed_at, Build.id)
        .limit(BUILDS_PER_QUERY)
    )
    if after is not None:
        completed_at, build_id = after
        query = query.where(
            sa.or_(
                Build.completed_at > completed_at,
                sa.and_(Build.completed_at == completed_at, Build.id > build_id),
            )
        )
    async with ctx.db.transaction() as session:
        rows = (await session.execute(query)).all()
    return [(row.id, row.completed_at) for row in rows]


# key -> (batches, their size), least recently read first. An archive never changes once its
# key is set, so entries need no invalidation.
_cache: OrderedDict[str, tuple[list[StoredBatch], int]] = OrderedDict()


async def read_archived_batches(ctx: ServerContext, key: str) -> list[StoredBatch]:
    """The batches of an archived log in seq order. Cached: a reader pages through a log one
    request at a time, and each page would otherwise download and decompress all of it."""
    cached = _cache.get(key)
    if cached is not None:
        _cache.move_to_end(key)
        return cached[0]
    try:
        data = b"".join([chunk async for chunk in ctx.artifacts.open(key)])
    except ArtifactNotFound:
        raise NotFound(f"the archived log {key!r} is missing from the artifact store") from None
    batches, size = await asyncio.to_thread(_decompress, data)
    _cache[key] = (batches, size)
    while len(_cache) > 1 and (
        len(_cache) > CACHED_ARCHIVES
        or sum(size for _, size in _cache.values()) > CACHE_BUDGET_BYTES
    ):
        _cache.popitem(last=False)
    return batches


def batches_after(
    batches: list[StoredBatch],
    after: int,
    limit: int,
    *,
    include_after: bool = False,
    step: str | None = None,
) -> list[StoredBatch]:
    """The first `limit` batches with seq > `after` (>= with `include_after`), of `step`
    only if given, as the query on `build_logs` pages."""
    bisect_at = bisect.bisect_left if include_after else bisect.bisect_right
    start = bisect_at(batches, after, key=lambda batch: batch.seq)
    if step is None:
        return batches[start : start + limit]
    found: list[StoredBatch] = []
    for batch in batches[start:]:
        if batch.step == step:
            found.append(batch)
            if len(found) == limit:
                break
    return found


# Decompressed text is handled in pieces of at most this size: a gzip bomb or one huge batch
# in an archive cannot make a download hold more than this and one batch at a time.
_STREAM_PIECE_BYTES = 1024**2


async def stream_archived_batches(ctx: ServerContext, key: str) -> AsyncIterator[StoredBatch]:
    """The batches of an archived log in seq order, decompressed and parsed as the object is
    read: a text download holds one batch at a time, never the whole log (nor the cache)."""
    decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
    pending = b""
    try:
        async for chunk in ctx.artifacts.open(key):
            data = decompressor.decompress(chunk, _STREAM_PIECE_BYTES)
            while True:
                pending += data
                *complete, pending = pending.split(b"\n")
                for line in complete:
                    if line:
                        yield _batch_of(line)
                await asyncio.sleep(0)
                if not decompressor.unconsumed_tail:
                    break
                data = decompressor.decompress(decompressor.unconsumed_tail, _STREAM_PIECE_BYTES)
    except ArtifactNotFound:
        raise NotFound(f"the archived log {key!r} is missing from the artifact store") from None
    pending += decompressor.flush()
    for line in pending.split(b"\n"):
        if line:
            yield _batch_of(line)


def _batch_of(line: bytes) -> StoredBatch:
    item = json.loads(line)
    return StoredBatch(item["seq"], item["step"], item["lines"])


def _compress(batches: list[StoredBatch]) -> bytes:
    text = "".join(
        json.dumps({"seq": b.seq, "step": b.step, "lines": b.lines}, ensure_ascii=False) + "\n"
        for b in batches
    )
    return gzip.compress(text.encode(), compresslevel=6)


def _decompress(data: bytes) -> tuple[list[StoredBatch], int]:
    text = gzip.decompress(data).decode()
    batches = []
    # split("\n"), not splitlines(): log text may hold U+2028 and the like, which JSON leaves
    # unescaped and splitlines() would break on.
    for line in text.split("\n"):
        if line:
            item = json.loads(line)
            batches.append(StoredBatch(item["seq"], item["step"], item["lines"]))
    return batches, len(text)


async def _one_chunk(data: bytes) -> AsyncIterator[bytes]:
    yield data
