"""Run one ``JobSpec`` through an executor, reporting progress to an observer.

The order is the executor contract's (``executors/base.py``): ``setup_job``, then each step
(``start_step``; ``stream_output`` and ``wait_step`` side by side; ``destroy_step``), then
``teardown_job``, which always runs. Steps form a graph through ``depends_on``: a step starts
once every step it depends on has finished, and steps that are ready run at the same time, up
to ``JobSpec.max_parallel_steps``. A plan where no step has ``depends_on`` runs in order.

Once a step fails (unless it ``allow_failure``) or errors, the steps not yet started run only
if their ``run_on`` has ``"failure"`` (clean-up steps); the others are reported ``skipped``. A
step whose ``run_on`` is only ``["failure"]`` is skipped when nothing failed. The build is
``error`` if a step errored, else ``failure`` (with the exit code of the first failing step),
else ``success``; ``cancelled`` when cancelled. An ``error`` says why in
``JobResult.error_kind``: ``timeout`` when a step or the build ran out of time,
``infrastructure`` when the executor, the preparation or the runtime itself failed.

The plan is final when the run starts: the runtime plans nothing (the agent read the
repository's pipeline and added the checkout step before). A builtin step (``StepSpec.builtin``,
the checkout) that exits non-zero is an ``error``, not a ``failure``: the machinery failed, not
the user's commands; its last output line (the program's reason) is the error's message.

Timeouts and cancellation work the same way: the waiting side notices (the step's own
``timeout_seconds``, the job's for the whole run, or the ``cancel`` event) and calls
``destroy_step``, which makes the executor end the step. Every wait here is bounded, and an
observer that fails or hangs cannot stop a build.
"""

import asyncio
import enum
import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, TypeVar

from solvyd.pipeline.executors.base import Executor, ExecutorError
from solvyd.protocol.messages import BuildStatus, ErrorKind, JobSpec, StepSpec, StepStatus
from solvyd.shared.clock import utcnow

log = logging.getLogger(__name__)

T = TypeVar("T")
# asyncio hands a timeout to the OS's poll call, which rejects huge values.
_LONGEST_WAIT = 3600.0
# A step that was cancelled or timed out gets this long to deliver its last output.
_STOPPED_DRAIN_SECONDS = 1.0


@dataclass(frozen=True)
class StepResult:
    status: StepStatus
    exit_code: int | None = None
    error_message: str | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    error_kind: ErrorKind | None = None  # with status ``error``: why


@dataclass(frozen=True)
class JobResult:
    status: BuildStatus
    exit_code: int | None  # the failing step's exit code; 0 on success; None otherwise
    error_message: str | None
    started_at: datetime
    completed_at: datetime
    steps: dict[str, StepResult] = field(default_factory=dict)
    # The executor itself faulted (setting up the build, or running or reading a step), as
    # opposed to a timeout, a cancel or a step's own failure: the agent counts these.
    executor_failed: bool = False
    # With status ``error``: why, for the server's retry decision (``BuildStatusUpdate``).
    error_kind: ErrorKind | None = None


class RuntimeObserver(Protocol):
    """Receives a build's progress. Calls for a step come in order: ``step_started``, its
    output lines, ``step_finished`` (a step that never ran gets only ``step_finished``)."""

    async def step_started(self, step: StepSpec, started_at: datetime) -> None: ...

    async def step_output(self, step: StepSpec, text: str) -> None: ...

    async def step_finished(self, step: StepSpec, result: StepResult) -> None: ...


@dataclass(frozen=True)
class RuntimeLimits:
    """Bounds on the waits that have no timeout of their own."""

    destroy_seconds: float = 30.0  # one destroy_step call
    teardown_seconds: float = 120.0  # teardown_job
    output_drain_seconds: float = 30.0  # for the output to be delivered once a step ended
    observer_seconds: float = 30.0  # one observer call
    after_steps_seconds: float = 600.0  # the after_steps hook (artifacts)


