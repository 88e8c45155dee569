"""The docker executor against a real engine (``.ci/run`` starts one and builds the image).

The executor contract is checked in ``test_executor_contract.py``; here, what only containers
do: a shared bind-mounted workspace, images, limits, and nothing left running."""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path

import pytest
from tests.support.docker_engine import TEST_IMAGE, client, containers_of_build, require_docker

from solvyd.pipeline.executors import ExecutorError
from solvyd.pipeline.executors.docker import DockerExecutor
from solvyd.pipeline.runtime import StepResult, run_job
from solvyd.protocol import BuildStatus, JobSpec, StepSpec, StepStatus


@pytest.fixture
def executor(tmp_path: Path) -> Iterator[DockerExecutor]:
    require_docker()
    yield DockerExecutor(tmp_path / "work")


def step(name: str, *commands: str, **fields: object) -> StepSpec:
    return StepSpec.model_validate(
        {"name": name, "commands": list(commands), "image": TEST_IMAGE, **fields}
    )


def make_job(*steps: StepSpec, env: dict[str, str] | None = None) -> JobSpec:
    return JobSpec(
        build_id=uuid.uuid4(),
        build_number=1,
        job_id=uuid.uuid4(),
        job_name="docker",
        env=env or {},
        steps=list(steps),
    )


async def collect(lines: AsyncIterator[str]) -> list[str]:
    return [line async for line in lines]


async def run_step(executor: DockerExecutor, job: JobSpec, spec: StepSpec) -> tuple[list[str], int]:
    await asyncio.wait_for(executor.start_step(job, spec), 30)
    output = asyncio.create_task(collect(executor.stream_output(job, spec)))
    code = await asyncio.wait_for(executor.wait_step(job, spec), 30)
    lines = await asyncio.wait_for(output, 10)
    await asyncio.wait_for(executor.destroy_step(job, spec), 15)
    return lines, code


async def run_steps(executor: DockerExecutor, job: JobSpec) -> list[tuple[list[str], int]]:
    await executor.setup_job(job)
    try:
        return [await run_step(executor, job, spec) for spec in job.steps]
    finally:
        await asyncio.wait_for(executor.teardown_job(job), 30)


