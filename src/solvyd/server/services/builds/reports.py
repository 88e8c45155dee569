"""Several reports of one build in one request: the agent's sender folds what its outbox
holds (log batches, step and build status, the graph) into one call, instead of one request
and one transaction per report."""

import uuid
from collections.abc import Sequence

from solvyd.protocol import (
    AnyReport,
    BuildReportAck,
    BuildStatus,
    BuildStatusReport,
    BuildStatusUpdate,
    GraphReport,
    LogReport,
    StepReport,
)
from solvyd.server.db.models import Build
from solvyd.server.events import BUILDS, build_topic
from solvyd.server.services.builds import logs, update
from solvyd.server.services.builds.access import build_held_by
from solvyd.server.services.context import ServerContext
from solvyd.server.services.errors import ServiceError


async def apply_reports(
    ctx: ServerContext, worker_id: uuid.UUID, build_id: uuid.UUID, reports: Sequence[AnyReport]
) -> BuildReportAck:
    """Apply the reports in order, in one transaction, each as its own endpoint would: all of
    them, or none when one is refused (its error, naming its index, is the answer). The
    agent then sends them one by one, and only the refused one is lost, as it would be
    without folding."""
    statuses: list[tuple[Build, BuildStatusUpdate, update.ClaimsToWake]] = []
    stored: list[logs.StoredLog] = []
    async with ctx.db.transaction() as session:
        # Locked first: the build's row is what each report checks and changes.
        build = await build_held_by(session, build_id, worker_id)
        for index, report in enumerate(reports):
            try:
                if isinstance(report, LogReport):
                    batch = await logs.store_log_batch(
                        ctx, session, worker_id, build_id, report.batch
                    )
                    if batch is not None:
                        stored.append(batch)
                elif isinstance(report, StepReport):
                    await update.apply_step_status(
                        session, worker_id, build_id, report.step, report.update
                    )
                elif isinstance(report, GraphReport):
                    await update.apply_step_graph(session, worker_id, build_id, report.graph)
                else:
                    assert isinstance(report, BuildStatusReport)  # noqa: S101 - narrows a type
                    build = await update.apply_build_status(
                        ctx, session, worker_id, build_id, report.update
                    )
                    to_wake = await update.claims_to_wake(session, build, report.update)
                    statuses.append((build, report.update, to_wake))
            except ServiceError as exc:
                exc.message = f"report {index} ({report.type}): {exc.message}"
                exc.args = (exc.message,)
                raise
        ack = acknowledge(
            build, reports_finish=any(body.status.finished for _, body, _ in statuses)
        )
    for batch in stored:
        logs.count_stored_log(ctx, build_id, batch)
    for build_, _, to_wake in statuses:
        update.notify_build_status(ctx, build_, to_wake, worker_id)
    if not statuses:
        ctx.events.notify(build_topic(build_id))
        ctx.events.notify(BUILDS)
    return ack


def acknowledge(build: Build, *, reports_finish: bool) -> BuildReportAck:
    """The small answer to a report: where the build stands, and whether the agent must stop
    it (it ended on the server while the agent, not having reported its end, runs it)."""
    status = BuildStatus(build.status)
    return BuildReportAck(
        id=build.id,
        status=status,
        attempt=build.attempt,
        stop=status.finished and not reports_finish,
    )