class _Stop(enum.Enum):
    CANCELLED = "cancelled"
    STEP_TIMEOUT = "step timeout"
    JOB_TIMEOUT = "job timeout"


# How the steps ended: status, exit code, message and, for an ``error``, its kind.
_Ending = tuple[BuildStatus, int | None, str | None, ErrorKind | None]


class _Interrupted(Exception):
    def __init__(self, stop: _Stop) -> None:
        super().__init__(stop.value)
        self.stop = stop


async def run_job(
    job: JobSpec,
    executor: Executor,
    observer: RuntimeObserver,
    cancel: asyncio.Event,
    *,
    limits: RuntimeLimits | None = None,
    after_steps: Callable[[BuildStatus], Awaitable[None]] | None = None,
) -> JobResult:
    """Run the build and return how it ended; only the caller's own task cancellation escapes.

    ``after_steps`` runs after the last step and before ``teardown_job``, while the workspace
    still exists (the agent collects artifacts there, through ``Executor.list_workspace`` and
    ``read_workspace_file``); its failures are logged and do not change the result.
    """
    run = _JobRun(job, executor, _SafeObserver(observer, limits or RuntimeLimits()), cancel)
    return await run.execute(after_steps)


class _JobRun:
    def __init__(
        self, job: JobSpec, executor: Executor, observer: "_SafeObserver", cancel: asyncio.Event
    ) -> None:
        self.job = job
        self.executor = executor
        self.observer = observer
        self.limits = observer.limits
        self.cancel = cancel
        self.loop = asyncio.get_running_loop()
        self.job_deadline = _deadline(self.loop, job.timeout_seconds)
        self.results: dict[str, StepResult] = {}
        self.executor_failed = False
        # The last output line of each builtin step: its reason, should it fail.
        self._last_lines: dict[str, str] = {}

    async def execute(
        self, after_steps: Callable[[BuildStatus], Awaitable[None]] | None
    ) -> JobResult:
        started_at = utcnow()
        try:
            status, exit_code, message, kind = await self._set_up_and_run_steps()
            await self._finish_unreported(
                StepStatus.CANCELLED if status is BuildStatus.CANCELLED else StepStatus.SKIPPED
            )
            if after_steps is not None:
                await _bounded(after_steps(status), self.limits.after_steps_seconds, "after_steps")
        except Exception as exc:  # a bug anywhere must still end the build and free the machine
            log.exception("build %s: the runtime failed", self.job.build_id)
            status, exit_code, message = BuildStatus.ERROR, None, f"internal error: {exc!r}"
            kind = "infrastructure"
            await self._finish_unreported(StepStatus.SKIPPED)
        finally:
            await _bounded(
                self.executor.teardown_job(self.job), self.limits.teardown_seconds, "teardown_job"
            )
        return JobResult(
            status,
            exit_code,
            message,
            started_at,
            utcnow(),
            dict(self.results),
            executor_failed=self.executor_failed,
            error_kind=kind if status is BuildStatus.ERROR else None,
        )

    async def _set_up_and_run_steps(self) -> _Ending:
        try:
            await self._interruptible(self.executor.setup_job(self.job), None)
        except _Interrupted as interrupted:
            return self._stopped_build(interrupted.stop, None)
        except ExecutorError as exc:
            self.executor_failed = True
            message = str(exc) or "the executor failed to set up the build"
            return BuildStatus.ERROR, None, message, "infrastructure"

        return await self._run_graph()

    async def _run_graph(self) -> _Ending:
        """Start each step once all it depends on has finished, up to ``max_parallel_steps``
        at a time; decide from the build's outcome so far whether it runs or is skipped."""
        waits_for = step_dependencies(self.job.steps)
        limit = max(1, self.job.max_parallel_steps)
        pending = list(self.job.steps)
        finished: set[str] = set()
        running: dict[asyncio.Task[StepResult], StepSpec] = {}
        outcome = _Outcome()
        stop: _Stop | None = None
        try:
            while pending or running:
                if self.cancel.is_set():
                    stop = _Stop.CANCELLED
                elif self.job_deadline is not None and self.loop.time() >= self.job_deadline:
                    stop = stop or _Stop.JOB_TIMEOUT
                if stop is None:
                    await self._start_ready(pending, finished, running, waits_for, limit, outcome)
                if not running:
                    if stop is not None or not pending:
                        break
                    names = ", ".join(step.name for step in pending)
                    outcome.error(f"steps wait for each other in a cycle: {names}")
                    break
                done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    step = running.pop(task)
                    finished.add(step.name)
                    outcome.add(step, task.result())
        finally:
            # Only reached with steps running when our own task is cancelled.
            for task in running:
                task.cancel()
            if running:
                await asyncio.wait(running, timeout=self.limits.destroy_seconds)
        if stop is _Stop.CANCELLED or outcome.cancelled:
            return BuildStatus.CANCELLED, None, None, None
        if outcome.error_message is not None:
            return BuildStatus.ERROR, None, outcome.error_message, outcome.error_kind
        if stop is _Stop.JOB_TIMEOUT:
            return self._stopped_build(stop, None)
        if outcome.failure is not None:
            failed_step, exit_code = outcome.failure
            return (
                BuildStatus.FAILURE,
                exit_code,
                f"step '{failed_step}' failed with exit code {exit_code}",
                None,
            )
        return BuildStatus.SUCCESS, 0, None, None

    async def _start_ready(
        self,
        pending: list[StepSpec],
        finished: set[str],
        running: dict[asyncio.Task[StepResult], StepSpec],
        waits_for: dict[str, set[str]],
        limit: int,
        outcome: "_Outcome",
    ) -> None:
        progressed = True
        while progressed:  # a skipped step may make others ready
            progressed = False
            for step in list(pending):
                if not waits_for[step.name] <= finished:
                    continue
                run_on = set(step.run_on) or {"success"}
                if ("failure" if outcome.failed else "success") not in run_on:
                    pending.remove(step)
                    finished.add(step.name)
                    await self._report(step, StepResult(StepStatus.SKIPPED))
                    progressed = True
                elif len(running) < limit:
                    pending.remove(step)
                    running[asyncio.create_task(self._run_and_report(step))] = step

    async def _run_and_report(self, step: StepSpec) -> StepResult:
        result = await self._run_step(step)
        await self._report(step, result)
        return result

    async def _run_step(self, step: StepSpec) -> StepResult:
        started_at = utcnow()
        await self.observer.step_started(step, started_at)
        step_deadline = _deadline(self.loop, step.timeout_seconds)
        pump: asyncio.Task[None] | None = None
        destroyed = False
        try:
            await self._interruptible(self.executor.start_step(self.job, step), step_deadline)
            # Output is consumed while the step runs, so the observer sees lines as they come.
            pump = asyncio.create_task(self._pump(step))
            exit_code = await self._interruptible(
                self.executor.wait_step(self.job, step), step_deadline
            )
            # Destroying first ends output held open by what the step left running; the
            # contract keeps the output already written, so nothing is lost by it.
            destroyed = await self._destroy(step)
            await self._drain(pump, step)
        except _Interrupted as interrupted:
            destroyed = await self._destroy(step)
            if pump is not None:
                await _settle(pump, _STOPPED_DRAIN_SECONDS)
            status, message = self._stopped_step(interrupted.stop, step)
            kind: ErrorKind | None = "timeout" if status is StepStatus.ERROR else None
            return StepResult(status, None, message, started_at, utcnow(), kind)
        except ExecutorError as exc:
            self.executor_failed = True
            message = str(exc) or f"the executor failed to run step '{step.name}'"
            return StepResult(
                StepStatus.ERROR, None, message, started_at, utcnow(), "infrastructure"
            )
        finally:
            # Also reached when our own task is cancelled: nothing of the step may outlive it.
            if not destroyed:
                await self._destroy(step)
            if pump is not None and not pump.done():
                pump.cancel()
                await _settle(pump, _STOPPED_DRAIN_SECONDS)
        if exit_code != 0 and step.builtin is not None:
            reason = self._last_lines.get(step.name)
            message = reason or f"step '{step.name}' failed with exit code {exit_code}"
            return StepResult(
                StepStatus.ERROR, exit_code, message, started_at, utcnow(), "infrastructure"
            )
        status = StepStatus.SUCCESS if exit_code == 0 else StepStatus.FAILURE
        return StepResult(status, exit_code, None, started_at, utcnow())

    async def _pump(self, step: StepSpec) -> None:
        lines: AsyncIterator[str] = self.executor.stream_output(self.job, step)
        try:
            async for line in lines:
                # A "$ ..." line echoes what runs next: never the reason of a failure.
                if step.builtin is not None and line.strip() and not line.startswith("$ "):
                    self._last_lines[step.name] = line
                await self.observer.step_output(step, line)
        finally:
            close: Callable[[], Awaitable[Any]] | None = getattr(lines, "aclose", None)
            if close is not None:
                await close()

    async def _drain(self, pump: asyncio.Task[None], step: StepSpec) -> None:
        """Wait for the output of an ended step to be delivered; a fault reading it is the
        executor's, and errors the step."""
        if not await _settle(pump, self.limits.output_drain_seconds):
            log.warning("build %s: output of step '%s' did not end", self.job.build_id, step.name)
            return
        error = pump.exception()
        if isinstance(error, ExecutorError):
            raise error
        if error is not None:
            raise ExecutorError(f"reading the output of step '{step.name}' failed: {error!r}")

    async def _interruptible(self, work: Awaitable[T], step_deadline: float | None) -> T:
        """Await ``work`` unless cancel or a deadline comes first; then raise ``_Interrupted``
        (after cancelling ``work``; executors' verbs are written to be cancellation safe)."""
        task = asyncio.ensure_future(work)
        cancelled = asyncio.ensure_future(self.cancel.wait())
        try:
            while True:
                deadline, stop = self._nearest_deadline(step_deadline)
                timeout = None
                if deadline is not None:
                    timeout = min(max(deadline - self.loop.time(), 0.0), _LONGEST_WAIT)
                done, _ = await asyncio.wait(
                    {task, cancelled}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
                )
                if task in done:
                    return task.result()
                if cancelled in done:
                    raise _Interrupted(_Stop.CANCELLED)
                if deadline is not None and self.loop.time() >= deadline:
                    raise _Interrupted(stop)
        finally:
            cancelled.cancel()
            if not task.done():
                task.cancel()
                await _settle(task, self.limits.destroy_seconds)

    def _nearest_deadline(self, step_deadline: float | None) -> tuple[float | None, _Stop]:
        if step_deadline is not None and (
            self.job_deadline is None or step_deadline <= self.job_deadline
        ):
            return step_deadline, _Stop.STEP_TIMEOUT
        return self.job_deadline, _Stop.JOB_TIMEOUT

    async def _destroy(self, step: StepSpec) -> bool:
        await _bounded(
            self.executor.destroy_step(self.job, step),
            self.limits.destroy_seconds,
            f"destroy_step '{step.name}'",
        )
        return True

    def _stopped_step(self, stop: _Stop, step: StepSpec) -> tuple[StepStatus, str]:
        if stop is _Stop.CANCELLED:
            return StepStatus.CANCELLED, "cancelled"
        return StepStatus.ERROR, self._timeout_message(stop, step)

    def _stopped_build(self, stop: _Stop, step: StepSpec | None) -> _Ending:
        if stop is _Stop.CANCELLED:
            return BuildStatus.CANCELLED, None, None, None
        return BuildStatus.ERROR, None, self._timeout_message(stop, step), "timeout"

    def _timeout_message(self, stop: _Stop, step: StepSpec | None) -> str:
        if stop is _Stop.STEP_TIMEOUT and step is not None:
            return f"step '{step.name}' timed out after {_seconds(step.timeout_seconds)}"
        return f"build timed out after {_seconds(self.job.timeout_seconds)}"

    async def _report(self, step: StepSpec, result: StepResult) -> None:
        self.results[step.name] = result
        await self.observer.step_finished(step, result)

    async def _finish_unreported(self, status: StepStatus) -> None:
        for step in self.job.steps:
            if step.name not in self.results:
                await self._report(step, StepResult(status))