async def wait_until_running(build_id: uuid.UUID, timeout: float = 10) -> str:
    """The id of the build's container once the engine reports it running."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        engine = client()
        try:
            found = engine.containers.list(filters={"label": f"solvyd.build={build_id}"})
        finally:
            engine.close()
        if found:
            return found[0].id or ""
        await asyncio.sleep(0.05)
    raise AssertionError(f"no running container of build {build_id} within {timeout} s")


async def test_a_step_succeeds_and_its_output_arrives(executor: DockerExecutor) -> None:
    job = make_job(step("hello", "echo hello from busybox", "echo to-stderr >&2"))
    [(lines, code)] = await run_steps(executor, job)
    assert code == 0
    assert lines.index("$ echo hello from busybox") < lines.index("hello from busybox")
    assert "to-stderr" in lines
    assert containers_of_build(job.build_id) == []


async def test_a_failing_command_gives_its_exit_code(executor: DockerExecutor) -> None:
    job = make_job(step("fail", "echo before", "exit 7", "echo never"))
    [(lines, code)] = await run_steps(executor, job)
    assert code == 7
    assert "before" in lines
    assert "never" not in lines


async def test_env_vars_reach_the_container(executor: DockerExecutor) -> None:
    spec = step(
        "env-check",
        'echo "A=$A B=$B"',
        'echo "name=$SOLVYD_STEP_NAME ws=$SOLVYD_WORKSPACE pwd=$(pwd)"',
        env={"B": "from step"},
    )
    job = make_job(spec, env={"A": "from job", "B": "from job"})
    [(lines, code)] = await run_steps(executor, job)
    assert code == 0
    assert "A=from job B=from step" in lines
    assert "name=env-check ws=/workspace pwd=/workspace" in lines


async def test_passthrough_variables_reach_the_container_below_the_jobs_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_docker()
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    monkeypatch.setenv("NO_PROXY", "host-value")
    monkeypatch.setenv("NOT_NAMED", "host-only")
    executor = DockerExecutor(tmp_path / "work", env_passthrough=("HTTPS_PROXY", "NO_PROXY"))
    spec = step("env", 'echo "proxy=$HTTPS_PROXY no=$NO_PROXY other=${NOT_NAMED-unset}"')
    job = make_job(spec, env={"NO_PROXY": "from job"})
    [(lines, code)] = await run_steps(executor, job)
    assert code == 0
    assert "proxy=http://proxy.invalid:3128 no=from job other=unset" in lines


async def test_a_file_written_in_one_step_is_read_in_the_next(executor: DockerExecutor) -> None:
    job = make_job(
        step("write", "echo handed-over > note.txt", "mkdir -p out && echo deep > out/x"),
        step("read", "cat note.txt", "cat out/x"),
    )
    await executor.setup_job(job)
    try:
        (_, first), (lines, second) = [await run_step(executor, job, s) for s in job.steps]
        # The workspace on the host is the one the containers saw.
        host_file = Path(executor.workspace(job)) / "note.txt"
        assert host_file.read_text() == "handed-over\n"
    finally:
        await asyncio.wait_for(executor.teardown_job(job), 30)
    assert (first, second) == (0, 0)
    assert "handed-over" in lines
    assert "deep" in lines
    # Files the containers made (owned by their root) are gone with the workspace.
    assert not Path(executor.workspace(job)).exists()


async def test_destroying_a_running_step_removes_its_container(executor: DockerExecutor) -> None:
    spec = step("sleepy", "echo sleeping", "sleep 60")
    job = make_job(spec)
    await executor.setup_job(job)
    try:
        await asyncio.wait_for(executor.start_step(job, spec), 30)
        output = asyncio.create_task(collect(executor.stream_output(job, spec)))
        waiting = asyncio.create_task(executor.wait_step(job, spec))
        await wait_until_running(job.build_id)
        await asyncio.sleep(0.3)
        assert not waiting.done()

        began = time.monotonic()
        await asyncio.wait_for(executor.destroy_step(job, spec), 5)
        assert containers_of_build(job.build_id) == []
        assert time.monotonic() - began < 2.0

        await asyncio.wait_for(waiting, 5)
        assert "sleeping" in await asyncio.wait_for(output, 5)
    finally:
        await asyncio.wait_for(executor.teardown_job(job), 30)


class Recorder:
    def __init__(self) -> None:
        self.lines: list[str] = []

    async def step_started(self, step: StepSpec, started_at: datetime) -> None:
        pass

    async def step_output(self, step: StepSpec, text: str) -> None:
        self.lines.append(text)

    async def step_finished(self, step: StepSpec, result: StepResult) -> None:
        pass


async def test_a_step_timeout_ends_the_build_and_its_container(executor: DockerExecutor) -> None:
    job = make_job(step("slow", "echo started", "sleep 60", timeout_seconds=1.5))
    recorder = Recorder()
    began = time.monotonic()
    result = await asyncio.wait_for(run_job(job, executor, recorder, asyncio.Event()), 30)
    assert time.monotonic() - began < 15
    assert result.status is BuildStatus.ERROR
    assert result.steps["slow"].status is StepStatus.ERROR
    assert "timed out" in (result.error_message or "")
    assert "started" in recorder.lines
    assert containers_of_build(job.build_id) == []


async def test_a_missing_image_is_an_executor_error_quickly(executor: DockerExecutor) -> None:
    image = f"solvyd-test/no-such-image-{uuid.uuid4().hex[:8]}:latest"
    spec = StepSpec(name="ghost", commands=["echo hi"], image=image)
    job = make_job(spec)
    await executor.setup_job(job)
    try:
        began = time.monotonic()
        with pytest.raises(ExecutorError, match=f"image {image} not found"):
            await asyncio.wait_for(executor.start_step(job, spec), 30)
        assert time.monotonic() - began < 15
        await asyncio.wait_for(executor.destroy_step(job, spec), 5)
        with pytest.raises(ExecutorError):
            await executor.wait_step(job, spec)
    finally:
        await asyncio.wait_for(executor.teardown_job(job), 30)
    assert containers_of_build(job.build_id) == []


async def test_a_step_without_image_is_refused(executor: DockerExecutor) -> None:
    spec = StepSpec(name="bare", commands=["echo hi"])
    job = make_job(spec)
    await executor.setup_job(job)
    try:
        with pytest.raises(ExecutorError, match=r"step bare has no image.*--default-image"):
            await executor.start_step(job, spec)
    finally:
        await executor.teardown_job(job)


async def test_a_default_image_runs_only_the_steps_that_name_none(tmp_path: Path) -> None:
    require_docker()
    assert not DockerExecutor(tmp_path / "plain").runs_steps_without_image
    executor = DockerExecutor(tmp_path / "work", default_image=TEST_IMAGE)
    assert executor.runs_steps_without_image
    bare = StepSpec(name="bare", commands=["echo in $SOLVYD_WORKSPACE"])
    named = step("named", "echo named")
    [(bare_lines, bare_code), (named_lines, named_code)] = await run_steps(
        executor, make_job(bare, named)
    )
    assert (bare_code, named_code) == (0, 0)
    assert bare_lines[0] == f"Using the agent's default image {TEST_IMAGE} (the step names none)"
    assert bare_lines[-1] == "in /workspace"
    assert not [line for line in named_lines if "default image" in line]
    assert named_lines[-1] == "named"


async def test_cpu_and_memory_limits_are_applied(executor: DockerExecutor) -> None:
    spec = step("limited", "sleep 30", cpus=0.5, memory_bytes=64 * 1024 * 1024)
    job = make_job(spec)
    await executor.setup_job(job)
    try:
        await asyncio.wait_for(executor.start_step(job, spec), 30)
        output = asyncio.create_task(collect(executor.stream_output(job, spec)))
        container = await wait_until_running(job.build_id)
        engine = client()
        try:
            attrs = engine.api.inspect_container(container)
        finally:
            engine.close()
        assert attrs["HostConfig"]["NanoCpus"] == 500_000_000
        assert attrs["HostConfig"]["Memory"] == 64 * 1024 * 1024
        assert attrs["Config"]["Labels"]["solvyd.step"] == "limited"
        await asyncio.wait_for(executor.destroy_step(job, spec), 5)
        await asyncio.wait_for(output, 5)
    finally:
        await asyncio.wait_for(executor.teardown_job(job), 30)


async def test_teardown_removes_containers_it_does_not_know(
    executor: DockerExecutor, tmp_path: Path
) -> None:
    spec = step("orphan", "sleep 60")
    job = make_job(spec)
    await executor.setup_job(job)
    await asyncio.wait_for(executor.start_step(job, spec), 30)
    await wait_until_running(job.build_id)
    # Another executor object (an agent restarted) tears the build down.
    await asyncio.wait_for(DockerExecutor(tmp_path / "work").teardown_job(job), 30)
    assert containers_of_build(job.build_id) == []
    await asyncio.wait_for(executor.teardown_job(job), 30)


async def test_check_available_says_why_without_an_engine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-such.sock")
    began = time.monotonic()
    problem = await DockerExecutor(tmp_path).check_available()
    assert problem is not None
    assert "no-such.sock" in problem
    assert time.monotonic() - began < 12


async def test_check_available_answers_none_with_an_engine(executor: DockerExecutor) -> None:
    assert await executor.check_available() is None
