"""The local executor's sandbox with real bubblewrap processes: what a step sees and does not
see, as which user, and that each attempt of a build has a workspace of its own. The e2e
proofs against real `solvyd up` and agents are in tests/e2e/test_step_isolation.py."""

import asyncio
import os
import pwd
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from solvyd.pipeline.executors.local import LocalExecutor
from solvyd.protocol import JobSpec, StepSpec


def make_job(*commands: str, attempt: int = 1, build_id: uuid.UUID | None = None) -> JobSpec:
    return JobSpec(
        build_id=build_id or uuid.uuid4(),
        build_number=1,
        job_id=uuid.uuid4(),
        job_name="sandboxed",
        attempt=attempt,
        steps=[StepSpec(name="s", commands=list(commands))],
    )


@pytest.fixture
def outside_tmp() -> Iterator[Path]:
    """A directory outside /tmp, which the sandbox replaces anyway: what is hidden there is
    hidden by the sandbox's own masking."""
    path = Path(tempfile.mkdtemp(prefix="solvyd-sandbox-test-", dir="/var/tmp"))
    yield path
    shutil.rmtree(path)


@pytest.fixture
async def sandboxed(outside_tmp: Path) -> AsyncIterator[LocalExecutor]:
    # Readable by anyone, so that only the sandbox's masking can keep the step out.
    os.chmod(outside_tmp, 0o755)  # noqa: S103
    hidden = outside_tmp / "server-data"
    hidden.mkdir(mode=0o755)
    (hidden / "secret-key").write_text("a-server-secret\n")
    os.chmod(hidden / "secret-key", 0o644)
    executor = LocalExecutor(outside_tmp / "work", isolation="bwrap", hidden_paths=(hidden,))
    assert await executor.check_available() is None
    assert executor.sandboxed
    yield executor


async def run(executor: LocalExecutor, job: JobSpec, before: str = "") -> tuple[str, int]:
    step = job.steps[0]
    await executor.setup_job(job)
    try:
        if before:
            Path(executor.workspace(job), "from-checkout").write_text(before)
        await executor.start_step(job, step)
        output = asyncio.create_task(_collect(executor.stream_output(job, step)))
        code = await asyncio.wait_for(executor.wait_step(job, step), 20)
        await executor.destroy_step(job, step)
        return "\n".join(await asyncio.wait_for(output, 20)), code
    finally:
        await executor.teardown_job(job)


async def _collect(lines: AsyncIterator[str]) -> list[str]:
    return [line async for line in lines]


async def test_a_step_sees_its_workspace_and_not_the_work_root_or_hidden_paths(
    sandboxed: LocalExecutor, outside_tmp: Path
) -> None:
    other = make_job("true")
    await sandboxed.setup_job(other)  # another build's workspace, beside this one's
    try:
        job = make_job(
            'cat "$SOLVYD_WORKSPACE/from-checkout"; echo',
            'echo made > "$SOLVYD_WORKSPACE/by-step" && cat "$SOLVYD_WORKSPACE/by-step"',
            f"cat {outside_tmp / 'server-data' / 'secret-key'} 2> /dev/null || echo no-secret",
            f"test -e {sandboxed.workspace(other)} || echo no-other-workspace",
            f"ls {outside_tmp / 'work'} 2> /dev/null || echo work-root-unlisted",
            "echo tmp > /tmp/t && cat /tmp/t",
        )
        output, code = await run(sandboxed, job, before="checked out")
    finally:
        await sandboxed.teardown_job(other)
    assert code == 0, output
    lines = [line for line in output.splitlines() if not line.startswith("$ ")]
    assert lines == [
        "checked out",
        "made",
        "no-secret",
        "no-other-workspace",
        "work-root-unlisted",
        "tmp",
    ], output


async def test_a_step_runs_in_its_own_pid_namespace_as_an_unprivileged_user(
    sandboxed: LocalExecutor,
) -> None:
    output, code = await run(sandboxed, make_job("id -u", "ls -d /proc/[0-9]* | wc -l"))
    assert code == 0, output
    uid, processes = [line for line in output.splitlines() if not line.startswith("$ ")]
    expected = pwd.getpwnam("nobody").pw_uid if os.geteuid() == 0 else os.geteuid()
    assert int(uid) == expected
    assert int(processes) < 5


async def test_each_attempt_of_a_build_has_its_own_workspace(tmp_path: Path) -> None:
    executor = LocalExecutor(tmp_path / "work", isolation="none")
    build_id = uuid.uuid4()
    first, retry = make_job(attempt=1, build_id=build_id), make_job(attempt=2, build_id=build_id)
    assert executor.workspace(first) != executor.workspace(retry)
    await executor.setup_job(first)
    Path(executor.workspace(first), "of-attempt-1").write_text("still running")
    await executor.setup_job(retry)
    # The retry neither ran in nor deleted the earlier attempt's directory.
    assert Path(executor.workspace(first), "of-attempt-1").exists()
    assert not any(Path(executor.workspace(retry)).iterdir())
    await executor.teardown_job(retry)
    await executor.teardown_job(first)


async def test_none_runs_steps_as_the_agents_user_in_its_pid_namespace(tmp_path: Path) -> None:
    executor = LocalExecutor(tmp_path / "work", isolation="none")
    assert await executor.check_available() is None
    assert not executor.sandboxed
    output, code = await run(executor, make_job("id -u"))
    assert code == 0
    assert str(os.geteuid()) in output.splitlines()
