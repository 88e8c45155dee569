"""The executor contract: how the runtime runs the steps of one build on some backend.

Every backend (local processes, Docker, Kubernetes, the scripted fake) implements the same few
verbs and passes the same contract tests (``tests/unit/pipeline/test_executor_contract.py``).

Order of calls, for one build::

    check_available()                        # any time; a probe with no side effects
    setup_job(job)                           # once
    for each step, one after the other:
        start_step(job, step)
        stream_output(job, step)  } run concurrently: output must be consumed while the
        wait_step(job, step)      } step runs, or a backend may block on a full pipe
        destroy_step(job, step)              # always, also after a normal exit
    list_workspace(job), read_workspace_file(job, path)   # after the steps (artifacts)
    teardown_job(job)                        # always, even if setup_job failed or was cancelled

Cancellation and timeouts are ``destroy_step`` called from another task while ``stream_output``
and ``wait_step`` are pending: after it returns, ``stream_output`` ends and ``wait_step``
returns promptly (its exit code is then meaningless: the runtime knows why the step ended).
``destroy_step`` never discards output the step already wrote: ``stream_output`` still yields
it before it ends. That is why the runtime may destroy a step as soon as ``wait_step`` returns,
which also ends output held open by whatever the step left running in the background.

Concurrency: one executor object serves many builds at once; calls for different builds may
interleave freely. Within a build, calls for a step are made in the order above, except that
``destroy_step`` may run while ``stream_output`` or ``wait_step`` is pending. A step is known
by ``(job.build_id, step.name)``; names are unique within a job.

Idempotence: ``destroy_step`` and ``teardown_job`` may be called any number of times, and when
the thing they free never existed (a step never started, a setup that failed). Neither raises
for that; they raise ``ExecutorError`` only when freeing really failed.

Builtin steps: a step with ``builtin`` set was added by the agent, not written by a user, and
the backend runs its own program for it instead of ``commands``. The one kind is
``"checkout"``: ``python -m solvyd.agent.checkout_program`` with the workspace as its working
directory (on the host for ``local``; in a container of the executor's checkout image for the
container backends, which has python, solvyd and git). Its env is ``step.env`` and
``step.secret_env`` over the backend's own (never ``job.env``, which is the pipeline's); the
program reads ``SOLVYD_CHECKOUT`` and ``SOLVYD_CHECKOUT_CREDENTIALS`` from it and prints as its
last line ``solvyd-checkout: commit <sha>``.

Secrets: ``step.secret_env`` holds secret values; a backend gives them to the step as env (over
``env``) and keeps them out of what it stores in the clear where it has a secret store.

The workspace: where the steps' files live is the backend's business (a directory on this
machine, a volume of a pod). Nothing outside an executor reads it directly: the agent lists it
and reads files of it through ``list_workspace`` and ``read_workspace_file`` (artifacts).

Errors: a fault of the machinery (the engine is gone, a pod could not be scheduled, a process
could not be spawned) raises ``ExecutorError`` with a message fit for a user. A step's own
failure is a non-zero exit code, never an exception; and a fault is never reported as a made-up
exit code. Executors know nothing of HTTP, the database or where secrets are stored.
"""

import abc
from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

from solvyd.protocol.messages import JobSpec, StepSpec

# How a builtin checkout step runs (``python -m ...``), wherever python is.
CHECKOUT_MODULE = "solvyd.agent.checkout_program"


class ExecutorError(Exception):
    """The infrastructure failed; the build ends as ``error`` with this message."""


@dataclass(frozen=True)
class WorkspaceFile:
    """A regular file of a build's workspace, as ``list_workspace`` finds it."""

    path: str  # relative POSIX path inside the workspace ("dist/app.bin")
    size: int  # bytes


