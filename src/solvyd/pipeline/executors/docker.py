"""The ``docker`` executor: each step is a container, through the Docker Engine API.

Every step runs in a new container of its own ``image`` (or of the agent's default image, for a
step that names none; without one such a step cannot run here), with the build's workspace,
a directory on this machine, bind-mounted at ``/workspace``: files one step writes are there
for the next; inside the containers the steps see it as ``/workspace`` (``SOLVYD_WORKSPACE``).
The executor lists and reads that directory on the host for ``list_workspace`` and
``read_workspace_file``.

The builtin checkout step runs in a container of the checkout image (``--checkout-image``,
default ``solvyd:latest``) as the agent's own user, on the host's network, with a repository
on this machine's disk bound read-only at its path: it fetches what the agent could fetch.

Containers carry the labels ``solvyd.build`` and ``solvyd.step``, so that whatever a build left
behind can be found and removed. The engine's client is blocking: every call runs in a thread,
and the one call that lasts as long as the step (following its output, then its exit code) runs
in a thread of its own per step, so that long steps never starve the event loop's pool.
"""

import asyncio
import contextlib
import json
import os
import threading
import weakref
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit
from uuid import UUID

import docker
import requests
from docker.errors import DockerException, ImageNotFound, NotFound

from solvyd.pipeline.executors.base import CHECKOUT_MODULE, Executor, ExecutorError
from solvyd.pipeline.executors.host_env import passthrough_env
from solvyd.pipeline.executors.lines import LineSplitter
from solvyd.pipeline.executors.workspace import HostWorkspaces, shell_script
from solvyd.protocol.messages import JobSpec, StepSpec

CONTAINER_WORKSPACE = "/workspace"
# The image of the builtin checkout step unless the agent names one (--checkout-image): the
# one scripts/build-image.sh makes by default (docs/deploy-image.md).
DEFAULT_CHECKOUT_IMAGE = "solvyd:latest"
CHECKOUT_ENV = "SOLVYD_CHECKOUT"
BUILD_LABEL = "solvyd.build"
STEP_LABEL = "solvyd.step"
_ENGINE_ERRORS = (DockerException, requests.RequestException, OSError)
_PING_SECONDS = 5.0
_API_SECONDS = 30.0  # any single call to the engine but the step's own wait
_LAUNCH_SETTLE_SECONDS = 35.0  # how long destroy waits for a cancelled start to settle
_OUTPUT_SETTLE_SECONDS = 5.0  # how long destroy waits for the output of a stopped container

T = TypeVar("T")


@dataclass
class _Step:
    lines: "asyncio.Queue[str | None]"
    ended: "asyncio.Future[int]"  # the exit code, or ExecutorError; set by the follower thread
    launch: "asyncio.Task[str] | None" = None
    container_id: str | None = None
    stream: Any = None  # the engine's log stream, closed to unblock a stuck follower
    following: bool = False  # the follower thread runs (or ran)
    streamed: bool = False
    removed: bool = False
    notes: list[str] = field(default_factory=list)


