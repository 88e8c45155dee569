"""The runtime, driven through the fake executor and through real local processes."""

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pytest

from solvyd.pipeline.executors import Executor, create_executor
from solvyd.pipeline.executors.fake import FakeExecutor
from solvyd.pipeline.runtime import JobResult, StepResult, run_job
from solvyd.protocol import BuildStatus, JobSpec, StepSpec, StepStatus

SCRIPTS: dict[str, dict[str, list[str]]] = {
    "fake": {
        "ok": ["echo hello"],
        "fail_3": ["echo failing", "exit 3"],
        "sleep_long": ["echo sleeping", "sleep 300"],
    },
    "local": {
        "ok": ["echo hello"],
        "fail_3": ["echo failing", "exit 3"],
        "sleep_long": ["echo sleeping", "sleep 300"],
    },
}


@dataclass
class Recorder:
    """A RuntimeObserver that keeps what it was told."""

    events: list[tuple[str, str, object]] = field(default_factory=list)

    async def step_started(self, step: StepSpec, started_at: datetime) -> None:
        self.events.append(("started", step.name, started_at))

    async def step_output(self, step: StepSpec, text: str) -> None:
        self.events.append(("output", step.name, text))

    async def step_finished(self, step: StepSpec, result: StepResult) -> None:
        self.events.append(("finished", step.name, result))

    def output(self, step: str) -> list[object]:
        return [text for kind, name, text in self.events if kind == "output" and name == step]

    def finished(self) -> dict[str, StepStatus]:
        return {
            name: result.status
            for kind, name, result in self.events
            if kind == "finished" and isinstance(result, StepResult)
        }

    async def wait_for_output(self, text: str) -> None:
        async with asyncio.timeout(10):
            while not any(kind == "output" and t == text for kind, _, t in self.events):
                await asyncio.sleep(0.01)


@dataclass
class Setup:
    name: str
    executor: Executor
    script: dict[str, list[str]]

    def step(self, name: str, behaviour: str, **fields: object) -> StepSpec:
        return StepSpec.model_validate({"name": name, "commands": self.script[behaviour], **fields})


@pytest.fixture(params=list(SCRIPTS))
def setup(request: pytest.FixtureRequest, tmp_path: Path) -> Setup:
    return Setup(request.param, create_executor(request.param, tmp_path), SCRIPTS[request.param])


def make_job(*steps: StepSpec, timeout: float | None = None) -> JobSpec:
    return JobSpec(
        build_id=uuid.uuid4(),
        build_number=3,
        job_id=uuid.uuid4(),
        job_name="runtime",
        steps=list(steps),
        timeout_seconds=timeout,
    )


async def run(job: JobSpec, executor: Executor, observer: object | None = None) -> JobResult:
    return await asyncio.wait_for(
        run_job(job, executor, observer or Recorder(), asyncio.Event()),  # type: ignore[arg-type]
        20,
    )


async def test_success(setup: Setup) -> None:
    recorder = Recorder()
    job = make_job(setup.step("first", "ok"), setup.step("second", "ok"))
    result = await run(job, setup.executor, recorder)
    assert (result.status, result.exit_code, result.error_message) == (
        BuildStatus.SUCCESS,
        0,
        None,
    )
    assert result.started_at <= result.completed_at
    assert recorder.output("first") == ["$ echo hello", "hello"]
    kinds = [(kind, name) for kind, name, _ in recorder.events]
    assert kinds == [
        ("started", "first"),
        ("output", "first"),
        ("output", "first"),
        ("finished", "first"),
        ("started", "second"),
        ("output", "second"),
        ("output", "second"),
        ("finished", "second"),
    ]
    step_result = result.steps["first"]
    assert step_result.status is StepStatus.SUCCESS and step_result.exit_code == 0
    assert step_result.started_at and step_result.completed_at