class Executor(abc.ABC):
    """A backend that runs the steps of builds. See the module docstring for the contract."""

    name: str

    @property
    def runs_steps_without_image(self) -> bool:
        """Whether a step that names no ``image`` can run here. The agent advertises it, so
        that the server hands such builds only to agents that can run them. Backends that run
        steps on the host ignore ``image`` and run every step."""
        return True

    @abc.abstractmethod
    async def check_available(self) -> str | None:
        """None when the backend can run steps here, else why not (``"no sh on PATH"``).

        Cheap, and without side effects: it is called at agent start-up to decide what the
        agent advertises."""

    @abc.abstractmethod
    async def setup_job(self, job: JobSpec) -> None:
        """Prepare what the build's steps share: workspace, network, pod.

        Safe to run for several builds at once. If it raises, the runtime still calls
        ``teardown_job``, which must clean up whatever was half made."""

    @abc.abstractmethod
    async def start_step(self, job: JobSpec, step: StepSpec) -> None:
        """Start the step and return without waiting for it to finish.

        The step sees ``job.env``, then ``step.env`` on top, then ``step.secret_env``, then
        ``SOLVYD_STEP_NAME`` and ``SOLVYD_WORKSPACE`` (where the step sees its workspace). A
        step with ``builtin`` runs the backend's program for it (see the module docstring);
        the job's env is not its. Starting a step twice is an error (``ExecutorError``). If
        this call is cancelled, ``destroy_step`` still frees whatever it had begun."""

    @abc.abstractmethod
    def stream_output(self, job: JobSpec, step: StepSpec) -> AsyncIterator[str]:
        """The step's output, one line at a time without its newline, stdout and stderr
        interleaved in the order they were written. Ends when the step's output ends (or the
        step is destroyed). Called at most once per step, after ``start_step``.

        A backend may add its own lines (e.g. that it ignores ``image``)."""

    @abc.abstractmethod
    async def wait_step(self, job: JobSpec, step: StepSpec) -> int:
        """Wait for the step to end and return its exit code (0 is success).

        Raises ``ExecutorError`` when the infrastructure failed, and when the step was never
        started. Its caller bounds the wait (timeouts, cancel) by calling ``destroy_step``."""

    @abc.abstractmethod
    async def destroy_step(self, job: JobSpec, step: StepSpec) -> None:
        """Stop the step if it runs, and free what it holds; it leaves nothing running.

        Idempotent, safe if the step never started, and safe while ``stream_output`` and
        ``wait_step`` are pending (they then end promptly). Output already written is still
        delivered by ``stream_output``. Returns within a bounded time."""

    @abc.abstractmethod
    async def teardown_job(self, job: JobSpec) -> None:
        """Remove everything the build left: steps still running, workspace, network, pod.

        Always called, once the steps are over. Idempotent, and safe if ``setup_job`` failed,
        was cancelled or was never called."""

    def workspace(self, job: JobSpec) -> str:
        """The build's workspace as a directory on this machine, for a backend that keeps it
        in one; the default ``list_workspace`` and ``read_workspace_file`` read it. Executor
        plugins of plugin API 1.0 implement this (it was part of the contract then) and get
        the two verbs for free; a backend whose workspace is elsewhere (a pod's volume)
        overrides the two verbs instead."""
        raise NotImplementedError(f"the {self.name} executor keeps no workspace on this machine")

    async def aclose(self) -> None:
        """Free what the executor holds across builds (a connection to a cluster); the agent
        calls it when it stops. Nothing by default."""
        return

    async def sweep_leftovers(self, held_builds: Collection[UUID]) -> int:
        """Remove what builds this agent no longer holds left behind (pods of an agent that
        crashed); how many things were removed. The agent calls it once at start-up. Backends
        whose builds die with the agent have nothing to sweep."""
        return 0

    async def list_workspace(self, job: JobSpec) -> list[WorkspaceFile]:
        """The workspace's regular files, in subdirectories too, sorted by path. Symlinks are
        not followed and not listed (a link may point anywhere), nor is anything outside the
        workspace. Empty when the workspace does not exist (any more). Called between the last
        step and ``teardown_job``; raises ``ExecutorError`` when it cannot be read."""
        from solvyd.pipeline.executors import workspace  # it builds on this module

        return await workspace.list_directory(Path(self._host_workspace(job)))

    def read_workspace_file(self, job: JobSpec, path: str) -> AsyncIterator[bytes]:
        """The bytes of one file ``list_workspace`` listed, in chunks, never whole in memory.
        Raises ``ExecutorError`` (when iterated) for a path that is not a regular file inside
        the workspace (missing, a symlink, a directory, ``..``), or that cannot be read."""
        from solvyd.pipeline.executors import workspace  # it builds on this module

        return workspace.read_directory_file(Path(self._host_workspace(job)), path)

    def _host_workspace(self, job: JobSpec) -> str:
        try:
            return self.workspace(job)
        except NotImplementedError as exc:
            raise ExecutorError(str(exc)) from exc
