"""The ``local`` executor: each step is an ``sh`` process on this machine.

Like GitLab's shell executor it ignores ``image`` (and says so in the step's log): a job that
must run in a container should ask for the ``docker`` label instead.

Each step runs in its own session, hence its own process group, so that destroying a step can
signal everything it started, background children included, without touching the agent.
"""

import asyncio
import contextlib
import os
import shutil
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

from solvyd.pipeline.executors.base import Executor, ExecutorError
from solvyd.pipeline.executors.lines import LineSplitter
from solvyd.pipeline.executors.workspace import HostWorkspaces, shell_script
from solvyd.protocol.messages import JobSpec, StepSpec

# The only variables a step inherits from the agent: enough for a working shell, and none of
# the agent's own settings or tokens.
INHERITED_ENV = ("PATH", "HOME", "LANG", "TMPDIR")
_READ_CHUNK = 64 * 1024
_POLL_SECONDS = 0.02
_REAP_SECONDS = 5.0


@dataclass
class _Step:
    process: asyncio.subprocess.Process
    output: asyncio.StreamReader
    transport: asyncio.ReadTransport
    note: str | None
    streamed: bool = False
    killed: bool = False
    group_gone: bool = False
    read_scope: asyncio.Timeout | None = None


class LocalExecutor(Executor):
    name = "local"

    def __init__(
        self,
        work_root: Path,
        *,
        kill_grace_seconds: float = 1.0,
        output_idle_seconds: float = 0.5,
    ) -> None:
        """``kill_grace_seconds``: how long a destroyed step has between SIGTERM and SIGKILL.
        ``output_idle_seconds``: once a step is killed, its output ends after this much
        silence even if a process that escaped its group still holds the pipe open."""
        self._workspaces = HostWorkspaces(work_root)
        self._kill_grace = kill_grace_seconds
        self._output_idle = output_idle_seconds
        self._steps: dict[tuple[UUID, str], _Step] = {}
        # Resolved once: a job may set its own PATH, and must still get a shell.
        self._sh = shutil.which("sh")

    async def check_available(self) -> str | None:
        return None if self._sh else "no 'sh' found on PATH"

    def workspace(self, job: JobSpec) -> str:
        return str(self._workspaces.path(job))

    async def setup_job(self, job: JobSpec) -> None:
        await self._workspaces.create(job)

    async def start_step(self, job: JobSpec, step: StepSpec) -> None:
        key = (job.build_id, step.name)
        if key in self._steps:
            raise ExecutorError(f"step '{step.name}' was already started")
        workspace = self.workspace(job)
        if self._sh is None:
            raise ExecutorError("no 'sh' found on PATH")
        env = {name: os.environ[name] for name in INHERITED_ENV if name in os.environ}
        env.setdefault("PATH", os.defpath)
        env |= job.env | step.env
        env |= {"SOLVYD_STEP_NAME": step.name, "SOLVYD_WORKSPACE": workspace}
        read_fd, write_fd = os.pipe()
        try:
            # One pipe for stdout and stderr keeps their lines in the order they were written.
            process = await asyncio.create_subprocess_exec(
                self._sh,
                "-c",
                shell_script(step.commands),
                cwd=workspace,
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=write_fd,
                stderr=write_fd,
                start_new_session=True,
            )
        except BaseException as exc:
            os.close(read_fd)
            if isinstance(exc, OSError | ValueError):
                message = f"cannot start step '{step.name}' in {workspace}: {exc}"
                raise ExecutorError(message) from exc
            raise
        finally:
            # The child has its own copy; ours must go, or the output would never reach EOF.
            os.close(write_fd)
        reader = asyncio.StreamReader(limit=2 * _READ_CHUNK)
        try:
            transport, _ = await asyncio.get_running_loop().connect_read_pipe(
                lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(read_fd, "rb", buffering=0)
            )
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            raise
        note = None
        if step.image:
            note = (
                f"Note: the local executor ignores image '{step.image}'; "
                "the step runs directly on the agent's machine."
            )
        self._steps[key] = _Step(process, reader, transport, note)

    async def stream_output(self, job: JobSpec, step: StepSpec) -> AsyncIterator[str]:
        state = self._started(job, step)
        if state.streamed:
            raise ExecutorError(f"the output of step '{step.name}' was already read")
        state.streamed = True
        if state.note:
            yield state.note
        loop = asyncio.get_running_loop()
        splitter = LineSplitter()
        try:
            while True:
                try:
                    async with asyncio.timeout(None) as scope:
                        state.read_scope = scope
                        if state.killed:
                            scope.reschedule(loop.time() + self._output_idle)
                        chunk = await state.output.read(_READ_CHUNK)
                except TimeoutError:
                    break
                finally:
                    state.read_scope = None
                if not chunk:
                    break
                for line in splitter.feed(chunk):
                    yield line
            for line in splitter.flush():
                yield line
        finally:
            state.transport.close()

    async def wait_step(self, job: JobSpec, step: StepSpec) -> int:
        code = await self._started(job, step).process.wait()
        # Like a shell: killed by signal N is 128 + N (e.g. 137 for SIGKILL by the OOM killer).
        return 128 - code if code < 0 else code

    async def destroy_step(self, job: JobSpec, step: StepSpec) -> None:
        state = self._steps.get((job.build_id, step.name))
        if state is None:
            return
        await self._kill_group(state)
        state.killed = True
        if state.read_scope is not None:
            # Wake a read that would otherwise wait for a process outside the group.
            state.read_scope.reschedule(asyncio.get_running_loop().time() + self._output_idle)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(_REAP_SECONDS):
                await state.process.wait()

    async def teardown_job(self, job: JobSpec) -> None:
        problems: list[str] = []
        for key in [key for key in self._steps if key[0] == job.build_id]:
            state = self._steps.pop(key)
            try:
                await self._kill_group(state)
            except ExecutorError as exc:
                problems.append(str(exc))
            state.transport.close()
        problem = await self._workspaces.remove(job)
        if problem:
            problems.append(problem)
        if problems:
            raise ExecutorError("; ".join(problems))

    def _started(self, job: JobSpec, step: StepSpec) -> _Step:
        state = self._steps.get((job.build_id, step.name))
        if state is None:
            raise ExecutorError(f"step '{step.name}' was not started")
        return state

    async def _kill_group(self, state: _Step) -> None:
        if state.group_gone:
            # Once empty, the group id may be reused by an unrelated process: never signal it.
            return
        group = state.process.pid
        for sig, patience in ((signal.SIGTERM, self._kill_grace), (signal.SIGKILL, _REAP_SECONDS)):
            try:
                os.killpg(group, sig)
            except ProcessLookupError:
                break
            except PermissionError as exc:
                raise ExecutorError(f"cannot stop the processes of a step: {exc}") from exc
            if await _group_ends(group, patience):
                break
        else:
            raise ExecutorError(f"processes of process group {group} survived SIGKILL")
        state.group_gone = True


async def _group_ends(group: int, timeout: float) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while _group_alive(group):
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(_POLL_SECONDS)
    return True


def _group_alive(group: int) -> bool:
    """Whether a live process is in the group. Zombies do not count: an orphan's zombie waits
    for init to reap it, and some inits (in containers, microVMs) never do."""
    try:
        entries = os.listdir("/proc")
    except OSError:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return False
        return True
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as file:
                fields = file.read().rpartition(b")")[2].split()
        except OSError:
            continue  # the process ended while we looked
        if len(fields) > 2 and int(fields[2]) == group and fields[0] not in (b"Z", b"X"):
            return True
    return False