class _Outcome:
    """The build's outcome so far, from the results of its steps as they finish."""

    def __init__(self) -> None:
        self.failure: tuple[str, int | None] | None = None  # the first failing step
        self.error_message: str | None = None  # the first error
        self.error_kind: ErrorKind | None = None  # and its kind
        self.cancelled = False

    @property
    def failed(self) -> bool:
        return self.failure is not None or self.error_message is not None or self.cancelled

    def add(self, step: StepSpec, result: StepResult) -> None:
        if result.status is StepStatus.FAILURE and not step.allow_failure:
            self.failure = self.failure or (step.name, result.exit_code)
        elif result.status is StepStatus.ERROR:
            message = result.error_message or f"step '{step.name}' failed to run"
            self.error(message, result.error_kind)
        elif result.status is StepStatus.CANCELLED:
            self.cancelled = True

    def error(self, message: str, kind: ErrorKind | None = None) -> None:
        if self.error_message is None:
            self.error_message, self.error_kind = message, kind


def step_dependencies(steps: list[StepSpec]) -> dict[str, set[str]]:
    """What each step waits for, as ``run_job`` schedules them. A plan where no step has
    ``depends_on`` (from an older server, or made by hand) runs in the order listed; names of
    steps not in the plan are ignored."""
    names = {step.name for step in steps}
    if not any(step.depends_on for step in steps):
        return {
            step.name: {steps[index - 1].name} if index else set()
            for index, step in enumerate(steps)
        }
    return {step.name: set(step.depends_on) & names - {step.name} for step in steps}


