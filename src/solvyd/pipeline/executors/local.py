"""The ``local`` executor: each step is an ``sh`` process on this machine.

Like GitLab's shell executor it ignores ``image`` (and says so in the step's log): a job that
must run in a container should ask for the ``docker`` label instead.

Each step runs in its own session, hence its own process group, so that destroying a step can
signal everything it started, background children included, without touching the agent.

Where it can, each step runs in a sandbox (``sandbox.py``): ``isolation="auto"`` uses one when
this machine allows it and otherwise says so in one warning line at start; ``"bwrap"``
requires it; ``"none"`` runs steps as bare processes of the agent's user.
"""

import asyncio
import contextlib
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

import structlog

import solvyd
from solvyd.pipeline.executors.base import CHECKOUT_MODULE, Executor, ExecutorError
from solvyd.pipeline.executors.host_env import inherited_env, passthrough_env
from solvyd.pipeline.executors.lines import LineSplitter
from solvyd.pipeline.executors.sandbox import ISOLATION_MODES, Sandbox, build_sandbox, probe
from solvyd.pipeline.executors.workspace import HostWorkspaces, force_remove, shell_script
from solvyd.protocol.messages import JobSpec, StepSpec

_READ_CHUNK = 64 * 1024
_POLL_SECONDS = 0.02
_REAP_SECONDS = 5.0
# Steps create files as a login shell would, whatever stricter umask the agent's process has
# (``solvyd up`` keeps the server's data private with 077).
_STEP_UMASK = 0o022
# Without the sandbox, a step must still die with its agent, even on SIGKILL (issue 14, item
# 10): the step's stdin is a pipe whose only writer is the agent. A watcher in the step's
# process group, started before the step's own commands, waits for that pipe to close (the
# agent ended, however) and kills the group. It is a grandchild, so a step's `wait` does not
# wait for it, and the step's own stdin is /dev/null as before.
_DIE_WITH_AGENT = (
    "exec 9<&0 < /dev/null\n( ( read -r _ <&9; kill -9 0 ) > /dev/null 2>&1 & ) 9<&9\nexec 9<&-\n"
)
# A builtin checkout step: the agent's Python (``$0``) runs the checkout program.
_RUN_CHECKOUT = f'exec "$0" -m {CHECKOUT_MODULE}\n'
_AGENT_PACKAGE_ROOT = str(Path(solvyd.__file__).resolve().parents[1])
log = structlog.get_logger(__name__)


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
    # The agent's end of the pipe whose closing kills a bare step (see _DIE_WITH_AGENT).
    lifeline: int | None = None


