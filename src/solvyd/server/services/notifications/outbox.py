"""Recording a build's start or end for its job's notification rules, in the transaction that
changed the build: one `notification_deliveries` row per matching rule, with the rule copied
in. The sender (`sender.py`) sends the rows after commit.

A build whose job had no rules when it was queued costs nothing here: `notifies` is on the
row. A success costs one more query, to tell a fix (the previous finished build of the job and
branch failed or errored; cancelled builds are passed over) from a plain success."""

import sqlalchemy as sa
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from solvyd.protocol import BuildStatus
from solvyd.server.db.models import Build, Job, NotificationDelivery
from solvyd.server.notify.registry import notifier_for
from solvyd.server.notify.rules import rule_matches
from solvyd.shared.clock import utcnow

log = structlog.get_logger(__name__)

# Set on a session that recorded a delivery: the sender wakes once that session commits.
ADDED = "notification_added"

_FINAL_OUTCOMES = {
    BuildStatus.FAILURE: "failure",
    BuildStatus.ERROR: "error",
    BuildStatus.CANCELLED: "cancelled",
}


async def record_build_notifications(
    session: AsyncSession, build: Build, job: Job | None = None
) -> None:
    """Queue the deliveries of `build`'s current state: `build.started` when it runs,
    `build.finished` once it ended. Call it once per change of state."""
    if not build.notifies:
        return
    status = BuildStatus(build.status)
    if status is BuildStatus.RUNNING:
        event = "build.started"
    elif status.finished:
        event = "build.finished"
    else:
        return
    if job is None or job.id != build.job_id:
        job = await session.get(Job, build.job_id)
    if job is None or not job.notifications:
        return
    outcome = "started" if event == "build.started" else await outcome_of(session, build)
    now = utcnow()
    added = False
    for index, rule in enumerate(job.notifications):
        if not isinstance(rule, dict) or not rule_matches(rule, outcome, build.branch):
            continue
        session.add(
            NotificationDelivery(
                build_id=build.id,
                rule_index=index,
                rule=dict(rule),
                type=str(rule.get("type")),
                target=describe_target(rule),
                event=event,
                outcome=outcome,
                status="pending",
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
        )
        added = True
    if added:
        session.info[ADDED] = True


async def outcome_of(session: AsyncSession, build: Build) -> str:
    """The `on` word a finished build answers: success, fixed, failure, error, cancelled."""
    status = BuildStatus(build.status)
    if status is not BuildStatus.SUCCESS:
        return _FINAL_OUTCOMES[status]
    branch = Build.branch.is_(None) if build.branch is None else Build.branch == build.branch
    previous = await session.scalar(
        sa.select(Build.status)
        .where(
            Build.job_id == build.job_id,
            branch,
            Build.number < build.number,
            Build.status.in_([BuildStatus.SUCCESS, BuildStatus.FAILURE, BuildStatus.ERROR]),
        )
        .order_by(Build.number.desc())
        .limit(1)
    )
    return "fixed" if previous in (BuildStatus.FAILURE, BuildStatus.ERROR) else "success"


def describe_target(rule: dict[str, object]) -> str:
    """The notifier's words for where the rule sends; its type alone if it has none to say (or
    the notifier, a plugin's, failed to say it: that must not fail the build's transaction)."""
    kind = str(rule.get("type"))
    notifier = notifier_for(kind)
    if notifier is None:
        return kind
    try:
        return str(notifier.describe_target(rule))[:500]
    except Exception:
        log.error("notifier failed to describe its target", notifier=kind, exc_info=True)
        return kind
