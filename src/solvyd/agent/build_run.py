"""One build on this agent: its prepare phase (``build_plan``: the plan, made once), then the
pipeline runtime, beside the cancel watcher and the reporter. The final report is sent even
while the agent shuts down."""

import asyncio
import contextlib
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import structlog
from pydantic import ValidationError

from solvyd.agent import secrets
from solvyd.agent.artifacts import ArtifactUploader
from solvyd.agent.build_plan import PreparedBuild, PrepareFailed, plan_graph, prepare_build
from solvyd.agent.checkout_program import commit_from_line
from solvyd.agent.client import Rejected, ServerClient, ServerUnavailable, with_retries
from solvyd.agent.metrics import AgentMetrics
from solvyd.agent.reporter import BuildReporter
from solvyd.agent.supervision import LoopDied, supervised
from solvyd.pipeline.executors.base import Executor
from solvyd.pipeline.runtime import JobResult, StepResult, run_job
from solvyd.protocol import (
    BuildStatus,
    BuildStatusUpdate,
    JobSpec,
    StepSpec,
    StepStatus,
    StepStatusUpdate,
)
from solvyd.shared.backoff import backoff_delays
from solvyd.shared.clock import utcnow

log = structlog.get_logger(__name__)

CANCEL_POLL_SECONDS = 25.0
# The cancel watcher's long poll starts this long after the build does: a short build ends
# without it (one request and transaction fewer on the server), and a cancel in the meantime
# is heard by the watcher's first poll (it answers at once) or sooner, by the answer to the
# next report, which says when the build ended on the server.
CANCEL_WATCH_DELAY_SECONDS = 0.5
# How long a finished build's undelivered reports (in memory and spooled to disk) keep being
# retried while the server is unreachable. Long: holding the build's slot costs nothing while
# no server can hand out work anyway, and giving up loses the build's log and result.
FINAL_REPORT_DEADLINE_SECONDS = 3600.0
START_REPORT_DEADLINE_SECONDS = 60.0


@dataclass
class BuildHandle:
    """What the agent keeps of a running build, to cancel it from outside."""

    spec: JobSpec
    cancel: asyncio.Event = field(default_factory=asyncio.Event)
    # Set when the agent, not a user, stops the build (shutdown): it then ends `error`.
    stopped_by_agent: bool = False
    # Why the agent gave the build back instead of running it (its plan, read from the
    # repository, has steps its executor cannot run); None: it ran the build.
    handed_back: str | None = None

    @property
    def build_id(self) -> uuid.UUID:
        return self.spec.build_id

    def stop(self, *, by_agent: bool) -> None:
        self.stopped_by_agent = self.stopped_by_agent or by_agent
        self.cancel.set()


class _ReportingObserver:
    """The runtime's callbacks, turned into reports and log lines."""

    def __init__(
        self,
        reporter: BuildReporter,
        notices: secrets.StepNotices,
        metrics: AgentMetrics,
        commit_sha: str | None,
    ) -> None:
        self._reporter = reporter
        self._notices = notices
        self._metrics = metrics
        self._commit_sha = commit_sha  # the one reported already, if any

    async def step_started(self, step: StepSpec, started_at: datetime) -> None:
        self._reporter.step_status(
            step.name, StepStatusUpdate(status=StepStatus.RUNNING, started_at=started_at)
        )
        for line in self._notices.for_step(step.name):
            self._reporter.log_line(step.name, line)

    async def step_output(self, step: StepSpec, text: str) -> None:
        self._reporter.log_line(step.name, text)
        if step.builtin == "checkout":
            # Only the checkout step's own output can name the build's commit.
            sha = commit_from_line(text)
            if sha is not None and sha != self._commit_sha:
                self._commit_sha = sha
                self._reporter.build_status(
                    BuildStatusUpdate(status=BuildStatus.RUNNING, commit_sha=sha)
                )

    async def step_finished(self, step: StepSpec, result: StepResult) -> None:
        self._reporter.step_status(
            step.name,
            StepStatusUpdate(
                status=result.status,
                started_at=result.started_at,
                completed_at=result.completed_at,
                exit_code=result.exit_code,
                error_message=result.error_message,
            ),
        )
        self._metrics.step_finished(result.status.value, result.started_at, result.completed_at)


