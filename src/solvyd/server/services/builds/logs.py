"""Build logs: idempotent ingest of seq-numbered batches, and paged (optionally waiting) reads."""

import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import sqlalchemy as sa

from solvyd.protocol import BuildStatus, LogBatch
from solvyd.protocol.messages import INT32_MAX
from solvyd.server.db import dialects, queries
from solvyd.server.db.models import BuildLog
from solvyd.server.events import build_topic
from solvyd.server.schemas.builds import LogLineRead, LogPage
from solvyd.server.services.builds import log_archive
from solvyd.server.services.builds.access import build_held_by
from solvyd.server.services.builds.masking import build_masker
from solvyd.server.services.context import ServerContext
from solvyd.server.services.errors import NotFound
from solvyd.shared import log_text
from solvyd.shared.clock import utcnow
from solvyd.shared.log_text import cut_long_line, storable

MAX_BATCHES_PER_PAGE = 1000
MAX_SEQ = INT32_MAX  # a log batch's seq (and a build's attempt) is an INTEGER column


async def append_log_batch(
    ctx: ServerContext, worker_id: uuid.UUID, build_id: uuid.UUID, batch: LogBatch
) -> bool:
    """Store the batch unless this (build, seq) is already stored. True if it was new.

    The agent masks secrets and cuts long lines before sending; both are done again here, in
    case an agent did not (an older one, or a bug), with the values of the stored secrets the
    build can read as well (`masking.build_masker`). Past the build's log cap a marker line is
    stored once and later batches are dropped: the build goes on, its log does not."""
    async with ctx.db.transaction() as session:
        # Locked: a requeue (which deletes the old attempt's log) cannot slip in between the
        # check and the insert and leave a stale batch in the new attempt's log, and the byte
        # count of concurrent batches adds up.
        build = await build_held_by(session, build_id, worker_id, attempt=batch.attempt)
        if build.log_truncated or build.log_archive_key:
            return False
        masker = await build_masker(ctx, session, build)
        texts = [cut_long_line(masker(storable(line.text))) for line in batch.lines]
        size = sum(len(text.encode()) + 1 for text in texts)
        cap = ctx.settings.max_log_bytes
        truncated = build.log_bytes + size > cap
        if truncated:
            texts = _fit(texts, cap - build.log_bytes)
            texts.append(
                f"[solvyd: log truncated: it reached the limit of {cap} bytes; "
                "later output is not stored, the build goes on]"
            )
            size = sum(len(text.encode()) + 1 for text in texts)
        row = {
            "build_id": build_id,
            "seq": batch.seq,
            "step": batch.step,
            "lines": [
                {"text": text, "ts": _stamp(batch, index)} for index, text in enumerate(texts)
            ],
            "line_count": len(texts),
            "created_at": utcnow(),
        }
        stored = await dialects.insert_ignoring_duplicates(session, BuildLog, row, ctx.db.dialect)
        if stored:
            build.log_bytes += size
            build.log_truncated = truncated
    if stored:
        ctx.events.notify(build_topic(build_id))
    return stored


def _stamp(batch: LogBatch, index: int) -> str | None:
    """The time of line `index`; the truncation marker takes the time of the last line."""
    ts = batch.lines[min(index, len(batch.lines) - 1)].ts if batch.lines else None
    return ts.isoformat() if ts else None


def _fit(texts: list[str], room: int) -> list[str]:
    """The leading lines that fit in `room` bytes."""
    kept: list[str] = []
    for text in texts:
        room -= len(text.encode()) + 1
        if room < 0:
            break
        kept.append(text)
    return kept


async def read_log_page(
    ctx: ServerContext,
    build_id: uuid.UUID,
    *,
    after: int = -1,
    limit: int = MAX_BATCHES_PER_PAGE,
    step: str | None = None,
    wait: float = 0.0,
    strip_ansi: bool = False,
) -> LogPage:
    """Lines of batches with seq > `after`. With `wait`, holds until there is something new
    or the build finishes, so a follower sees lines as soon as they are stored."""
    deadline = time.monotonic() + min(wait, ctx.settings.max_claim_wait_seconds)
    while True:
        signal = ctx.events.listen(build_topic(build_id))
        page = await _read_once(ctx, build_id, after, limit, step)
        remaining = deadline - time.monotonic()
        # A page that moved past batches of other steps is progress too: answer it rather
        # than re-read the same batches on every wake-up.
        if (
            page.lines
            or page.finished
            or page.next_after > after
            or remaining <= 0
            or ctx.events.closed
        ):
            return _without_ansi(page) if strip_ansi else page
        await signal.wait(remaining)


def _without_ansi(page: LogPage) -> LogPage:
    lines = [
        line.model_copy(update={"text": log_text.strip_ansi(line.text)}) for line in page.lines
    ]
    return page.model_copy(update={"lines": lines})


async def log_text_chunks(
    ctx: ServerContext, build_id: uuid.UUID, *, step: str | None = None, strip_ansi: bool = False
) -> AsyncIterator[str]:
    """The whole log as text, a page at a time (a 100 MiB log is never held whole)."""
    after = -1
    while True:
        page = await read_log_page(ctx, build_id, after=after, step=step, strip_ansi=strip_ansi)
        if page.lines:
            yield "".join(line.text + "\n" for line in page.lines)
        if page.next_after == after:
            return
        after = page.next_after


@dataclass(frozen=True)
class BatchPage:
    """Stored batches with seq > some `after`, as stored (lines are {"text", "ts"} dicts)."""

    batches: list[log_archive.StoredBatch]
    status: BuildStatus
    # Pass as `after` to read on from here.
    next_after: int
    # The build ended and this page reached the end of what is stored.
    finished: bool


async def read_batches(
    ctx: ServerContext, build_id: uuid.UUID, after: int, limit: int = MAX_BATCHES_PER_PAGE
) -> BatchPage:
    page_size = min(limit, MAX_BATCHES_PER_PAGE)
    async with ctx.db.transaction() as session:
        query = (
            sa.select(BuildLog.seq, BuildLog.step, BuildLog.lines)
            .where(BuildLog.build_id == build_id, BuildLog.seq > after)
            .order_by(BuildLog.seq)
            .limit(page_size)
        )
        result = await session.execute(query)
        rows = [log_archive.StoredBatch(row.seq, row.step, row.lines) for row in result]
        # The build after its rows: an archive committed in between then shows as the key
        # being set, never as a log that went empty.
        build = await queries.get_build(session, build_id)
        if build is None:
            raise NotFound(f"build {build_id} not found")
    if build.log_archive_key is not None:
        # After the transaction: the download must not hold a database connection.
        archived = await log_archive.read_archived_batches(ctx, build.log_archive_key)
        rows = log_archive.batches_after(archived, after, page_size)
    status = BuildStatus(build.status)
    return BatchPage(
        batches=rows,
        status=status,
        next_after=rows[-1].seq if rows else after,
        finished=status.finished and len(rows) < page_size,
    )


async def _read_once(
    ctx: ServerContext, build_id: uuid.UUID, after: int, limit: int, step: str | None
) -> LogPage:
    page = await read_batches(ctx, build_id, after, limit)
    lines = [
        LogLineRead(seq=row.seq, step=row.step, text=line["text"], ts=line.get("ts"))
        for row in page.batches
        if step is None or row.step == step
        for line in row.lines
    ]
    return LogPage(
        build_id=build_id,
        status=page.status,
        lines=lines,
        next_after=page.next_after,
        finished=page.finished,
    )
