"""The runtime follows the step graph: parallel steps overlap, dependencies hold, clean-up steps
run after a failure, and max_parallel_steps bounds the concurrency."""

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pytest

from solvyd.pipeline.executors import Executor, create_executor
from solvyd.pipeline.runtime import JobResult, StepResult, run_job
from solvyd.protocol import BuildStatus, JobSpec, StepSpec, StepStatus


@dataclass
class Timeline:
    """A RuntimeObserver that keeps when each step started and finished (monotonic)."""

    started: dict[str, float] = field(default_factory=dict)
    finished: dict[str, float] = field(default_factory=dict)
    statuses: dict[str, StepStatus] = field(default_factory=dict)
    output: list[tuple[str, str]] = field(default_factory=list)

    async def step_started(self, step: StepSpec, started_at: datetime) -> None:
        self.started[step.name] = time.monotonic()

    async def step_output(self, step: StepSpec, text: str) -> None:
        self.output.append((step.name, text))

    async def step_finished(self, step: StepSpec, result: StepResult) -> None:
        self.finished[step.name] = time.monotonic()
        self.statuses[step.name] = result.status

    def overlap(self, a: str, b: str) -> bool:
        return self.started[a] < self.finished[b] and self.started[b] < self.finished[a]


@pytest.fixture(params=["fake", "local"])
def executor(request: pytest.FixtureRequest, tmp_path: Path) -> Executor:
    return create_executor(request.param, tmp_path)


def step(name: str, *commands: str, **fields: object) -> StepSpec:
    return StepSpec.model_validate({"name": name, "commands": list(commands), **fields})


def job(*steps: StepSpec, **fields: object) -> JobSpec:
    return JobSpec.model_validate(
        {
            "build_id": uuid.uuid4(),
            "build_number": 1,
            "job_id": uuid.uuid4(),
            "job_name": "dag",
            "steps": list(steps),
            **fields,
        }
    )


async def run(spec: JobSpec, executor: Executor, timeline: Timeline) -> JobResult:
    return await asyncio.wait_for(run_job(spec, executor, timeline, asyncio.Event()), 20)


async def test_independent_steps_overlap_and_dependencies_wait(executor: Executor) -> None:
    timeline = Timeline()
    spec = job(
        step("a", "echo a", "sleep 0.5"),
        step("b", "echo b", "sleep 0.5"),
        step("c", "echo c", depends_on=["a", "b"]),
    )
    result = await run(spec, executor, timeline)
    assert result.status is BuildStatus.SUCCESS
    assert timeline.overlap("a", "b")
    assert timeline.started["c"] >= max(timeline.finished["a"], timeline.finished["b"])
    assert ("a", "a") in timeline.output and ("b", "b") in timeline.output


async def test_chain_order_is_respected(executor: Executor) -> None:
    timeline = Timeline()
    spec = job(
        step("last", "echo 3", depends_on=["middle"]),
        step("middle", "echo 2", depends_on=["first"]),
        step("first", "echo 1", "sleep 0.2"),
    )
    result = await run(spec, executor, timeline)
    assert result.status is BuildStatus.SUCCESS
    assert timeline.finished["first"] <= timeline.started["middle"]
    assert timeline.finished["middle"] <= timeline.started["last"]


async def test_failure_skips_dependants_but_runs_cleanup(executor: Executor) -> None:
    timeline = Timeline()
    spec = job(
        step("build", "exit 4"),
        step("other", "sleep 0.3"),
        step("test", "echo test", depends_on=["build"]),
        step(
            "cleanup", "echo cleanup", depends_on=["test", "other"], run_on=["success", "failure"]
        ),
        step("on-failure", "echo alert", depends_on=["cleanup"], run_on=["failure"]),
    )
    result = await run(spec, executor, timeline)
    assert (result.status, result.exit_code) == (BuildStatus.FAILURE, 4)
    assert result.error_message == "step 'build' failed with exit code 4"
    assert timeline.statuses == {
        "build": StepStatus.FAILURE,
        "other": StepStatus.SUCCESS,
        "test": StepStatus.SKIPPED,
        "cleanup": StepStatus.SUCCESS,
        "on-failure": StepStatus.SUCCESS,
    }
    assert timeline.started["cleanup"] >= timeline.finished["other"]


async def test_failure_only_step_is_skipped_on_success(executor: Executor) -> None:
    timeline = Timeline()
    spec = job(
        step("a", "echo a"),
        step("alert", "echo alert", depends_on=["a"], run_on=["failure"]),
        step("after", "echo after", depends_on=["alert"]),
    )
    result = await run(spec, executor, timeline)
    assert result.status is BuildStatus.SUCCESS
    assert timeline.statuses == {
        "a": StepStatus.SUCCESS,
        "alert": StepStatus.SKIPPED,
        "after": StepStatus.SUCCESS,
    }


async def test_max_parallel_steps_is_respected(executor: Executor) -> None:
    timeline = Timeline()
    spec = job(
        *[step(f"s{i}", "sleep 0.3") for i in range(5)],
        step("end", "echo end", depends_on=[f"s{i}" for i in range(5)]),
        max_parallel_steps=2,
    )
    result = await run(spec, executor, timeline)
    assert result.status is BuildStatus.SUCCESS
    events = sorted(
        [(t, 1) for n, t in timeline.started.items()]
        + [(t, -1) for n, t in timeline.finished.items()]
    )
    running = peak = 0
    for _, change in events:
        running += change
        peak = max(peak, running)
    assert peak == 2


async def test_error_wins_over_failure_and_cleanup_still_runs(executor: Executor) -> None:
    timeline = Timeline()
    spec = job(
        step("fails", "exit 2"),
        step("slow", "sleep 30", timeout_seconds=0.5),
        step("cleanup", "echo c", depends_on=["fails", "slow"], run_on=["success", "failure"]),
    )
    result = await run(spec, executor, timeline)
    assert result.status is BuildStatus.ERROR
    assert result.error_message == "step 'slow' timed out after 0.5s"
    assert timeline.statuses["cleanup"] is StepStatus.SUCCESS


async def test_cancel_destroys_every_running_step(executor: Executor) -> None:
    timeline = Timeline()
    cancel = asyncio.Event()
    spec = job(
        step("a", "echo a", "sleep 300"),
        step("b", "echo b", "sleep 300"),
        step("c", "echo c", depends_on=["a", "b"], run_on=["success", "failure"]),
    )
    running = asyncio.create_task(run_job(spec, executor, timeline, cancel))
    async with asyncio.timeout(10):
        while len({name for name, _ in timeline.output}) < 2:
            await asyncio.sleep(0.01)
    cancel.set()
    began = time.monotonic()
    result = await asyncio.wait_for(running, 5)
    assert time.monotonic() - began < 2
    assert result.status is BuildStatus.CANCELLED
    assert timeline.statuses == {
        "a": StepStatus.CANCELLED,
        "b": StepStatus.CANCELLED,
        "c": StepStatus.CANCELLED,
    }


async def test_a_cycle_in_a_hand_made_plan_errors(executor: Executor) -> None:
    timeline = Timeline()
    spec = job(step("a", "echo a", depends_on=["b"]), step("b", "echo b", depends_on=["a"]))
    result = await run(spec, executor, timeline)
    assert result.status is BuildStatus.ERROR
    assert result.error_message == "steps wait for each other in a cycle: a, b"
    assert timeline.statuses == {"a": StepStatus.SKIPPED, "b": StepStatus.SKIPPED}
