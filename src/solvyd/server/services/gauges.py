"""What the shared database says now, for a metrics scrape: queued and running builds by their
required labels, workers by state. Three aggregate queries on indexed columns, whichever
server process is asked, so every replica answers the same."""

import json

import sqlalchemy as sa

from solvyd.protocol import BuildStatus
from solvyd.server.db.models import Build, Worker
from solvyd.server.metrics.database import DatabaseGauges
from solvyd.server.services.context import ServerContext


async def read_database_gauges(ctx: ServerContext) -> DatabaseGauges:
    queued: dict[str, int] = {}
    running: dict[str, int] = {}
    async with ctx.db.transaction() as session:
        # Grouped by the column's text: PostgreSQL's `json` type has no equality to group on.
        labels_text = sa.cast(Build.labels, sa.Text)
        rows = await session.execute(
            sa.select(Build.status, labels_text, sa.func.count())
            .where(Build.status.in_([BuildStatus.QUEUED, BuildStatus.RUNNING]))
            # Waiting for a person's approval, not for a worker: no worker could take it.
            .where(Build.awaiting_approval.is_(False))
            .group_by(Build.status, labels_text)
        )
        for status, text, count in rows:
            counts = queued if status == BuildStatus.QUEUED else running
            key = _label_set(text)
            counts[key] = counts.get(key, 0) + int(count)
        by_state = await session.execute(
            sa.select(Worker.status, sa.func.count()).group_by(Worker.status)
        )
        workers = {str(state): int(count) for state, count in by_state}
        busy = await session.scalar(
            sa.select(sa.func.count(sa.distinct(Build.worker_id)))
            .join(Worker, Worker.id == Build.worker_id)
            .where(Build.status == BuildStatus.RUNNING, Worker.status == "online")
        )
    workers["busy"] = int(busy or 0)
    return DatabaseGauges(queued=queued, running=running, workers=workers)


def _label_set(text: str | None) -> str:
    """A stored label list as one label value: sorted, comma-joined, "" for none."""
    try:
        labels = json.loads(text) if text else []
    except ValueError:
        return ""
    if not isinstance(labels, list):
        return ""
    return ",".join(sorted({str(label) for label in labels}))