async def test_failure_reports_the_exit_code_and_skips_later_steps(setup: Setup) -> None:
    recorder = Recorder()
    job = make_job(setup.step("ok", "ok"), setup.step("bad", "fail_3"), setup.step("later", "ok"))
    result = await run(job, setup.executor, recorder)
    assert result.status is BuildStatus.FAILURE
    assert result.exit_code == 3
    assert result.error_message == "step 'bad' failed with exit code 3"
    assert recorder.finished() == {
        "ok": StepStatus.SUCCESS,
        "bad": StepStatus.FAILURE,
        "later": StepStatus.SKIPPED,
    }
    assert result.steps["bad"].exit_code == 3
    assert not recorder.output("later")


async def test_allow_failure_lets_the_build_go_on(setup: Setup) -> None:
    recorder = Recorder()
    job = make_job(setup.step("flaky", "fail_3", allow_failure=True), setup.step("next", "ok"))
    result = await run(job, setup.executor, recorder)
    assert (result.status, result.exit_code) == (BuildStatus.SUCCESS, 0)
    assert recorder.finished() == {"flaky": StepStatus.FAILURE, "next": StepStatus.SUCCESS}


async def test_a_step_timeout_destroys_the_step_and_errors_the_build(setup: Setup) -> None:
    recorder = Recorder()
    job = make_job(setup.step("slow", "sleep_long", timeout_seconds=0.5), setup.step("next", "ok"))
    began = time.monotonic()
    result = await run(job, setup.executor, recorder)
    assert time.monotonic() - began < 5
    assert result.status is BuildStatus.ERROR
    assert result.exit_code is None
    assert result.error_message == "step 'slow' timed out after 0.5s"
    assert result.steps["slow"].status is StepStatus.ERROR
    assert result.steps["slow"].error_message == "step 'slow' timed out after 0.5s"
    assert not result.executor_failed  # a timeout is the step's, not the executor's
    assert recorder.finished()["next"] is StepStatus.SKIPPED
    assert "sleeping" in recorder.output("slow")


async def test_the_job_timeout_covers_the_whole_run(setup: Setup) -> None:
    job = make_job(setup.step("quick", "ok"), setup.step("slow", "sleep_long"), timeout=1)
    began = time.monotonic()
    result = await run(job, setup.executor)
    assert time.monotonic() - began < 5
    assert result.status is BuildStatus.ERROR
    assert result.error_message == "build timed out after 1s"
    assert result.steps["quick"].status is StepStatus.SUCCESS
    assert result.steps["slow"].status is StepStatus.ERROR


async def test_cancel_ends_the_running_step_quickly(setup: Setup) -> None:
    recorder = Recorder()
    cancel = asyncio.Event()
    job = make_job(setup.step("slow", "sleep_long"), setup.step("never", "ok"))
    running = asyncio.create_task(run_job(job, setup.executor, recorder, cancel))
    await recorder.wait_for_output("sleeping")  # output arrives while the step runs

    cancel.set()
    began = time.monotonic()
    result = await asyncio.wait_for(running, 5)
    assert time.monotonic() - began < 2
    assert (result.status, result.exit_code, result.error_message) == (
        BuildStatus.CANCELLED,
        None,
        None,
    )
    assert recorder.finished() == {"slow": StepStatus.CANCELLED, "never": StepStatus.CANCELLED}


async def test_cancel_before_the_run_starts_runs_nothing() -> None:
    executor = FakeExecutor()
    cancel = asyncio.Event()
    cancel.set()
    job = make_job(StepSpec(name="a", commands=["echo a"]))
    result = await run_job(job, executor, Recorder(), cancel)
    assert result.status is BuildStatus.CANCELLED
    assert "start_step:a" not in executor.calls_for(job)
    assert executor.calls_for(job)[-1] == "teardown_job"


