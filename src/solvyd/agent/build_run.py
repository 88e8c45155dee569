"""One build on this agent: a task group of the pipeline runtime, the cancel watcher and the
reporter. The final report is sent even while the agent shuts down."""

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import structlog

from solvyd.agent import secrets
from solvyd.agent.artifacts import ArtifactUploader
from solvyd.agent.checkout import DEFAULT_TIMEOUT_SECONDS, checkout
from solvyd.agent.client import Rejected, ServerClient, ServerUnavailable, with_retries
from solvyd.agent.repo_pipeline import plan_with_warnings
from solvyd.agent.reporter import BuildReporter
from solvyd.pipeline.executors.base import Executor
from solvyd.pipeline.runtime import JobResult, StepResult, run_job
from solvyd.protocol import (
    CHECKOUT_STEP,
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

    @property
    def build_id(self) -> uuid.UUID:
        return self.spec.build_id

    def stop(self, *, by_agent: bool) -> None:
        self.stopped_by_agent = self.stopped_by_agent or by_agent
        self.cancel.set()


class _ReportingObserver:
    """The runtime's callbacks, turned into reports and log lines."""

    def __init__(self, reporter: BuildReporter, notices: secrets.StepNotices) -> None:
        self._reporter = reporter
        self._notices = notices

    async def step_started(self, step: StepSpec, started_at: datetime) -> None:
        self._reporter.step_status(
            step.name, StepStatusUpdate(status=StepStatus.RUNNING, started_at=started_at)
        )
        for line in self._notices.for_step(step.name):
            self._reporter.log_line(step.name, line)

    async def step_output(self, step: StepSpec, text: str) -> None:
        self._reporter.log_line(step.name, text)

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


def _checkout_hook(
    reporter: BuildReporter,
    executor: Executor,
    spec: JobSpec,
    artifacts: ArtifactUploader,
) -> Callable[[], Awaitable[JobSpec | None]] | None:
    """The runtime's ``before_steps`` for a job with a repository: the step "checkout" clones
    it into the workspace, reports the commit it resolved to, and, when the pipeline lives in
    the repository, plans the build from that file."""
    if not spec.scm_url:
        return None

    async def before_steps() -> JobSpec | None:
        started_at = utcnow()
        reporter.step_status(
            CHECKOUT_STEP, StepStatusUpdate(status=StepStatus.RUNNING, started_at=started_at)
        )

        def finished(status: StepStatus, message: str | None = None) -> None:
            update = StepStatusUpdate(
                status=status,
                started_at=started_at,
                completed_at=utcnow(),
                exit_code=0 if status is StepStatus.SUCCESS else None,
                error_message=message,
            )
            reporter.step_status(CHECKOUT_STEP, update)

        workspace = Path(executor.workspace(spec))
        timeout = DEFAULT_TIMEOUT_SECONDS
        if spec.timeout_seconds and spec.timeout_seconds > 0:
            timeout = min(timeout, spec.timeout_seconds)
        try:
            sha = await checkout(
                spec,
                workspace,
                lambda line: reporter.log_line(CHECKOUT_STEP, line),
                timeout_seconds=timeout,
            )
            reporter.build_status(BuildStatusUpdate(status=BuildStatus.RUNNING, commit_sha=sha))
            planned = None
            if spec.pipeline_path:
                reporter.log_line(CHECKOUT_STEP, f"planning the build from {spec.pipeline_path}")
                planned, warnings = await asyncio.to_thread(
                    plan_with_warnings, spec, workspace, sha
                )
                for warning in warnings:
                    reporter.log_line(CHECKOUT_STEP, warning)
                reporter.mask(planned.mask)
                names = ", ".join(step.name for step in planned.steps)
                reporter.log_line(CHECKOUT_STEP, f"steps: {names}")
        except asyncio.CancelledError:
            finished(StepStatus.CANCELLED, "interrupted")
            raise
        except Exception as exc:
            for line in str(exc).splitlines():
                reporter.log_line(CHECKOUT_STEP, line)
            finished(StepStatus.ERROR, str(exc))
            raise
        finished(StepStatus.SUCCESS)
        if planned is not None:
            # The repository's file may list artifacts too: collect by the plan that ran.
            artifacts.spec = planned
        return planned

    return before_steps


def _prepare_hook(
    client: ServerClient,
    reporter: BuildReporter,
    executor: Executor,
    spec: JobSpec,
    artifacts: ArtifactUploader,
    notices: secrets.StepNotices,
) -> Callable[[], Awaitable[JobSpec | None]] | None:
    """The runtime's ``before_steps``: the checkout (and planning from the repository) if the
    job has one, then the secrets the plan's steps ask for. They are fetched once, masked in
    the log before any step runs, and put into the env of the steps that named them only."""
    checkout_hook = _checkout_hook(reporter, executor, spec, artifacts)
    if checkout_hook is None and not secrets.requested(spec):
        return None

    async def before_steps() -> JobSpec | None:
        planned = await checkout_hook() if checkout_hook is not None else None
        plan = planned or spec
        if not secrets.requested(plan):
            return planned
        reply = await secrets.fetch(client, plan)
        reporter.mask(reply.values.values())
        notices.lines.update(secrets.missing_notices(plan, reply).lines)
        return secrets.with_secrets(plan, reply.values)

    return before_steps


async def _watch_for_cancel(client: ServerClient, handle: BuildHandle) -> None:
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


def _final_update(handle: BuildHandle, result: JobResult) -> BuildStatusUpdate:
    status, message = result.status, result.error_message
    if status is BuildStatus.CANCELLED and handle.stopped_by_agent:
        status, message = BuildStatus.ERROR, "the agent stopped before the build finished"
    duration = None
    if result.started_at and result.completed_at:
        duration = (result.completed_at - result.started_at).total_seconds()
    return BuildStatusUpdate(
        status=status,
        completed_at=result.completed_at or utcnow(),
        exit_code=result.exit_code,
        error_message=message,
        duration_seconds=duration,
    )


async def run_build(
    client: ServerClient, executor: Executor, handle: BuildHandle, spool_dir: Path | None = None
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
        client, spec.build_id, spool_dir=spool_dir, attempt=spec.attempt, mask=spec.mask
    )
    reporter.start()
    watcher = asyncio.create_task(_watch_for_cancel(client, handle), name="cancel-watcher")
    workspace = Path(executor.workspace(spec))
    artifacts = ArtifactUploader(
        client, spec, workspace, reporter.log_line, handle.cancel, mask=reporter.masked
    )
    notices = secrets.StepNotices()
    try:
        result = await run_job(
            spec,
            executor,
            _ReportingObserver(reporter, notices),
            handle.cancel,
            before_steps=_prepare_hook(client, reporter, executor, spec, artifacts, notices),
            after_steps=artifacts.after_steps,
        )
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
    final = _final_update(handle, result)
    # Shielded: the final report must go out even if the agent is being cancelled.
    delivered = await asyncio.shield(reporter.finish(final, FINAL_REPORT_DEADLINE_SECONDS))
    bound.info("build finished", status=final.status, exit_code=final.exit_code, reported=delivered)