class _SafeObserver:
    """Calls the observer with a time limit, and logs its failures instead of raising them."""

    def __init__(self, observer: RuntimeObserver, limits: RuntimeLimits) -> None:
        self._observer = observer
        self.limits = limits
        self._failed: set[str] = set()

    async def step_started(self, step: StepSpec, started_at: datetime) -> None:
        await self._call("step_started", lambda: self._observer.step_started(step, started_at))

    async def step_output(self, step: StepSpec, text: str) -> None:
        await self._call("step_output", lambda: self._observer.step_output(step, text))

    async def step_finished(self, step: StepSpec, result: StepResult) -> None:
        await self._call("step_finished", lambda: self._observer.step_finished(step, result))

    async def _call(self, name: str, call: Callable[[], Awaitable[None]]) -> None:
        try:
            async with asyncio.timeout(self.limits.observer_seconds):
                await call()
        except Exception:
            # Once per kind: an observer failing on every line must not flood the log.
            if name not in self._failed:
                self._failed.add(name)
                log.exception("the runtime observer failed in %s", name)


async def _bounded(work: Awaitable[object], timeout: float, what: str) -> None:
    """Await clean-up work with a time limit; its failure is logged, never raised."""
    try:
        async with asyncio.timeout(timeout):
            await work
    except TimeoutError:
        log.warning("%s did not finish within %ss", what, timeout)
    except Exception:
        log.exception("%s failed", what)


async def _settle(task: asyncio.Task[Any], timeout: float) -> bool:
    """Wait up to ``timeout`` for ``task`` to end, without raising what it raised."""
    done, _ = await asyncio.wait({task}, timeout=timeout)
    if done and not task.cancelled() and task.exception() is not None:
        log.debug("abandoned work ended with %r", task.exception())
    return bool(done)


def _deadline(loop: asyncio.AbstractEventLoop, seconds: float | None) -> float | None:
    # Zero, negative or infinite limits come from older servers or hand-made specs: no limit.
    if seconds is None or not math.isfinite(seconds) or seconds <= 0:
        return None
    return loop.time() + seconds


def _seconds(value: float | None) -> str:
    return f"{value or 0:g}s"