async def test_an_executor_fault_is_an_error_not_a_failure() -> None:
    executor = FakeExecutor()
    recorder = Recorder()
    job = make_job(
        StepSpec(name="a", commands=["echo a", "fail-infra the docker engine went away"]),
        StepSpec(name="b", commands=["echo b"]),
    )
    result = await run(job, executor, recorder)
    assert (result.status, result.exit_code) == (BuildStatus.ERROR, None)
    assert result.error_message == "the docker engine went away"
    assert result.executor_failed
    assert recorder.finished() == {"a": StepStatus.ERROR, "b": StepStatus.SKIPPED}
    assert executor.calls_for(job)[-1] == "teardown_job"


async def test_a_setup_fault_errors_the_build_and_still_tears_down(tmp_path: Path) -> None:
    fake = FakeExecutor(setup_error="no space left on device")
    recorder = Recorder()
    job = make_job(StepSpec(name="a", commands=["echo a"]))
    result = await run(job, fake, recorder)
    assert (result.status, result.error_message) == (BuildStatus.ERROR, "no space left on device")
    assert result.executor_failed
    assert recorder.finished() == {"a": StepStatus.SKIPPED}
    assert fake.calls_for(job) == ["setup_job", "teardown_job"]

    (tmp_path / "not-a-dir").write_text("")
    local = create_executor("local", tmp_path / "not-a-dir")
    result = await run(job, local)
    assert result.status is BuildStatus.ERROR
    assert result.error_message and "cannot create the workspace" in result.error_message


async def test_the_job_timeout_also_bounds_setup() -> None:
    executor = FakeExecutor(setup_delay=30)
    job = make_job(StepSpec(name="a", commands=["echo a"]), timeout=0.3)
    result = await run(job, executor)
    assert (result.status, result.error_message) == (
        BuildStatus.ERROR,
        "build timed out after 0.3s",
    )
    assert executor.calls_for(job) == ["setup_job", "teardown_job"]


@pytest.mark.parametrize("script", [["echo ok"], ["exit 1"], ["fail-infra boom"], ["sleep 300"]])
async def test_teardown_runs_however_the_build_ends(script: list[str]) -> None:
    executor = FakeExecutor()
    job = make_job(StepSpec(name="a", commands=script), timeout=0.5)
    await run(job, executor)
    calls = executor.calls_for(job)
    assert calls[0] == "setup_job"
    assert calls[-1] == "teardown_job"
    assert "destroy_step:a" in calls


async def test_teardown_runs_when_the_runner_itself_is_cancelled() -> None:
    executor = FakeExecutor()
    recorder = Recorder()
    job = make_job(StepSpec(name="a", commands=["echo go", "sleep 300"]))
    running = asyncio.create_task(run_job(job, executor, recorder, asyncio.Event()))
    await recorder.wait_for_output("go")
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    assert executor.calls_for(job)[-2:] == ["destroy_step:a", "teardown_job"]


class BrokenObserver:
    async def step_started(self, step: StepSpec, started_at: datetime) -> None:
        raise RuntimeError("the log shipper is down")

    async def step_output(self, step: StepSpec, text: str) -> None:
        raise RuntimeError("the log shipper is down")

    async def step_finished(self, step: StepSpec, result: StepResult) -> None:
        raise RuntimeError("the log shipper is down")


async def test_a_failing_observer_does_not_stop_the_build(caplog: pytest.LogCaptureFixture) -> None:
    job = make_job(StepSpec(name="a", commands=["echo 1", "echo 2"]))
    result = await run(job, FakeExecutor(), BrokenObserver())
    assert result.status is BuildStatus.SUCCESS
    failures = [r for r in caplog.records if "observer failed" in r.getMessage()]
    assert len(failures) == 3  # once per kind of call, not once per line


async def test_after_steps_runs_after_the_last_step_and_before_teardown() -> None:
    executor = FakeExecutor()
    job = make_job(StepSpec(name="a", commands=["echo a"]))
    seen: list[str] = []

    async def after(status: BuildStatus) -> None:
        seen.append(f"after: {status}, after {executor.calls_for(job)[-1]}")

    result = await run_job(job, executor, Recorder(), asyncio.Event(), after_steps=after)
    assert result.status is BuildStatus.SUCCESS
    assert seen == ["after: success, after destroy_step:a"]
    assert executor.calls_for(job)[-1] == "teardown_job"