class DockerExecutor(Executor):
    name = "docker"

    def __init__(
        self,
        work_root: Path,
        *,
        kill_grace_seconds: float = 1.0,
        pull_seconds: float = 10.0,
        default_image: str | None = None,
        env_passthrough: tuple[str, ...] = (),
        checkout_image: str | None = None,
    ) -> None:
        """``kill_grace_seconds``: how long a destroyed step has between SIGTERM and SIGKILL.
        ``pull_seconds``: how long pulling an image missing on this machine may take.
        ``default_image``: the image of the steps that name none (``--default-image``).
        ``env_passthrough``: names of the agent's variables its steps get, below the job's
        own (see ``host_env``); paths in them are the host's, not mounted.
        ``checkout_image``: the image the builtin checkout step runs in (``--checkout-image``;
        default ``DEFAULT_CHECKOUT_IMAGE``): Solvyd's own, with python, solvyd and git."""
        self._workspaces = HostWorkspaces(work_root)
        self._default_image = default_image or None
        self._checkout_image = checkout_image or DEFAULT_CHECKOUT_IMAGE
        self._kill_grace = kill_grace_seconds
        self._pull_seconds = pull_seconds
        self._env_passthrough = env_passthrough
        self._steps: dict[tuple[UUID, str], _Step] = {}
        self._client: docker.APIClient | None = None
        self._client_lock = threading.Lock()

    @property
    def runs_steps_without_image(self) -> bool:
        return self._default_image is not None

    def _image_of(self, step: StepSpec) -> str | None:
        if step.builtin == "checkout":
            return self._checkout_image
        return step.image or self._default_image

    async def check_available(self) -> str | None:
        address = _engine_address()

        def ping() -> str | None:
            if address.startswith("unix://") and not os.path.exists(address[len("unix://") :]):
                # Checked first: docker's client leaks the socket of a failed connect.
                return f"no Docker engine at {address} (no such socket)"
            client = docker.APIClient(**_client_kwargs(_PING_SECONDS))
            try:
                client.ping()
            finally:
                client.close()
            return None

        try:
            return await asyncio.wait_for(asyncio.to_thread(ping), _PING_SECONDS * 2)
        except TimeoutError:
            return f"the Docker engine at {address} did not answer"
        except _ENGINE_ERRORS as exc:
            return f"no Docker engine answers at {address}: {_first_line(exc)}"

    def workspace(self, job: JobSpec) -> str:
        """The build's workspace on the host, which the containers bind (steps see it at
        ``/workspace``): the base class lists and reads it here."""
        return str(self._workspaces.path(job))

    async def setup_job(self, job: JobSpec) -> None:
        await self._workspaces.create(job)

    async def start_step(self, job: JobSpec, step: StepSpec) -> None:
        key = (job.build_id, step.name)
        if key in self._steps:
            raise ExecutorError(f"step '{step.name}' was already started")
        image = self._image_of(step)
        if image is None:
            raise ExecutorError(
                f"step {step.name} has no image; the docker executor needs one "
                "(start the agent with --default-image IMAGE to run such steps)"
            )
        loop = asyncio.get_running_loop()
        state = _Step(lines=asyncio.Queue(), ended=loop.create_future())
        self._steps[key] = state
        # Shielded: if this call is cancelled, the container may still be made, and
        # destroy_step waits for that to settle before it removes it.
        state.launch = asyncio.create_task(asyncio.to_thread(self._launch, job, step, state))
        try:
            state.container_id = await asyncio.shield(state.launch)
        except _ENGINE_ERRORS as exc:
            raise ExecutorError(
                f"cannot start step '{step.name}' in a container of {image}: {_first_line(exc)}"
            ) from exc
        state.following = True
        threading.Thread(
            target=self._follow,
            args=(state, state.container_id, loop),
            name=f"docker-step-{step.name}",
            daemon=True,
        ).start()

    async def stream_output(self, job: JobSpec, step: StepSpec) -> AsyncIterator[str]:
        state = self._started(job, step)
        if state.streamed:
            raise ExecutorError(f"the output of step '{step.name}' was already read")
        state.streamed = True
        for note in state.notes:
            yield note
        while (line := await state.lines.get()) is not None:
            yield line

    async def wait_step(self, job: JobSpec, step: StepSpec) -> int:
        state = self._started(job, step)
        return await asyncio.shield(state.ended)

    async def destroy_step(self, job: JobSpec, step: StepSpec) -> None:
        state = self._steps.get((job.build_id, step.name))
        if state is None or state.removed:
            return
        if state.launch is not None and not state.launch.done():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(state.launch), _LAUNCH_SETTLE_SECONDS)
        launch = state.launch
        if launch is not None and launch.done() and not launch.cancelled():
            state.container_id = None if launch.exception() else launch.result()
        if state.container_id is None:
            state.removed = True
            _close_queue(state)
            return
        if not state.following:  # start_step was cancelled just after the container started
            _close_queue(state)
        container = state.container_id
        client = await self._engine()
        try:
            await asyncio.to_thread(client.stop, container, timeout=max(int(self._kill_grace), 0))
        except NotFound:
            pass
        except _ENGINE_ERRORS as exc:
            raise ExecutorError(f"cannot stop the container of step '{step.name}': {exc}") from exc
        # The container has stopped: its output stream ends once the engine has sent it all.
        try:
            await asyncio.wait_for(asyncio.shield(state.ended), _OUTPUT_SETTLE_SECONDS)
        except TimeoutError:
            _close_stream(state)
        except ExecutorError:
            pass
        await self._remove(client, container, f"step '{step.name}'")
        state.removed = True

    async def teardown_job(self, job: JobSpec) -> None:
        problems: list[str] = []
        keys = [key for key in self._steps if key[0] == job.build_id]
        for key in keys:
            state = self._steps[key]
            try:
                await self.destroy_step(job, StepSpec(name=key[1], commands=[]))
            except ExecutorError as exc:
                problems.append(str(exc))
            _close_stream(state)
            _close_queue(state)
            del self._steps[key]
        # Containers of the build this executor does not know of (an agent restarted, a start
        # cancelled at the wrong moment). Without an engine and without steps there are none.
        try:
            client = await self._engine()
            leftovers = await asyncio.to_thread(
                client.containers, all=True, filters={"label": f"{BUILD_LABEL}={job.build_id}"}
            )
            for leftover in leftovers:
                await self._remove(client, leftover["Id"], "a leftover container")
        except ExecutorError as exc:
            if keys:
                problems.append(str(exc))
        except _ENGINE_ERRORS as exc:
            if keys:
                problems.append(f"cannot list the containers of the build: {exc}")
        problem = await self._workspaces.remove(job)
        if problem:
            problems.append(problem)
        if problems:
            raise ExecutorError("; ".join(problems))

    def _started(self, job: JobSpec, step: StepSpec) -> _Step:
        state = self._steps.get((job.build_id, step.name))
        if state is None or state.launch is None or not state.launch.done():
            raise ExecutorError(f"step '{step.name}' was not started")
        if state.container_id is None:
            raise ExecutorError(f"step '{step.name}' did not start")
        return state

    async def _engine(self) -> docker.APIClient:
        if self._client is not None:
            return self._client
        try:
            return await asyncio.to_thread(self._sync_engine)
        except _ENGINE_ERRORS as exc:
            raise ExecutorError(
                f"no Docker engine answers at {_engine_address()}: {_first_line(exc)}"
            ) from exc

    def _sync_engine(self) -> docker.APIClient:
        with self._client_lock:
            if self._client is None:
                self._client = docker.APIClient(**_client_kwargs(_API_SECONDS))
                # Its pooled connections are closed with the executor, not left to the GC.
                weakref.finalize(self, self._client.close)
            return self._client

    async def _remove(self, client: docker.APIClient, container: str, what: str) -> None:
        try:
            await asyncio.to_thread(client.remove_container, container, force=True)
        except NotFound:
            pass
        except docker.errors.APIError as exc:
            if exc.status_code == 409 and "in progress" in str(exc):
                return  # another call is removing it
            raise ExecutorError(f"cannot remove the container of {what}: {exc}") from exc
        except _ENGINE_ERRORS as exc:
            raise ExecutorError(f"cannot remove the container of {what}: {exc}") from exc

    # What follows runs in threads, never on the event loop.

    def _launch(self, job: JobSpec, step: StepSpec, state: _Step) -> str:
        client = self._sync_engine()
        image = self._image_of(step) or ""
        if not step.image and step.builtin is None:
            state.notes.append(f"Using the agent's default image {image} (the step names none)")
        self._ensure_image(client, image, state)
        binds: dict[str, Mapping[str, str]] = {
            self.workspace(job): {"bind": CONTAINER_WORKSPACE, "mode": "rw"}
        }
        if step.builtin == "checkout":
            env = dict(step.env)
            entrypoint, command = ["python", "-m", CHECKOUT_MODULE], []
            # Run as the agent's user, on the host's network, with a repository on this
            # machine's disk readable at its own path: the checkout sees what the agent
            # would (as it did when the agent checked out itself), and its files in the
            # workspace belong to the agent, which removes them.
            user: str | None = f"{os.getuid()}:{os.getgid()}"
            network: str | None = "host"
            for path in _local_repositories(step.env.get(CHECKOUT_ENV, "")):
                binds[path] = {"bind": path, "mode": "ro"}
        else:
            env = passthrough_env(self._env_passthrough) | job.env | step.env
            entrypoint, command = ["sh", "-c"], [shell_script(step.commands)]
            user = network = None
        env |= step.secret_env
        env |= {"SOLVYD_STEP_NAME": step.name, "SOLVYD_WORKSPACE": CONTAINER_WORKSPACE}
        host_config = client.create_host_config(
            binds=binds,
            # A small init as PID 1 passes SIGTERM on to the shell and reaps orphans.
            init=True,
            nano_cpus=int(step.cpus * 1e9) if step.cpus else None,
            mem_limit=step.memory_bytes,
            network_mode=network,
        )
        created = client.create_container(
            image,
            entrypoint=entrypoint,
            command=command,
            working_dir=CONTAINER_WORKSPACE,
            environment=env,
            labels={BUILD_LABEL: str(job.build_id), STEP_LABEL: step.name},
            host_config=host_config,
            stdin_open=False,
            tty=False,
            user=user,
        )
        container: str = created["Id"]
        try:
            client.start(container)
        except BaseException:
            with contextlib.suppress(*_ENGINE_ERRORS):
                client.remove_container(container, force=True)
            raise
        return container

    def _ensure_image(self, client: docker.APIClient, image: str, state: _Step) -> None:
        try:
            client.inspect_image(image)  # type: ignore[no-untyped-call]
            return
        except ImageNotFound:
            pass
        state.notes.append(f"Pulling image {image}")
        puller = docker.APIClient(**_client_kwargs(self._pull_seconds))
        try:
            # Without stream, the call returns once the pull ended; errors come back in it.
            puller.pull(image)
            client.inspect_image(image)  # type: ignore[no-untyped-call]
        except _ENGINE_ERRORS as exc:
            reason = _first_line(exc)
            message = (
                f"image {image} not found (not on this machine, and pulling it failed: {reason})"
            )
            raise ExecutorError(message) from exc
        finally:
            puller.close()

    def _follow(self, state: _Step, container: str, loop: asyncio.AbstractEventLoop) -> None:
        """Deliver the step's output to the queue until the container stops, then its exit
        code to ``state.ended``."""
        splitter = LineSplitter()
        client = self._client
        assert client is not None  # noqa: S101 - narrows a type; guards nothing
        outcome: int | BaseException
        try:
            stream = client.logs(container, stdout=True, stderr=True, stream=True, follow=True)
            state.stream = stream
            try:
                for chunk in stream:
                    for line in splitter.feed(chunk):
                        _call(loop, state.lines.put_nowait, line)
            finally:
                for line in splitter.flush():
                    _call(loop, state.lines.put_nowait, line)
                with contextlib.suppress(*_ENGINE_ERRORS):
                    stream.close()
            result = client.wait(container, timeout=int(_API_SECONDS))
            if result.get("Error"):
                message = result["Error"].get("Message") or result["Error"]
                outcome = ExecutorError(f"the Docker engine failed to run the step: {message}")
            else:
                outcome = int(result["StatusCode"])
        except NotFound:
            outcome = ExecutorError("the container of the step disappeared")
        except _ENGINE_ERRORS as exc:
            outcome = ExecutorError(f"lost the Docker engine while the step ran: {exc}")
        except BaseException as exc:
            outcome = ExecutorError(f"following the step failed: {exc!r}")
        _call(loop, state.lines.put_nowait, None)
        _call(loop, _settle, state.ended, outcome)


