"""Moving a build between states: the only code that writes a build's status."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from solvyd.protocol import BuildStatus, ErrorKind
from solvyd.server.db import queries
from solvyd.server.db.models import Build
from solvyd.server.db.session import after_commit
from solvyd.server.metrics.registry import BuildFinished
from solvyd.server.services.commit_statuses.outbox import record_build_state
from solvyd.server.services.deployments.create import end_waiting_deployments
from solvyd.server.services.notifications.outbox import record_build_notifications
from solvyd.server.state import check_build_transition, step_status_for_unfinished
from solvyd.shared.clock import utcnow


def mark_running(build: Build, started_at: datetime | None = None) -> None:
    check_build_transition(BuildStatus(build.status), BuildStatus.RUNNING)
    build.status = BuildStatus.RUNNING
    build.started_at = started_at or utcnow()
    build.error_message = None  # why it was handed back, which no longer holds


async def finish(
    session: AsyncSession,
    build: Build,
    status: BuildStatus,
    *,
    exit_code: int | None = None,
    error_message: str | None = None,
    completed_at: datetime | None = None,
    duration_seconds: float | None = None,
) -> None:
    check_build_transition(BuildStatus(build.status), status)
    build.status = status
    build.completed_at = completed_at or utcnow()
    build.exit_code = exit_code
    build.error_message = error_message
    if duration_seconds is None and build.started_at is not None:
        duration_seconds = (build.completed_at - build.started_at).total_seconds()
    if duration_seconds is not None:
        duration_seconds = max(0.0, duration_seconds)
    build.duration_seconds = duration_seconds
    # Every path that ends a build (the agent's report, a cancel, a lost worker, a timeout,
    # a superseded or unusable build) comes through here; counted once it has committed.
    after_commit(
        session,
        BuildFinished(
            job=str(build.spec.get("job_name", "")),
            status=status.value,
            trigger=build.trigger,
            duration_seconds=duration_seconds if build.started_at is not None else None,
        ),
    )
    await queries.finish_open_steps(session, build, step_status_for_unfinished(status))
    await end_waiting_deployments(session, build)
    await record_build_state(session, build)
    await record_build_notifications(session, build)


def unassign(build: Build) -> None:
    """Hand a claimed but never started build back to the queue."""
    build.worker_id = None
    build.claimed_at = None


# Words every timeout message of an agent older than `error_kind` contains: how its reports
# tell a timeout from other errors.
TIMED_OUT = "timed out"


@dataclass(frozen=True)
class RetryPolicy:
    """Automatic retries of infrastructure errors: up to the job's `max_retries`, the n-th
    after `backoff_seconds * 2**(n-1)`, at most `max_backoff_seconds`.

    What is retried is decided by the error's kind: the machinery failing (`infrastructure`)
    or the agent stopping under the build (`agent_stopped`) may go better on another run; a
    `timeout` is the build's own doing, and would only time out again."""

    max_retries: int
    backoff_seconds: float
    max_backoff_seconds: float

    def delay_before_next(self, build: Build) -> float:
        """How long the build's next retry waits in the queue (the first: `backoff_seconds`)."""
        retry = _tries(build)
        return min(self.max_backoff_seconds, self.backoff_seconds * 2.0 ** max(0, retry - 1))

    def retries(self, build: Build, kind: ErrorKind | None, error_message: str | None) -> bool:
        """Whether a build that ended `error` of `kind` runs again; `kind` None: a report of
        an agent older than the field, whose `error_message` alone tells a timeout."""
        if _tries(build) > self.max_retries:
            return False
        if kind is None:
            return TIMED_OUT not in (error_message or "")
        return kind != "timeout"


def _tries(build: Build) -> int:
    """The attempts that count against the retry budget: a hand-back is not the build's fault."""
    return build.attempt - build.hand_backs


async def requeue(session: AsyncSession, build: Build, delay_seconds: float) -> None:
    """Run the build again from the start, not before `delay_seconds` from now."""
    await _back_to_the_queue(session, build)
    now = utcnow()
    build.attempt += 1
    build.queued_at = now
    build.not_before = now + timedelta(seconds=delay_seconds) if delay_seconds > 0 else None
    build.error_message = None


async def hand_back_needing_steps_without_image(
    session: AsyncSession, build: Build, reason: str
) -> None:
    """A worker that cannot run steps without an image read a plan with such steps from the
    repository (known only after its checkout) and gives the build back: it waits, in its
    place in the queue, for a worker that runs such steps, and no other worker claims it.

    A new attempt, since its log restarts (that is how a log's followers know to start over,
    and how the first worker's late reports are refused), but not a retry: `hand_backs`
    keeps it out of the job's retry budget. `reason` says why it waits."""
    await _back_to_the_queue(session, build)
    build.attempt += 1
    build.hand_backs += 1
    build.needs_step_without_image = True
    build.error_message = reason


async def _back_to_the_queue(session: AsyncSession, build: Build) -> None:
    """A started build waits for a worker again and will run from the start."""
    check_build_transition(BuildStatus(build.status), BuildStatus.QUEUED)
    build.status = BuildStatus.QUEUED
    build.started_at = None
    # The next run reports the graph of its own plan.
    build.step_graph = None
    unassign(build)
    await queries.reset_steps(session, build.id)
    # The next run's log starts afresh: its seq numbers start at 0 again.
    await queries.delete_logs(session, build.id)
    build.log_bytes = 0
    build.log_truncated = False
    # The next run's deploy steps register deployments of their own.
    await end_waiting_deployments(session, build)
    await record_build_state(session, build)


async def retry_or_fail(
    session: AsyncSession, build: Build, policy: RetryPolicy, reason: str
) -> BuildStatus:
    """A build whose worker vanished or restarted under it (an infrastructure error): run it
    again if the policy allows, else end it `error` with `reason`."""
    if build.status == BuildStatus.QUEUED:
        unassign(build)  # claimed but never started: simply hand it back
        return BuildStatus.QUEUED
    if policy.retries(build, "infrastructure", reason):
        await requeue(session, build, policy.delay_before_next(build))
        return BuildStatus.QUEUED
    await finish(session, build, BuildStatus.ERROR, error_message=reason)
    return BuildStatus.ERROR
