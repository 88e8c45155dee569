"""Build logs: idempotent ingest of seq-numbered batches, and paged (optionally waiting) reads."""

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from solvyd.protocol import BuildStatus, LogBatch
from solvyd.protocol.messages import INT32_MAX
from solvyd.server.db import dialects, queries
from solvyd.server.db.models import Build, BuildLog
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
# A JSON page also stops at this many lines or bytes of text, whichever comes first (a batch
# can hold any number of lines; `next_line` then resumes within it).
MAX_LINES_PER_PAGE = 10_000
MAX_PAGE_BYTES = 1024**2
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
        stored = await store_log_batch(ctx, session, worker_id, build_id, batch)
    if stored is not None:
        count_stored_log(ctx, build_id, stored)
    return stored is not None


@dataclass(frozen=True)
class StoredLog:
    """What a stored batch added to the log (for the metrics, once committed)."""

    lines: int
    bytes: int


def count_stored_log(ctx: ServerContext, build_id: uuid.UUID, stored: StoredLog) -> None:
    """After the commit of a stored batch: wake the log's followers, count it."""
    ctx.events.notify(build_topic(build_id))
    ctx.metrics.log_lines.inc(stored.lines)
    ctx.metrics.log_bytes.inc(stored.bytes)


async def store_log_batch(
    ctx: ServerContext,
    session: AsyncSession,
    worker_id: uuid.UUID,
    build_id: uuid.UUID,
    batch: LogBatch,
) -> StoredLog | None:
    """`append_log_batch` within the caller's transaction: what was stored, None if nothing
    (a seq stored before, or a log already capped or archived)."""
    # Locked: a requeue (which deletes the old attempt's log) cannot slip in between the
    # check and the insert and leave a stale batch in the new attempt's log, and the byte
    # count of concurrent batches adds up.
    build = await build_held_by(session, build_id, worker_id, attempt=batch.attempt)
    if build.log_truncated or build.log_archive_key:
        return None
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
        "lines": [{"text": text, "ts": _stamp(batch, index)} for index, text in enumerate(texts)],
        "line_count": len(texts),
        "created_at": utcnow(),
    }
    if not await dialects.insert_ignoring_duplicates(session, BuildLog, row, ctx.db.dialect):
        return None
    build.log_bytes += size
    build.log_truncated = truncated
    return StoredLog(lines=len(texts), bytes=size)


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
    line: int = 0,
    limit: int = MAX_BATCHES_PER_PAGE,
    step: str | None = None,
    wait: float = 0.0,
    strip_ansi: bool = False,
) -> LogPage:
    """Lines of batches with seq > `after` (with `line`: first the lines of batch `after` from
    that index on). With `wait`, holds until there is something new or the build finishes,
    so a follower sees lines as soon as they are stored."""
    deadline = time.monotonic() + min(wait, ctx.settings.max_claim_wait_seconds)
    while True:
        signal = ctx.events.listen(build_topic(build_id))
        page = await _read_once(ctx, build_id, after, line, limit, step, strip_ansi)
        remaining = deadline - time.monotonic()
        moved = (page.next_after, page.next_line) != (after, line)
        if page.lines or moved or page.finished or remaining <= 0 or ctx.events.closed:
            return page
        await signal.wait(remaining)


async def log_text_chunks(
    ctx: ServerContext, build_id: uuid.UUID, *, step: str | None = None, strip_ansi: bool = False
) -> AsyncIterator[str]:
    """The whole log as text, a page of whole batches at a time: a 100 MiB log is never held
    whole. The rows come as JSON text and are decoded and joined in a worker thread, so the
    event loop (and `/healthz`) never waits on a page of work."""
    after = -1
    while True:
        async with ctx.db.transaction() as session:
            window = await _batch_window(
                session,
                build_id,
                after,
                0,
                step,
                MAX_BATCHES_PER_PAGE,
                MAX_LINES_PER_PAGE,
                raw=True,
            )
            archive_key = await session.scalar(
                sa.select(Build.log_archive_key).where(Build.id == build_id)
            )
        if archive_key is not None:
            # Archived since (or before) the last page: read on from the archive.
            async for batch in log_archive.stream_archived_batches(ctx, archive_key):
                if batch.seq > after and (step is None or batch.step == step):
                    yield _text_of([batch.lines], strip_ansi)
            return
        if window.rows:
            texts = [row[2] for row in window.rows]
            loop = asyncio.get_running_loop()
            yield await loop.run_in_executor(_TEXT_THREAD, _text_of_json, texts, strip_ansi)
            after = window.rows[-1][0]
        if not window.more:
            return


# One thread for every download's decoding: the work holds the GIL, and the event loop waits
# for it behind each thread that has it; with one, /healthz waits behind at most one.
_TEXT_THREAD = ThreadPoolExecutor(max_workers=1, thread_name_prefix="solvyd-log-text")


def _text_of_json(batches: list[str], strip_ansi: bool) -> str:
    return _text_of([json.loads(lines) for lines in batches], strip_ansi)


def _text_of(batches: list[list[dict[str, Any]]], strip_ansi: bool) -> str:
    texts = [line["text"] for lines in batches for line in lines]
    if strip_ansi:
        texts = [log_text.strip_ansi(text) for text in texts]
    return "\n".join(texts) + "\n" if texts else ""


@dataclass(frozen=True)
class BatchPage:
    """Stored batches with seq > some `after`, as stored (lines are {"text", "ts"} dicts)."""

    batches: list[log_archive.StoredBatch]
    status: BuildStatus
    # Pass as `after` to read on from here.
    next_after: int
    # More batches may follow this page (it stopped at a limit, not at the end).
    more: bool
    # The build ended and this page reached the end of what is stored.
    finished: bool
    # The first batch's lines start at this index of the stored batch (resuming within it).
    first_line: int = 0


