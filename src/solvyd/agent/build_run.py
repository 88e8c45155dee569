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
from pydantic import ValidationError

from solvyd.agent import secrets
from solvyd.agent.artifacts import ArtifactUploader
from solvyd.agent.checkout import DEFAULT_TIMEOUT_SECONDS, checkout
from solvyd.agent.client import Rejected, ServerClient, ServerUnavailable, with_retries
from solvyd.agent.metrics import AgentMetrics
from solvyd.agent.repo_pipeline import plan_from_repository
from solvyd.agent.reporter import BuildReporter
from solvyd.agent.supervision import LoopDied, supervised
from solvyd.pipeline.executors.base import Executor, ExecutorError
from solvyd.pipeline.runtime import JobResult, StepResult, run_job, step_dependencies
from solvyd.protocol import (
    CHECKOUT_STEP,
    BuildStatus,
    BuildStatusUpdate,
    GraphStep,
    JobSpec,
    StepGraph,
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
    # Why the agent gives the build back instead of running it (its plan, read from the
    # repository, has steps its executor cannot run); None: it runs the build.
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
        self, reporter: BuildReporter, notices: secrets.StepNotices, metrics: AgentMetrics
    ) -> None:
        self._reporter = reporter
        self._notices = notices
        self._metrics = metrics

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
        self._metrics.step_finished(result.status.value, result.started_at, result.completed_at)


def _checkout_hook(
    client: ServerClient,
    reporter: BuildReporter,
    executor: Executor,
    handle: BuildHandle,
    artifacts: ArtifactUploader,
    metrics: AgentMetrics,
) -> Callable[[], Awaitable[JobSpec | None]] | None:
    """The runtime's ``before_steps`` for a job with a repository: the step "checkout" clones
    it into the workspace, reports the commit it resolved to, and, when the pipeline lives in
    the repository, plans the build from that file."""
    spec = handle.spec
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
            metrics.step_finished(status.value, update.started_at, update.completed_at)

        workspace = Path(executor.workspace(spec))
        timeout = DEFAULT_TIMEOUT_SECONDS
        if spec.timeout_seconds and spec.timeout_seconds > 0:
            timeout = min(timeout, spec.timeout_seconds)
        try:
            credentials = await secrets.checkout_credentials(client, spec)
            if credentials is not None:
                # Masked before git prints a line, and for the rest of the build: a step that
                # finds the value (or its base64 form) some other way prints ***.
                reporter.mask(credentials.secrets())
                reporter.log_line(
                    CHECKOUT_STEP, f"using the checkout credentials {spec.checkout_credentials}"
                )
            sha = await checkout(
                spec,
                workspace,
                lambda line: reporter.log_line(CHECKOUT_STEP, line),
                credentials=credentials,
                timeout_seconds=timeout,
            )
            reporter.build_status(BuildStatusUpdate(status=BuildStatus.RUNNING, commit_sha=sha))
            planned = None
            if spec.pipeline_path:
                reporter.log_line(CHECKOUT_STEP, f"planning the build from {spec.pipeline_path}")
                planned, warnings = await asyncio.to_thread(
                    plan_from_repository, spec, workspace, sha
                )
                for warning in warnings:
                    reporter.log_line(CHECKOUT_STEP, warning)
                reporter.mask(planned.mask)
                names = ", ".join(step.name for step in planned.steps)
                reporter.log_line(CHECKOUT_STEP, f"steps: {names}")
                _hand_back_unless_runnable(executor, handle, planned)
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


def _hand_back_unless_runnable(executor: Executor, handle: BuildHandle, planned: JobSpec) -> None:
    """A plan read from the repository is known only now: the server could not tell whether
    this agent can run it. If it cannot, no step runs and the build goes back to the queue,
    for an agent that can (the final report says so; see `_final_update`)."""
    if executor.runs_steps_without_image:
        return
    imageless = planned.steps_without_image()
    if not imageless:
        return
    handle.handed_back = (
        f"{planned.pipeline_path}: the steps {', '.join(imageless)} name no image, and this "
        f"agent's {executor.name} executor has no default image (--default-image)"
    )
    raise ExecutorError(f"{handle.handed_back}; handing the build back to the queue")


def plan_graph(plan: JobSpec, *, checkout: bool) -> StepGraph:
    """The graph the runtime follows for `plan` (`step_dependencies`), with the checkout, when
    the build has one, before every step that waits for nothing else."""
    waits_for = step_dependencies(plan.steps)
    position = {step.name: index for index, step in enumerate(plan.steps)}
    steps = [GraphStep(name=CHECKOUT_STEP)] if checkout else []
    for step in plan.steps:
        depends_on = sorted(waits_for[step.name], key=position.__getitem__)
        if not depends_on and checkout:
            depends_on = [CHECKOUT_STEP]
        steps.append(GraphStep(name=step.name, depends_on=depends_on))
    return StepGraph(steps=steps)


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


def _prepare_hook(
    client: ServerClient,
    reporter: BuildReporter,
    executor: Executor,
    handle: BuildHandle,
    artifacts: ArtifactUploader,
    notices: secrets.StepNotices,
    metrics: AgentMetrics,
) -> Callable[[], Awaitable[JobSpec | None]]:
    """The runtime's ``before_steps``: the checkout (and planning from the repository) if the
    job has one; then the graph of a plan read from the repository, reported before any step
    starts; then the secrets the plan's steps ask for. They are fetched once, masked in the
    log before any step runs, and put into the env of the steps that named them only."""
    spec = handle.spec
    checkout_hook = _checkout_hook(client, reporter, executor, handle, artifacts, metrics)

    async def before_steps() -> JobSpec | None:
        planned = await checkout_hook() if checkout_hook is not None else None
        plan = planned or spec
        if planned is not None:
            # Only a plan read from the repository is news to the server: one it handed out
            # it draws itself by the same rule, so that report would cost every build a
            # request (about 12% of the server's CPU per build in bench/dispatch.py).
            _report_graph(reporter, planned, checkout=checkout_hook is not None)
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
    if handle.handed_back is not None and result.status is BuildStatus.ERROR:
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
    )
    reporter.start()
    watcher = asyncio.create_task(
        supervised("cancel watcher", _watch_for_cancel(client, handle)), name="cancel-watcher"
    )
    watcher.add_done_callback(lambda task: _stop_if_died(task, handle))
    workspace = Path(executor.workspace(spec))
    artifacts = ArtifactUploader(
        client, spec, workspace, reporter.log_line, handle.cancel, mask=reporter.masked
    )
    notices = secrets.StepNotices()
    try:
        result = await run_job(
            spec,
            executor,
            _ReportingObserver(reporter, notices, metrics),
            handle.cancel,
            before_steps=_prepare_hook(
                client, reporter, executor, handle, artifacts, notices, metrics
            ),
            after_steps=artifacts.after_steps,
        )
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