def _settle(future: "asyncio.Future[int]", outcome: int | BaseException) -> None:
    if future.done():
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
        # Mark it retrieved: nobody may wait for a destroyed step.
        future.exception()
    else:
        future.set_result(outcome)


def _call(loop: asyncio.AbstractEventLoop, func: Callable[..., object], *args: object) -> None:
    with contextlib.suppress(RuntimeError):  # the loop is closed: nobody listens any more
        loop.call_soon_threadsafe(func, *args)


def _close_queue(state: _Step) -> None:
    """End ``stream_output`` and ``wait_step`` for a step whose follower never ran (or is
    stuck); a late follower's own end is then ignored."""
    if not state.ended.done():
        state.lines.put_nowait(None)
        _settle(state.ended, ExecutorError("the step did not run"))


def _close_stream(state: _Step) -> None:
    if state.stream is not None:
        with contextlib.suppress(Exception):
            state.stream.close()


def _local_repositories(checkout: str) -> list[str]:
    """The repositories on this machine's disk a checkout step fetches from (its
    ``SOLVYD_CHECKOUT``, written by the agent): a ``file://`` URL or an absolute path."""
    try:
        target = json.loads(checkout) if checkout else {}
    except ValueError:
        return []
    found: list[str] = []
    for key in ("scm_url", "checkout_url"):
        url = target.get(key) if isinstance(target, dict) else None
        if not isinstance(url, str):
            continue
        path = unquote(urlsplit(url).path) if url.startswith("file:") else url
        if os.path.isabs(path) and os.path.isdir(path):
            found.append(os.path.normpath(path))
    return found


def _client_kwargs(timeout: float) -> dict[str, Any]:
    """How ``docker.from_env`` reaches the engine (``DOCKER_HOST``, TLS settings), with a
    bounded timeout for each call."""
    from docker.utils import kwargs_from_env

    kwargs: dict[str, Any] = dict(kwargs_from_env())
    kwargs.setdefault("base_url", None)
    if kwargs["base_url"] is None:
        kwargs["base_url"] = "unix:///var/run/docker.sock"
    kwargs["timeout"] = timeout
    kwargs["version"] = "auto"
    return kwargs


def _engine_address() -> str:
    return os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
