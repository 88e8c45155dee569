"""The local executor with real processes: what the contract suite cannot say for every backend."""

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from solvyd.pipeline.executors.lines import LineSplitter
from solvyd.pipeline.executors.local import LocalExecutor
from solvyd.pipeline.executors.workspace import shell_script
from solvyd.protocol import JobSpec, StepSpec


@pytest.fixture
async def executor(tmp_path: Path) -> AsyncIterator[LocalExecutor]:
    # Bare processes: these tests watch the step's pids, which a sandbox's PID namespace
    # renumbers. tests/unit/pipeline/test_sandbox.py covers the sandbox.
    yield LocalExecutor(tmp_path / "work", isolation="none")


def make_job(
    *commands: str, env: dict[str, str] | None = None, image: str | None = None
) -> JobSpec:
    return JobSpec(
        build_id=uuid.uuid4(),
        build_number=7,
        job_id=uuid.uuid4(),
        job_name="local",
        env=env or {},
        steps=[StepSpec(name="build", commands=list(commands), image=image)],
    )


async def run(executor: LocalExecutor, job: JobSpec) -> tuple[list[str], int]:
    step = job.steps[0]
    await executor.setup_job(job)
    try:
        await executor.start_step(job, step)
        output = asyncio.create_task(_collect(executor.stream_output(job, step)))
        code = await asyncio.wait_for(executor.wait_step(job, step), 20)
        await executor.destroy_step(job, step)
        return await asyncio.wait_for(output, 20), code
    finally:
        await executor.teardown_job(job)


async def _collect(lines: AsyncIterator[str]) -> list[str]:
    return [line async for line in lines]