def _report_graph(reporter: BuildReporter, plan: JobSpec, *, checkout: bool) -> None:
    if not plan.steps:
        return
    try:
        graph = plan_graph(plan, checkout=checkout)
    except ValidationError as exc:
        # A plan too large or odd to draw still runs; the server then draws its own guess.
        log.warning("not reporting the step graph", build_id=str(plan.build_id), error=str(exc))
        return
    reporter.step_graph(graph)


async def _prepare(
    client: ServerClient,
    executor: Executor,
    handle: BuildHandle,
    reporter: BuildReporter,
    metrics: AgentMetrics,
) -> PreparedBuild | None:
    """The prepare phase (``build_plan``), given up when the build is cancelled: None then."""
    work = asyncio.create_task(prepare_build(client, executor, handle.spec, reporter, metrics))
    cancelled = asyncio.create_task(handle.cancel.wait())
    try:
        await asyncio.wait({work, cancelled}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        cancelled.cancel()
        if not work.done():
            work.cancel()
            with contextlib.suppress(asyncio.CancelledError, PrepareFailed):
                await work
    if work.cancelled():
        return None
    return work.result()


async def _watch_for_cancel(client: ServerClient, handle: BuildHandle) -> None:
    await asyncio.sleep(CANCEL_WATCH_DELAY_SECONDS)
    delays = backoff_delays(base=0.5, cap=5.0)
    while not handle.cancel.is_set():
        try:
            if await client.wait_for_cancel(handle.build_id, CANCEL_POLL_SECONDS):
                log.info("build cancelled by the server", build_id=str(handle.build_id))
                handle.stop(by_agent=False)
                return
            delays = backoff_delays(base=0.5, cap=5.0)
        except ServerUnavailable:
            await asyncio.sleep(next(delays))
        except Rejected as exc:
            log.warning("cancel watch refused", build_id=str(handle.build_id), error=exc.message)
            handle.stop(by_agent=False)
            return


def _ended_on_server(handle: BuildHandle) -> None:
    if not handle.cancel.is_set():
        log.info("build ended on the server", build_id=str(handle.build_id))
    handle.stop(by_agent=False)


def _died(task: "asyncio.Task[None]") -> LoopDied | None:
    """How a supervised task died, if it did."""
    if not task.done() or task.cancelled():
        return None
    error = task.exception()
    return error if isinstance(error, LoopDied) else None


def _stop_if_died(watcher: "asyncio.Task[None]", handle: BuildHandle) -> None:
    """A build deaf to its cancel must not run on: it stops now (the agent stops after it,
    when `run_build` raises the watcher's `LoopDied`)."""
    if _died(watcher) is not None:
        handle.stop(by_agent=True)


def _final_update(handle: BuildHandle, result: JobResult) -> BuildStatusUpdate:
    if handle.handed_back is not None:
        return BuildStatusUpdate(
            status=BuildStatus.QUEUED,
            needs_step_without_image=True,
            error_message=handle.handed_back,
        )
    status, message, kind = result.status, result.error_message, result.error_kind
    if status is BuildStatus.CANCELLED and handle.stopped_by_agent:
        status, message = BuildStatus.ERROR, "the agent stopped before the build finished"
        kind = "agent_stopped"
    duration = None
    if result.started_at and result.completed_at:
        # Wall clocks step (NTP): a negative span is no duration.
        duration = max(0.0, (result.completed_at - result.started_at).total_seconds())
    return BuildStatusUpdate(
        status=status,
        completed_at=result.completed_at or utcnow(),
        exit_code=result.exit_code,
        error_message=message,
        error_kind=kind,
        duration_seconds=duration,
    )


def _unprepared_result(
    handle: BuildHandle,
    started_at: datetime,
    message: str | None,
    *,
    pipeline_invalid: bool = False,
) -> JobResult:
    """How a build ends that never ran: it could not be prepared (`message`), or it was
    cancelled while it was."""
    if message is None:
        return JobResult(BuildStatus.CANCELLED, None, None, started_at, utcnow())
    if pipeline_invalid:
        # The repository's pipeline file is wrong: the commit fails, as a failing step would,
        # and no retry is spent on it.
        return JobResult(BuildStatus.FAILURE, None, message, started_at, utcnow())
    # Fetching the pipeline or the secrets failed: the machinery's fault, worth a retry.
    return JobResult(
        BuildStatus.ERROR, None, message, started_at, utcnow(), error_kind="infrastructure"
    )


async def run_build(
    client: ServerClient,
    executor: Executor,
    handle: BuildHandle,
    metrics: AgentMetrics,
    spool_dir: Path | None = None,
) -> None:
    """Run one build; `spool_dir` is where its reports go when the server is unreachable and
    memory is full (see `agent/reporter.py`)."""
    spec = handle.spec
    bound = log.bind(build_id=str(spec.build_id), job=spec.job_name, number=spec.build_number)
    try:
        await with_retries(
            lambda: client.update_build(
                spec.build_id,
                BuildStatusUpdate(
                    status=BuildStatus.RUNNING, started_at=utcnow(), attempt=spec.attempt
                ),
            ),
            "report build running",
            give_up_after=START_REPORT_DEADLINE_SECONDS,
        )
    except (Rejected, ServerUnavailable) as exc:
        # Cancelled before it started, or the server is gone: the server will requeue it.
        bound.warning("not running the build: the server did not accept its start", error=str(exc))
        return
    bound.info("build started")
    reporter = BuildReporter(
        client,
        spec.build_id,
        spool_dir=spool_dir,
        attempt=spec.attempt,
        mask=spec.mask,
        metrics=metrics,
        on_stop=lambda: _ended_on_server(handle),
    )
    reporter.start()
    watcher = asyncio.create_task(
        supervised("cancel watcher", _watch_for_cancel(client, handle)), name="cancel-watcher"
    )
    watcher.add_done_callback(lambda task: _stop_if_died(task, handle))
    started_at = utcnow()
    try:
        try:
            prepared = await _prepare(client, executor, handle, reporter, metrics)
        except PrepareFailed as exc:
            result = _unprepared_result(
                handle, started_at, str(exc), pipeline_invalid=exc.pipeline_invalid
            )
        else:
            if prepared is None:
                result = _unprepared_result(handle, started_at, None)
            elif prepared.handed_back is not None:
                handle.handed_back = prepared.handed_back
                result = _unprepared_result(handle, started_at, prepared.handed_back)
            else:
                result = await _run_prepared(client, executor, handle, reporter, metrics, prepared)
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError, LoopDied):
            await watcher
    final = _final_update(handle, result)
    metrics.build_finished(final.status, executor_failed=result.executor_failed)
    # Shielded: the final report must go out even if the agent is being cancelled.
    delivered = await asyncio.shield(reporter.finish(final, FINAL_REPORT_DEADLINE_SECONDS))
    bound.info("build finished", status=final.status, exit_code=final.exit_code, reported=delivered)
    died = _died(watcher)
    if died is not None:
        raise died  # only now: the build's own result is reported first


async def _run_prepared(
    client: ServerClient,
    executor: Executor,
    handle: BuildHandle,
    reporter: BuildReporter,
    metrics: AgentMetrics,
    prepared: PreparedBuild,
) -> JobResult:
    if prepared.repository_plan is not None:
        # Only a plan read from the repository is news to the server: one it handed out it
        # draws itself by the same rule, so that report would cost every build a request
        # (about 12% of the server's CPU per build in bench/dispatch.py).
        _report_graph(reporter, prepared.repository_plan, checkout=True)
    plan = prepared.plan
    # Collected by the plan that runs (the repository's file may list artifacts too),
    # through the executor, before it tears the workspace down.
    artifacts = ArtifactUploader(
        client, plan, executor, reporter.log_line, handle.cancel, mask=reporter.masked
    )
    observer = _ReportingObserver(reporter, prepared.notices, metrics, prepared.commit_sha)
    return await run_job(plan, executor, observer, handle.cancel, after_steps=artifacts.after_steps)
