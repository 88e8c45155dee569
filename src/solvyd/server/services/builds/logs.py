"""Build logs: idempotent ingest of seq-numbered batches, and paged (optionally waiting) reads."""

import time
import uuid

import sqlalchemy as sa

from solvyd.protocol import BuildStatus, LogBatch
from solvyd.server.db import dialects, queries
from solvyd.server.db.models import BuildLog
from solvyd.server.events import build_topic
from solvyd.server.schemas.builds import LogLineRead, LogPage
from solvyd.server.services.builds.access import build_held_by
from solvyd.server.services.context import ServerContext
from solvyd.server.services.errors import NotFound
from solvyd.shared.clock import utcnow

MAX_BATCHES_PER_PAGE = 1000


async def append_log_batch(
    ctx: ServerContext, worker_id: uuid.UUID, build_id: uuid.UUID, batch: LogBatch
) -> bool:
    """Store the batch unless this (build, seq) is already stored. True if it was new."""
    row = {
        "build_id": build_id,
        "seq": batch.seq,
        "step": batch.step,
        "lines": [
            {"text": line.text, "ts": line.ts.isoformat() if line.ts else None}
            for line in batch.lines
        ],
        "line_count": len(batch.lines),
        "created_at": utcnow(),
    }
    async with ctx.db.transaction() as session:
        # Locked: a requeue (which deletes the old attempt's log) cannot slip in between the
        # check and the insert and leave a stale batch in the new attempt's log.
        await build_held_by(session, build_id, worker_id, attempt=batch.attempt)
        stored = await dialects.insert_ignoring_duplicates(session, BuildLog, row, ctx.db.dialect)
    if stored:
        ctx.events.notify(build_topic(build_id))
    return stored


async def read_log_page(
    ctx: ServerContext,
    build_id: uuid.UUID,
    *,
    after: int = -1,
    limit: int = MAX_BATCHES_PER_PAGE,
    step: str | None = None,
    wait: float = 0.0,
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
            return page
        await signal.wait(remaining)


async def _read_once(
    ctx: ServerContext, build_id: uuid.UUID, after: int, limit: int, step: str | None
) -> LogPage:
    async with ctx.db.transaction() as session:
        build = await queries.get_build(session, build_id)
        if build is None:
            raise NotFound(f"build {build_id} not found")
        query = (
            sa.select(BuildLog.seq, BuildLog.step, BuildLog.lines)
            .where(BuildLog.build_id == build_id, BuildLog.seq > after)
            .order_by(BuildLog.seq)
            .limit(min(limit, MAX_BATCHES_PER_PAGE))
        )
        rows = (await session.execute(query)).all()
    lines = [
        LogLineRead(seq=row.seq, step=row.step, text=line["text"], ts=line.get("ts"))
        for row in rows
        if step is None or row.step == step
        for line in row.lines
    ]
    status = BuildStatus(build.status)
    next_after = rows[-1].seq if rows else after
    # Finished means: the build ended and this page reached the end of what is stored.
    finished = status.finished and len(rows) < min(limit, MAX_BATCHES_PER_PAGE)
    return LogPage(
        build_id=build_id, status=status, lines=lines, next_after=next_after, finished=finished
    )