async def read_batches(
    ctx: ServerContext,
    build_id: uuid.UUID,
    after: int,
    limit: int = MAX_BATCHES_PER_PAGE,
    *,
    line: int = 0,
    step: str | None = None,
    max_lines: int = MAX_LINES_PER_PAGE,
) -> BatchPage:
    """Whole batches with seq > `after` (with `line` > 0, batch `after` itself from that
    line on, first), of `step` only if given: at most `limit` batches, and no more lines
    than `max_lines` unless the first batch alone has more. Counting lines before reading
    them is what keeps a page of big batches from reading a whole log at once."""
    page_size = min(limit, MAX_BATCHES_PER_PAGE)
    async with ctx.db.transaction() as session:
        window = await _batch_window(session, build_id, after, line, step, page_size, max_lines)
        rows = [log_archive.StoredBatch(seq, step_, lines) for seq, step_, lines in window.rows]
        more = window.more
        # The build after its rows: an archive committed in between then shows as the key
        # being set, never as a log that went empty.
        build = await queries.get_build(session, build_id)
        if build is None:
            raise NotFound(f"build {build_id} not found")
    status = BuildStatus(build.status)
    if build.log_archive_key is not None:
        # After the transaction: the download must not hold a database connection.
        archived = await log_archive.read_archived_batches(ctx, build.log_archive_key)
        candidates = log_archive.batches_after(
            archived, after, page_size, include_after=line > 0, step=step
        )
        taken = _fitting(
            [(b.seq, len(b.lines) - line if b.seq == after else len(b.lines)) for b in candidates],
            max_lines,
        )
        rows = candidates[:taken]
        more = taken < len(candidates) or len(candidates) == page_size
    first_line = 0
    if rows and rows[0].seq == after and line > 0:
        first_line = line
        rows[0] = rows[0]._replace(lines=rows[0].lines[line:])
    return BatchPage(
        batches=rows,
        status=status,
        next_after=rows[-1].seq if rows else after,
        more=more,
        finished=status.finished and not more,
        first_line=first_line,
    )


@dataclass(frozen=True)
class _Window:
    # (seq, step, lines): lines as stored, or as JSON text with `raw`.
    rows: list[tuple[int, str | None, Any]]
    # More batches may follow (the window stopped at a limit, not at the end).
    more: bool


async def _batch_window(
    session: AsyncSession,
    build_id: uuid.UUID,
    after: int,
    line: int,
    step: str | None,
    page_size: int,
    max_lines: int,
    *,
    raw: bool = False,
) -> _Window:
    """The rows of a page (see `read_batches`): their line counts are read first, and only the
    batches that fit are read whole."""
    where = [
        BuildLog.build_id == build_id,
        BuildLog.seq >= after if line > 0 else BuildLog.seq > after,
    ]
    if step is not None:
        where.append(BuildLog.step == step)
    counts = (
        await session.execute(
            sa.select(BuildLog.seq, BuildLog.line_count)
            .where(*where)
            .order_by(BuildLog.seq)
            .limit(page_size)
        )
    ).all()
    taken = _fitting(
        [(seq, count - line if seq == after else count) for seq, count in counts], max_lines
    )
    if not taken:
        return _Window([], False)
    # The JSON column's text as the database has it: decoding it is left to the caller (the
    # driver would decode it on the event loop).
    lines = sa.cast(BuildLog.lines, sa.Text) if raw else BuildLog.lines
    result = await session.execute(
        sa.select(BuildLog.seq, BuildLog.step, lines)
        .where(*where, BuildLog.seq <= counts[taken - 1].seq)
        .order_by(BuildLog.seq)
    )
    rows = [(row[0], row[1], row[2]) for row in result]
    return _Window(rows, taken < len(counts) or len(counts) == page_size)


def _fitting(counts: list[tuple[int, int]], max_lines: int) -> int:
    """How many of the leading batches (seq, lines) fit in `max_lines`; at least one."""
    total = 0
    for index, (_, count) in enumerate(counts):
        total += max(count, 0)
        if total > max_lines and index > 0:
            return index
    return len(counts)


async def _read_once(
    ctx: ServerContext,
    build_id: uuid.UUID,
    after: int,
    line: int,
    limit: int,
    step: str | None,
    strip_ansi: bool,
) -> LogPage:
    page = await read_batches(ctx, build_id, after, limit, line=line, step=step)
    lines: list[LogLineRead] = []
    size = 0
    # Where the next page starts: after the last whole batch, or within the batch cut.
    next_after, next_line = after, line
    cut = False
    for index, batch in enumerate(page.batches):
        offset = page.first_line if index == 0 else 0
        for position, stored in enumerate(batch.lines):
            text = stored["text"]
            if strip_ansi:
                text = log_text.strip_ansi(text)
            length = len(text.encode()) + 1
            if lines and (len(lines) >= MAX_LINES_PER_PAGE or size + length > MAX_PAGE_BYTES):
                cut = True
                if position > 0:
                    next_after, next_line = batch.seq, offset + position
                break
            lines.append(
                LogLineRead(seq=batch.seq, step=batch.step, text=text, ts=stored.get("ts"))
            )
            size += length
        if cut:
            break
        next_after, next_line = batch.seq, 0
    return LogPage(
        build_id=build_id,
        status=page.status,
        lines=lines,
        next_after=next_after,
        next_line=next_line,
        finished=page.finished and not cut,
    )
