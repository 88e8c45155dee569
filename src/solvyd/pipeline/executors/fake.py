"""The ``fake`` executor: runs no process; a step's commands are a tiny script, for tests.

Each command is one instruction (a multi-line command is one instruction per line):

=====================  ==========================================================
``echo TEXT``          output the line ``TEXT``
``env NAME``           output ``NAME=value`` as the step would see it (empty if unset)
``sleep SECONDS``      wait; a destroyed step stops at once
``exit N``             end the step with exit code ``N``
``fail-infra MESSAGE`` end the step with an infrastructure fault: ``wait_step`` raises
                       ``ExecutorError(MESSAGE)``
``write PATH TEXT``    put the file ``PATH`` (``TEXT`` and a newline) in the build's
                       workspace, which ``list_workspace`` and ``read_workspace_file`` show
``# ...``, blank       nothing
anything else          output ``fake: unknown command: ...`` and exit with 127
=====================  ==========================================================

A builtin checkout step with no commands prints what the checkout program ends with,
``solvyd-checkout: commit <sha>``: the ``commit_sha`` of its ``SOLVYD_CHECKOUT`` (forty zeros
if it names none); with commands, it runs them like any step.

Like the local executor, each command is printed as ``$ COMMAND`` before it runs, and the
script stops at the first one that fails. The step exits with 0 when the script runs out.

The fake is strict about the contract (a step started twice, before ``setup_job``, or its
output read twice is an ``ExecutorError``), so the runtime's tests catch a misuse, and it keeps
a log of the calls it received in ``calls`` for tests to assert on.
"""

import asyncio
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from uuid import UUID

from solvyd.pipeline.executors.base import Executor, ExecutorError, WorkspaceFile
from solvyd.protocol.messages import JobSpec, StepSpec

KILLED_EXIT_CODE = 137


@dataclass
class _Step:
    output: asyncio.Queue[str | None] = field(default_factory=asyncio.Queue)
    task: asyncio.Task[int] | None = None
    streamed: bool = False
    closed: bool = False

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.output.put_nowait(None)