async def test_a_failing_builtin_step_errors_the_build_with_its_last_line() -> None:
    executor = FakeExecutor()
    checkout = StepSpec(
        name="checkout",
        builtin="checkout",
        commands=["echo cloning", "echo fatal: repository not found", "exit 1"],
    )
    job = make_job(checkout, StepSpec(name="a", commands=["echo a"]))
    result = await run_job(job, executor, Recorder(), asyncio.Event())
    assert result.status is BuildStatus.ERROR
    assert result.error_message == "fatal: repository not found"
    assert result.steps["checkout"].status is StepStatus.ERROR
    assert result.steps["a"].status is StepStatus.SKIPPED
    assert not result.executor_failed


async def test_an_error_says_its_kind_for_the_retry_decision(setup: Setup) -> None:
    """A timeout (of a step or of the build) is `timeout`; an executor fault, a failed
    preparation or setup `infrastructure`; builds that did not end `error` have no kind."""
    step_timeout = await run(
        make_job(setup.step("slow", "sleep_long", timeout_seconds=0.3)), setup.executor
    )
    assert (step_timeout.status, step_timeout.error_kind) == (BuildStatus.ERROR, "timeout")
    assert step_timeout.steps["slow"].error_kind == "timeout"
    job_timeout = await run(make_job(setup.step("slow", "sleep_long"), timeout=0.3), setup.executor)
    assert (job_timeout.status, job_timeout.error_kind) == (BuildStatus.ERROR, "timeout")
    failed = await run(make_job(setup.step("bad", "fail_3")), setup.executor)
    assert (failed.status, failed.error_kind) == (BuildStatus.FAILURE, None)
    passed = await run(make_job(setup.step("ok", "ok")), setup.executor)
    assert (passed.status, passed.error_kind) == (BuildStatus.SUCCESS, None)


async def test_an_executor_fault_is_an_infrastructure_error(tmp_path: Path) -> None:
    executor = FakeExecutor()
    job = make_job(
        StepSpec(name="a", commands=["echo a", "fail-infra the docker engine went away"]),
        # A timeout that comes after the fault does not change the build's kind.
        StepSpec(name="b", commands=["sleep 300"], timeout_seconds=0.2, run_on=["failure"]),
    )
    result = await run(job, executor)
    assert (result.status, result.error_kind) == (BuildStatus.ERROR, "infrastructure")
    assert result.error_message == "the docker engine went away"
    assert result.steps["a"].error_kind == "infrastructure"
    assert result.steps["b"].error_kind == "timeout"

    setup_fault = await run(
        make_job(StepSpec(name="a", commands=["echo a"])),
        FakeExecutor(setup_error="no space left on device"),
    )
    assert (setup_fault.status, setup_fault.error_kind) == (BuildStatus.ERROR, "infrastructure")

    (tmp_path / "not-a-dir").write_text("")
    local = create_executor("local", tmp_path / "not-a-dir")
    local_fault = await run(make_job(StepSpec(name="a", commands=["echo a"])), local)
    assert (local_fault.status, local_fault.error_kind) == (BuildStatus.ERROR, "infrastructure")

    checkout = StepSpec(
        name="checkout", builtin="checkout", commands=["echo fatal: not found", "exit 1"]
    )
    failed_checkout = await run(
        make_job(checkout, StepSpec(name="a", commands=["echo a"])), executor
    )
    assert (failed_checkout.status, failed_checkout.error_kind) == (
        BuildStatus.ERROR,
        "infrastructure",
    )


async def test_a_cancelled_build_has_no_error_kind() -> None:
    cancel = asyncio.Event()
    cancel.set()
    result = await run_job(
        make_job(StepSpec(name="a", commands=["echo a"])), FakeExecutor(), Recorder(), cancel
    )
    assert (result.status, result.error_kind) == (BuildStatus.CANCELLED, None)