def process_gone(pid: int) -> bool:
    """Gone, or a zombie: this machine's init does not reap orphans, and a zombie runs nothing."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as file:
            return file.read().rpartition(")")[2].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


async def test_stdout_and_stderr_keep_their_order(executor: LocalExecutor) -> None:
    lines, code = await run(
        executor, make_job("echo out-1; echo err-1 >&2; echo out-2; echo err-2 >&2")
    )
    assert code == 0
    assert [line for line in lines if not line.startswith("$ ")] == [
        "out-1",
        "err-1",
        "out-2",
        "err-2",
    ]


async def test_each_command_is_echoed_before_it_runs(executor: LocalExecutor) -> None:
    lines, _ = await run(executor, make_job("echo first", "echo 'second one'"))
    assert lines == ["$ echo first", "first", "$ echo 'second one'", "second one"]


async def test_the_first_failing_command_ends_the_step(executor: LocalExecutor) -> None:
    lines, code = await run(executor, make_job("echo a", "false", "echo b"))
    assert code == 1
    assert "a" in lines and "b" not in lines
    lines, code = await run(executor, make_job("echo a; exit 42; echo c"))
    assert code == 42
    assert "c" not in lines


async def test_env_has_job_step_and_runtime_variables_and_little_else(
    executor: LocalExecutor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENT_SECRET", "do-not-leak")
    job = make_job("env", env={"JOB_VAR": "job value", "SHARED": "job"})
    job.steps[0].env = {"SHARED": "step"}
    lines, code = await run(executor, job)
    assert code == 0
    env = dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("$"))
    assert env["JOB_VAR"] == "job value"
    assert env["SHARED"] == "step"
    assert env["SOLVYD_STEP_NAME"] == "build"
    assert env["SOLVYD_WORKSPACE"] == executor.workspace(job)
    assert "PATH" in env
    assert "AGENT_SECRET" not in env


async def test_steps_run_in_the_build_workspace(executor: LocalExecutor, tmp_path: Path) -> None:
    job = make_job("pwd", "touch made-here")
    lines, _ = await run(executor, job)
    assert lines[1] == executor.workspace(job)
    assert executor.workspace(job).startswith(str(tmp_path / "work"))
    assert not Path(executor.workspace(job)).exists()  # teardown removed it


async def test_teardown_removes_read_only_directories(executor: LocalExecutor) -> None:
    job = make_job("mkdir -p cache/mod", "touch cache/mod/file", "chmod -R a-w cache")
    _, code = await run(executor, job)
    assert code == 0
    assert not Path(executor.workspace(job)).exists()


async def test_image_is_ignored_and_said_so_first(executor: LocalExecutor) -> None:
    lines, code = await run(executor, make_job("echo hi", image="python:3.11"))
    assert code == 0
    assert "ignores image 'python:3.11'" in lines[0]
    assert lines[1:] == ["$ echo hi", "hi"]


async def test_a_200_kb_line_arrives_intact(executor: LocalExecutor) -> None:
    lines, code = await run(
        executor, make_job("head -c 204800 /dev/zero | tr '\\0' x; echo; echo after")
    )
    assert code == 0
    assert "x" * 204800 in lines
    assert lines[-1] == "after"


async def test_invalid_utf8_is_replaced_not_fatal(executor: LocalExecutor) -> None:
    lines, code = await run(executor, make_job("printf 'bad \\377 byte\\n'"))
    assert code == 0
    assert "bad \ufffd byte" in lines


async def test_destroy_kills_background_children_too(executor: LocalExecutor) -> None:
    job = make_job("sleep 300 & echo child=$!", "wait")
    step = job.steps[0]
    await executor.setup_job(job)
    try:
        await executor.start_step(job, step)
        lines = executor.stream_output(job, step)
        child = 0
        async for line in lines:
            if line.startswith("child="):
                child = int(line.removeprefix("child="))
                break
        assert child and not process_gone(child)

        began = time.monotonic()
        await executor.destroy_step(job, step)
        assert time.monotonic() - began < 2
        assert await asyncio.wait_for(executor.wait_step(job, step), 5) == 128 + 15
        assert process_gone(child)
        await asyncio.wait_for(_collect(lines), 5)
    finally:
        await executor.teardown_job(job)


@pytest.mark.parametrize("isolation", ["none", "bwrap"])
async def test_a_step_that_ignores_sigterm_is_killed(tmp_path: Path, isolation: str) -> None:
    executor = LocalExecutor(tmp_path / "work", isolation=isolation, kill_grace_seconds=0.3)
    job = make_job("trap '' TERM; echo ready; while :; do sleep 0.05; done")
    step = job.steps[0]
    await executor.setup_job(job)
    try:
        await executor.start_step(job, step)
        lines = executor.stream_output(job, step)
        async for line in lines:
            if line == "ready":
                break
        await asyncio.wait_for(executor.destroy_step(job, step), 5)
        assert await asyncio.wait_for(executor.wait_step(job, step), 5) == 128 + 9
    finally:
        await executor.teardown_job(job)


async def test_output_held_open_by_an_escaped_process_still_ends(executor: LocalExecutor) -> None:
    # setsid puts the sleeper outside the step's process group, out of destroy_step's reach;
    # it keeps the output pipe open, and the stream must end anyway.
    job = make_job("setsid sleep 3 & echo started")
    step = job.steps[0]
    await executor.setup_job(job)
    try:
        await executor.start_step(job, step)
        output = asyncio.create_task(_collect(executor.stream_output(job, step)))
        assert await asyncio.wait_for(executor.wait_step(job, step), 5) == 0
        await executor.destroy_step(job, step)
        assert "started" in await asyncio.wait_for(output, 2)
    finally:
        await executor.teardown_job(job)


async def test_a_missing_workspace_is_an_executor_error(executor: LocalExecutor) -> None:
    from solvyd.pipeline.executors import ExecutorError

    job = make_job("true")
    with pytest.raises(ExecutorError, match="cannot start step 'build'"):
        await executor.start_step(job, job.steps[0])


def test_shell_script_quotes_the_echoed_command() -> None:
    script = shell_script(["echo 'it''s' $HOME"])
    assert script.splitlines()[0] == "set -e"
    assert "printf '%s\\n' '$ echo '\"'\"'it'\"'\"''\"'\"'s'\"'\"' $HOME'" in script


def test_line_splitter_handles_split_chunks_and_long_lines() -> None:
    splitter = LineSplitter(max_line_bytes=7)
    assert splitter.feed(b"ab") == []
    assert splitter.feed(b"c\r\nde") == ["abc"]
    # Cut before 7 bytes, so that no two-byte character is split in half.
    assert splitter.feed(b"\n" + "é".encode() * 5) == ["de", "ééé"]
    assert splitter.feed(b"\n") == ["éé"]
    assert splitter.feed(b"tail") == []
    assert splitter.flush() == ["tail"]
    assert splitter.flush() == []