class LocalExecutor(Executor):
    name = "local"

    def __init__(
        self,
        work_root: Path,
        *,
        isolation: str = "auto",
        hidden_paths: tuple[Path, ...] = (),
        kill_grace_seconds: float = 1.0,
        output_idle_seconds: float = 0.5,
        env_passthrough: tuple[str, ...] = (),
    ) -> None:
        """``isolation``: one of ``ISOLATION_MODES`` (see the module docstring).
        ``hidden_paths``: what steps must not see besides the work root (the server's data
        directory when the agent shares its machine).
        ``kill_grace_seconds``: how long a destroyed step has between SIGTERM and SIGKILL.
        ``output_idle_seconds``: once a step is killed, its output ends after this much
        silence even if a process that escaped its group still holds the pipe open.
        ``env_passthrough``: names of more of the agent's variables its steps get (checked
        names, see ``host_env``)."""
        if isolation not in ISOLATION_MODES:
            raise ExecutorError(
                f"unknown isolation '{isolation}' (known: {', '.join(ISOLATION_MODES)})"
            )
        self._workspaces = HostWorkspaces(work_root)
        self._isolation = isolation
        self._hidden = (self._workspaces.root, *hidden_paths)
        self._sandbox: Sandbox | None = None
        self._isolation_problem: str | None = None
        self._isolation_checked = False
        self._isolation_lock = asyncio.Lock()
        # Builds whose workspace already belongs to the steps' user.
        self._handed_over: set[UUID] = set()
        self._kill_grace = kill_grace_seconds
        self._output_idle = output_idle_seconds
        self._steps: dict[tuple[UUID, str], _Step] = {}
        self._env_passthrough = env_passthrough
        # Resolved once: a job may set its own PATH, and must still get a shell.
        self._sh = shutil.which("sh")

    async def check_available(self) -> str | None:
        if not self._sh:
            return "no 'sh' found on PATH"
        return await self._resolve_isolation()

    @property
    def sandboxed(self) -> bool:
        return self._sandbox is not None

    async def _resolve_isolation(self) -> str | None:
        """Decide once whether steps run in the sandbox; the problem if ``bwrap`` was asked
        for and cannot work. With ``auto`` and no sandbox, one warning line says so."""
        async with self._isolation_lock:
            if not self._isolation_checked:
                self._isolation_checked = True
                self._sandbox, why_not = await self._find_sandbox()
                if self._sandbox is None and self._isolation == "bwrap":
                    self._isolation_problem = f"steps cannot be isolated: {why_not}"
                elif self._sandbox is None:
                    log.warning(
                        "build steps are NOT isolated: they run as this agent's user and can "
                        "read what it can read (see docs/security.md)",
                        reason=why_not,
                    )
        return self._isolation_problem

    async def _find_sandbox(self) -> tuple[Sandbox | None, str]:
        if self._isolation == "none":
            return None, "isolation is 'none'"
        sandbox, why_not = build_sandbox(self._hidden)
        if sandbox is None:
            return None, why_not or "no sandbox"
        with tempfile.TemporaryDirectory(prefix="solvyd-probe-") as scratch:
            if sandbox.user is not None:
                os.chown(scratch, *sandbox.user)
            problem = await probe(sandbox, Path(scratch))
        if problem is not None:
            return None, f"bwrap cannot make a sandbox here: {problem}"
        return sandbox, ""

    def workspace(self, job: JobSpec) -> str:
        """The build's workspace directory (for this executor and its tests only)."""
        return str(self._workspaces.path(job))

    def _tmp(self, job: JobSpec) -> Path:
        # Beside the workspaces, so hidden with them; shared by a build's steps like /tmp.
        return self._workspaces.root / ".tmp" / self._workspaces.path(job).name

    async def setup_job(self, job: JobSpec) -> None:
        problem = await self._resolve_isolation()
        if problem is not None:
            raise ExecutorError(problem)
        await self._workspaces.create(job)
        if self._sandbox is not None:
            tmp = self._tmp(job)
            try:
                await asyncio.to_thread(_fresh_private_dir, tmp, self._sandbox.user)
            except OSError as exc:
                raise ExecutorError(f"cannot create the build's /tmp {tmp}: {exc}") from exc

    async def start_step(self, job: JobSpec, step: StepSpec) -> None:
        key = (job.build_id, step.name)
        if key in self._steps:
            raise ExecutorError(f"step '{step.name}' was already started")
        workspace = self.workspace(job)
        if self._sh is None:
            raise ExecutorError("no 'sh' found on PATH")
        # What a step's environment is made of, weakest first: see host_env.
        env = inherited_env() | passthrough_env(self._env_passthrough)
        script = shell_script(step.commands)
        argv = [self._sh, "-c", _DIE_WITH_AGENT + script]
        sandbox = self._sandbox
        if step.builtin == "checkout":
            # The agent's own program, run as the agent did it before there were builtin
            # steps: outside the sandbox (it needs the network and the agent's Python), with
            # the agent's environment, and dying with the agent like a bare step.
            env = dict(os.environ)
            # This agent's own solvyd, wherever it was imported from (a relative
            # PYTHONPATH would not reach it from the workspace).
            env["PYTHONPATH"] = os.pathsep.join(
                [_AGENT_PACKAGE_ROOT, *filter(None, [os.environ.get("PYTHONPATH")])]
            )
            argv = [self._sh, "-c", _DIE_WITH_AGENT + _RUN_CHECKOUT, sys.executable]
            sandbox = None
        elif sandbox is not None:
            if sandbox.user is not None:
                await self._hand_over(job, sandbox.user)
                # Root's home is out of reach for the steps' user: give it a writable one.
                env["HOME"] = "/tmp"  # noqa: S108 (the build's private /tmp)
            env.pop("TMPDIR", None)
            # The sandbox dies with the agent by itself (--die-with-parent).
            argv = sandbox.command([self._sh, "-c", script], Path(workspace), self._tmp(job))
        if step.builtin is None:
            env |= job.env
        env |= step.env | step.secret_env
        env |= {"SOLVYD_STEP_NAME": step.name, "SOLVYD_WORKSPACE": workspace}
        lifeline_read, lifeline = os.pipe() if sandbox is None else (None, None)
        read_fd, write_fd = os.pipe()
        try:
            # One pipe for stdout and stderr keeps their lines in the order they were written.
            process = await asyncio.create_subprocess_exec(
                *argv,
                cwd=workspace,
                env=env,
                stdin=asyncio.subprocess.DEVNULL if lifeline_read is None else lifeline_read,
                stdout=write_fd,
                stderr=write_fd,
                start_new_session=True,
                umask=_STEP_UMASK,
            )
        except BaseException as exc:
            os.close(read_fd)
            if lifeline is not None:
                os.close(lifeline)
            if isinstance(exc, OSError | ValueError):
                message = f"cannot start step '{step.name}' in {workspace}: {exc}"
                raise ExecutorError(message) from exc
            raise
        finally:
            # The child has its own copy; ours must go, or the output would never reach EOF.
            os.close(write_fd)
            if lifeline_read is not None:
                os.close(lifeline_read)
        reader = asyncio.StreamReader(limit=2 * _READ_CHUNK)
        try:
            transport, _ = await asyncio.get_running_loop().connect_read_pipe(
                lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(read_fd, "rb", buffering=0)
            )
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            if lifeline is not None:
                os.close(lifeline)
            raise
        note = None
        if step.image:
            note = (
                f"Note: the local executor ignores image '{step.image}'; "
                "the step runs directly on the agent's machine."
            )
        self._steps[key] = _Step(process, reader, transport, note, lifeline=lifeline)

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
        self._handed_over.discard(job.build_id)
        problem = await self._workspaces.remove(job)
        if problem:
            problems.append(problem)
        tmp = self._tmp(job)
        try:
            await asyncio.to_thread(force_remove, tmp)
        except OSError as exc:
            problems.append(f"cannot remove the build's /tmp {tmp}: {exc}")
        if problems:
            raise ExecutorError("; ".join(problems))

    async def _hand_over(self, job: JobSpec, user: tuple[int, int]) -> None:
        """Give the workspace to the steps' user, once per build, before its first step: the
        checkout before it ran as the agent."""
        if job.build_id in self._handed_over:
            return
        path = self._workspaces.path(job)
        try:
            await asyncio.to_thread(_chown_tree, path, user)
        except OSError as exc:
            raise ExecutorError(f"cannot hand the workspace {path} to the steps: {exc}") from exc
        self._handed_over.add(job.build_id)

    def _started(self, job: JobSpec, step: StepSpec) -> _Step:
        state = self._steps.get((job.build_id, step.name))
        if state is None:
            raise ExecutorError(f"step '{step.name}' was not started")
        return state

    async def _kill_group(self, state: _Step) -> None:
        if state.group_gone:
            # Once empty, the group id may be reused by an unrelated process: never signal it.
            return
        try:
            await self._signal_group(state.process.pid)
            state.group_gone = True
        finally:
            # Only now: closed earlier, it would SIGKILL the step before its grace was over.
            # Closed even when the group could not be stopped, so no descriptor leaks.
            if state.lifeline is not None:
                os.close(state.lifeline)
                state.lifeline = None

    async def _signal_group(self, group: int) -> None:
        for sig, patience in ((signal.SIGTERM, self._kill_grace), (signal.SIGKILL, _REAP_SECONDS)):
            try:
                if sig == signal.SIGTERM and self._sandbox is not None:
                    # bwrap would die of SIGTERM at once and take the sandbox with it
                    # (--die-with-parent): the step's own processes get it first, and their
                    # grace, as without the sandbox.
                    _signal_members(group, sig, spare=group)
                else:
                    os.killpg(group, sig)
            except ProcessLookupError:
                return
            except PermissionError as exc:
                raise ExecutorError(f"cannot stop the processes of a step: {exc}") from exc
            if await _group_ends(group, patience):
                return
        raise ExecutorError(f"processes of process group {group} survived SIGKILL")


def _fresh_private_dir(path: Path, owner: tuple[int, int] | None) -> None:
    force_remove(path)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.mkdir(mode=0o700)
    if owner is not None:
        os.chown(path, *owner)


def _chown_tree(root: Path, owner: tuple[int, int]) -> None:
    uid, gid = owner
    os.chown(root, uid, gid)
    for directory, dirs, files in os.walk(root):
        for name in dirs + files:
            os.chown(os.path.join(directory, name), uid, gid, follow_symlinks=False)


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
        return any(True for _ in _members(group))
    except OSError:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return False
        return True


def _signal_members(group: int, sig: int, *, spare: int) -> None:
    members = [pid for pid in _members(group) if pid != spare]
    if not members:
        # Only `spare` is left (or nothing): it may have it too.
        os.killpg(group, sig)
        return
    for pid in members:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def _members(group: int) -> Iterator[int]:
    """The live processes of a process group, as /proc shows them."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as file:
                fields = file.read().rpartition(b")")[2].split()
        except OSError:
            continue  # the process ended while we looked
        if len(fields) > 2 and int(fields[2]) == group and fields[0] not in (b"Z", b"X"):
            yield int(entry)