class FakeExecutor(Executor):
    name = "fake"

    def __init__(
        self,
        *,
        unavailable: str | None = None,
        setup_error: str | None = None,
        setup_delay: float = 0.0,
    ) -> None:
        """``unavailable``: what ``check_available`` answers. ``setup_error``: ``setup_job``
        raises ``ExecutorError`` with it. ``setup_delay``: seconds ``setup_job`` takes."""
        self.calls: list[tuple[str, UUID, str | None]] = []
        self._unavailable = unavailable
        self._setup_error = setup_error
        self._setup_delay = setup_delay
        self._jobs: set[UUID] = set()
        self._steps: dict[tuple[UUID, str], _Step] = {}
        # Each build's workspace: what its steps wrote (`write`), by path.
        self.files: dict[UUID, dict[str, bytes]] = {}

    def calls_for(self, job: JobSpec) -> list[str]:
        """The verbs called for one build, e.g. ``["setup_job", "start_step:build", ...]``."""
        return [
            verb if step is None else f"{verb}:{step}"
            for verb, build_id, step in self.calls
            if build_id == job.build_id
        ]

    async def check_available(self) -> str | None:
        return self._unavailable

    def workspace(self, job: JobSpec) -> str:
        """Where the steps are told their workspace is (``SOLVYD_WORKSPACE``)."""
        return f"/fake-workspace/{job.build_id}"

    async def list_workspace(self, job: JobSpec) -> list[WorkspaceFile]:
        self.calls.append(("list_workspace", job.build_id, None))
        files = self.files.get(job.build_id, {})
        return [WorkspaceFile(path, len(files[path])) for path in sorted(files)]

    async def read_workspace_file(self, job: JobSpec, path: str) -> AsyncIterator[bytes]:
        self.calls.append(("read_workspace_file", job.build_id, path))
        content = self.files.get(job.build_id, {}).get(path)
        if content is None:
            raise ExecutorError(f"no file {path!r} in the workspace")
        for start in range(0, max(len(content), 1), 4096):
            yield content[start : start + 4096]

    async def setup_job(self, job: JobSpec) -> None:
        self.calls.append(("setup_job", job.build_id, None))
        if self._setup_delay:
            await asyncio.sleep(self._setup_delay)
        if self._setup_error is not None:
            raise ExecutorError(self._setup_error)
        self._jobs.add(job.build_id)

    async def start_step(self, job: JobSpec, step: StepSpec) -> None:
        self.calls.append(("start_step", job.build_id, step.name))
        if job.build_id not in self._jobs:
            raise ExecutorError(f"step '{step.name}' started before setup_job")
        key = (job.build_id, step.name)
        if key in self._steps:
            raise ExecutorError(f"step '{step.name}' was already started")
        state = _Step()
        self._steps[key] = state
        state.task = asyncio.create_task(self._run(job, step, state))

    async def stream_output(self, job: JobSpec, step: StepSpec) -> AsyncIterator[str]:
        state = self._started(job, step)
        if state.streamed:
            raise ExecutorError(f"the output of step '{step.name}' was already read")
        state.streamed = True
        while (line := await state.output.get()) is not None:
            yield line

    async def wait_step(self, job: JobSpec, step: StepSpec) -> int:
        task = self._started(job, step).task
        assert task is not None  # noqa: S101 - narrows a type; guards nothing
        try:
            # Shielded: a caller that gives up waiting must not kill the step; destroy_step does.
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            if task.cancelled():
                return KILLED_EXIT_CODE
            raise

    async def destroy_step(self, job: JobSpec, step: StepSpec) -> None:
        self.calls.append(("destroy_step", job.build_id, step.name))
        state = self._steps.get((job.build_id, step.name))
        if state is None or state.task is None:
            return
        state.task.cancel()
        await asyncio.wait({state.task}, timeout=5)
        # A task cancelled before it ever ran did not get to close its output.
        state.close()

    async def teardown_job(self, job: JobSpec) -> None:
        self.calls.append(("teardown_job", job.build_id, None))
        for key in [key for key in self._steps if key[0] == job.build_id]:
            state = self._steps.pop(key)
            if state.task is not None:
                state.task.cancel()
            state.close()
        self._jobs.discard(job.build_id)
        self.files.pop(job.build_id, None)

    def _started(self, job: JobSpec, step: StepSpec) -> _Step:
        state = self._steps.get((job.build_id, step.name))
        if state is None:
            raise ExecutorError(f"step '{step.name}' was not started")
        return state

    async def _run(self, job: JobSpec, step: StepSpec, state: _Step) -> int:
        env = job.env | step.env | step.secret_env
        env |= {"SOLVYD_STEP_NAME": step.name, "SOLVYD_WORKSPACE": self.workspace(job)}
        files = self.files.setdefault(job.build_id, {})
        try:
            if step.builtin == "checkout" and not step.commands:
                state.output.put_nowait(f"solvyd-checkout: commit {_checkout_sha(env)}")
                return 0
            for command in step.commands:
                state.output.put_nowait(f"$ {command}")
                for instruction in command.splitlines():
                    code = await _execute(instruction.strip(), env, state.output, files)
                    if code != 0:
                        return code
            return 0
        finally:
            state.close()


def _checkout_sha(env: dict[str, str]) -> str:
    try:
        sha = json.loads(env.get("SOLVYD_CHECKOUT") or "{}").get("commit_sha") or ""
    except (ValueError, AttributeError):
        sha = ""
    return sha if re.fullmatch(r"[0-9a-f]{40}", sha) else "0" * 40


async def _execute(
    instruction: str,
    env: dict[str, str],
    output: asyncio.Queue[str | None],
    files: dict[str, bytes],
) -> int:
    verb, _, argument = instruction.partition(" ")
    argument = argument.strip()
    if not instruction or instruction.startswith("#"):
        return 0
    try:
        if verb == "echo":
            output.put_nowait(argument)
        elif verb == "env":
            output.put_nowait(f"{argument}={env.get(argument, '')}")
        elif verb == "sleep":
            await asyncio.sleep(float(argument))
        elif verb == "exit":
            return int(argument)
        elif verb == "write":
            path, _, text = argument.partition(" ")
            files[path] = f"{text}\n".encode()
        elif verb == "fail-infra":
            raise ExecutorError(argument or "fake infrastructure failure")
        else:
            output.put_nowait(f"fake: unknown command: {instruction}")
            return 127
    except ValueError:
        output.put_nowait(f"fake: bad argument: {instruction}")
        return 2
    return 0
