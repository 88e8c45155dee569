"""The ``kubernetes`` executor: each build is one pod, each step a container in it.

``setup_job`` receives the final plan (every step known), makes the build's Secret (the
steps' secret values; the pod spec only references them with ``secretKeyRef``) and its pod
(see ``kube_pod``), and waits until every container runs, failing at once, with the reason,
when the pod cannot be scheduled, an image cannot be pulled, or a quota refuses the pod.
``start_step`` writes the step's start file through ``pods/exec`` in the helper container;
its output is its container's log (``follow=true``, resumed with ``sinceTime`` when the
stream is cut, without losing or repeating a line); its exit code is its container's
``state.terminated.exitCode``, read by one poller per build. ``destroy_step`` writes the
step's stop file; ``teardown_job`` deletes the pod (at once: ``gracePeriodSeconds=0``) and the
Secret. Pods and Secrets carry the build's id and the agent's name as labels, so that an agent
that restarts removes what its earlier life left (``sweep_leftovers``).

Why one pod per build with a container per step (and not a pod per step): the workspace is
an emptyDir that lives exactly as long as the build and needs no storage class, steps start
without scheduling or image pulls (all happen at setup, where a failure is reported before any
step ran), and deleting one object ends everything the build runs.
"""

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from uuid import UUID

from solvyd.pipeline.executors import kube_pod
from solvyd.pipeline.executors.base import Executor, ExecutorError, WorkspaceFile
from solvyd.pipeline.executors.kube_settings import KubernetesSettings, label_value
from solvyd.protocol.messages import JobSpec, StepSpec

if TYPE_CHECKING:
    from solvyd.pipeline.executors.kube_api import KubeApi

_STOP_SETTLE_SECONDS = 5.0  # beyond the kill grace: how long a stopped step may take to end
_LOST_API_SECONDS = 30.0  # how long the poller tries before a build's steps fail
_RECONNECT_SECONDS = 0.2
_STOP_EXEC_SECONDS = 1.0  # writing a stop file: longer, and a cancel would not end in 2 s
_GONE_SECONDS = 60.0  # how long a deleted object of the same name may take to go


@dataclass
class _Step:
    container: str
    ended: "asyncio.Future[int]"
    started: bool = False
    streamed: bool = False
    stopping: bool = False


@dataclass
class _Build:
    pod: str
    containers: dict[str, str]  # step name -> container
    planned_env: dict[str, dict[str, str]]  # step name -> its env in the pod spec
    steps: dict[str, _Step] = field(default_factory=dict)
    status: dict[str, Any] = field(default_factory=dict)  # the pod, as last read
    gone: bool = False  # the pod was deleted
    poller: "asyncio.Task[None] | None" = None


class KubernetesExecutor(Executor):
    name = "kubernetes"

    def __init__(
        self, settings: KubernetesSettings, *, env_passthrough: tuple[str, ...] = ()
    ) -> None:
        self.settings = settings
        self._env_passthrough = env_passthrough
        self._builds: dict[tuple[UUID, int], _Build] = {}
        self._api: KubeApi | None = None
        self._api_loop: asyncio.AbstractEventLoop | None = None
        self._api_lock: asyncio.Lock | None = None

    @property
    def runs_steps_without_image(self) -> bool:
        return self.settings.default_image is not None

    async def check_available(self) -> str | None:
        from solvyd.pipeline.executors.kube_api import ApiError, KubeApi, Unreachable

        try:
            api = await KubeApi.connect(self.settings.kubeconfig, self.settings.namespace)
        except Unreachable as exc:
            return str(exc)
        try:
            await api.call("GET", api.path("pods"), query=[("limit", "1")], timeout=10)
        except ApiError as exc:
            return f"the cluster refused to list pods in {api.namespace}: {exc.message}"
        except Unreachable as exc:
            return f"no Kubernetes API answers: {exc}"
        finally:
            await api.close()
        return None

    async def aclose(self) -> None:
        """Close the connection to the cluster (the agent's end); the builds' pollers end
        with it (what is left of the builds is a later life's sweep's)."""
        for build in self._builds.values():
            if build.poller is not None:
                build.poller.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await build.poller
        if self._api is not None:
            api, self._api = self._api, None
            await api.close()

    async def setup_job(self, job: JobSpec) -> None:
        from solvyd.pipeline.executors.kube_api import ApiError, Unreachable

        key = _key(job)
        if key in self._builds:
            raise ExecutorError("setup_job ran twice for this build")
        names = kube_pod.container_names(job)
        pod = kube_pod.pod_manifest(job, self.settings, self._env_passthrough)
        secret = kube_pod.secret_manifest(job, self.settings)
        build = _Build(
            pod=kube_pod.pod_name(job),
            containers=names,
            planned_env={
                step.name: kube_pod.plain_env(job, step, self._env_passthrough)
                for step in job.steps
                if step.name in names
            },
        )
        self._builds[key] = build
        api = await self._connection()
        try:
            if secret is not None:
                await self._create(api, "secrets", secret)
            made = await self._create(api, "pods", pod)
            if secret is not None:
                await self._own_secret(api, made)
            await self._wait_running(api, build)
        except ApiError as exc:
            raise ExecutorError(_refused(exc)) from exc
        except Unreachable as exc:
            raise ExecutorError(f"no Kubernetes API answers: {exc}") from exc
        build.poller = asyncio.create_task(self._poll(api, build), name=f"kube-poll-{build.pod}")

    async def start_step(self, job: JobSpec, step: StepSpec) -> None:
        build = self._builds.get(_key(job))
        if build is None or build.poller is None:
            raise ExecutorError(f"step '{step.name}': the build's pod was not set up")
        if step.name in build.steps:
            raise ExecutorError(f"step '{step.name}' was already started")
        container = build.containers.get(step.name)
        if container is None:
            why = "the server performs it" if not kube_pod.runs_in_pod(step) else "unknown step"
            raise ExecutorError(f"step '{step.name}' is not in the build's pod ({why})")
        content = kube_pod.start_file(build.planned_env.get(step.name, {}), step)
        state = _Step(container, asyncio.get_running_loop().create_future())
        build.steps[step.name] = state
        await self._control(build, f"{container}.start", f"start step '{step.name}'", content)
        state.started = True

    async def stream_output(self, job: JobSpec, step: StepSpec) -> AsyncIterator[str]:
        from solvyd.pipeline.executors.kube_api import ApiError, Unreachable, format_timestamp_ns

        build, state = self._started(job, step)
        if state.streamed:
            raise ExecutorError(f"the output of step '{step.name}' was already read")
        state.streamed = True
        api = await self._connection()
        last_ns: int | None = None  # the time of the last line delivered
        at_last = 0  # how many delivered lines have exactly that time
        while True:
            # A stream opened after the container ended holds all of its output, unless it is
            # cut too: the output is over when such a stream brings nothing new.
            ended_before = state.ended.done() or build.gone
            since = None if last_ns is None else format_timestamp_ns(last_ns)
            skip = at_last  # the API resends lines at sinceTime: skip those already given
            fresh = 0
            try:
                async for stamp, text in api.log_lines(build.pod, state.container, since):
                    if last_ns is not None and 0 <= stamp < last_ns:
                        continue
                    if stamp == last_ns and skip > 0:
                        skip -= 1
                        continue
                    yield text
                    fresh += 1
                    if stamp == last_ns:
                        at_last += 1
                    else:
                        last_ns, at_last = stamp, 1
            except ApiError as exc:
                if exc.status == 404:
                    return  # the pod is gone, and its log with it
            except Unreachable:
                pass
            if ended_before and fresh == 0:
                return
            if not ended_before:
                await asyncio.sleep(_RECONNECT_SECONDS)

    async def wait_step(self, job: JobSpec, step: StepSpec) -> int:
        _, state = self._started(job, step)
        return await asyncio.shield(state.ended)

    async def destroy_step(self, job: JobSpec, step: StepSpec) -> None:
        build = self._builds.get(_key(job))
        state = build.steps.get(step.name) if build is not None else None
        if build is None or state is None or not state.started or state.ended.done():
            return
        if not state.stopping:
            state.stopping = True
            try:
                await asyncio.wait_for(
                    self._control(build, f"{state.container}.stop", f"stop step '{step.name}'"),
                    _STOP_EXEC_SECONDS,
                )
            except (TimeoutError, ExecutorError):
                # The helper does not answer (a cancel must not wait for it): ending the pod is
                # the other way to end the step, and the build with it.
                await self._end_pod(build, "the build's pod was deleted: its helper did not answer")
                return
        try:
            await asyncio.wait_for(
                asyncio.shield(state.ended), self.settings.kill_grace_seconds + _STOP_SETTLE_SECONDS
            )
        except TimeoutError:
            raise ExecutorError(f"step '{step.name}' did not stop") from None
        except ExecutorError:
            pass

    async def teardown_job(self, job: JobSpec) -> None:
        from solvyd.pipeline.executors.kube_api import ApiError, Unreachable

        build = self._builds.pop(_key(job), None)
        if build is not None:
            if build.poller is not None:
                build.poller.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await build.poller
            _end_steps(build, "the build's pod was removed")
        name = kube_pod.pod_name(job)
        try:
            api = await self._connection()
        except ExecutorError as exc:
            if build is not None:  # without a build there is nothing to free
                raise ExecutorError(f"cannot delete the build's pod {name}: {exc}") from exc
            return
        # Both, whatever the first one answers: a Secret must not outlive a pod that could not
        # be deleted (its owner reference would delete it later, but only with the pod).
        failures = []
        for resource, what in (("pods", "pod"), ("secrets", "Secret")):
            try:
                await self._delete(api, resource, name)  # 404: never made, or already gone
            except ApiError as exc:
                failures.append(f"its {what}: {exc.status} {exc.reason}: {exc.message}")
            except Unreachable as exc:
                if build is not None:
                    failures.append(f"its {what}: {exc}")
        if failures:
            # A pod that could not be deleted (403, 429, 500) may still be running.
            raise ExecutorError(f"cannot free the build's pod {name}: " + "; ".join(failures))

    async def list_workspace(self, job: JobSpec) -> list[WorkspaceFile]:
        build = self._ready(job)
        code, output = await self._exec(build, ["sh", "-c", kube_pod.LIST_SCRIPT])
        if code != 0:
            raise ExecutorError("cannot list the workspace in the build's pod")
        files = []
        for record in output.split(b"\0"):
            size, _, path = record.decode("utf-8", "surrogateescape").partition(" ")
            if path.startswith("./") and size.isdigit():
                files.append(WorkspaceFile(path=path[2:], size=int(size)))
        return sorted(files, key=lambda found: found.path)

    async def read_workspace_file(self, job: JobSpec, path: str) -> AsyncIterator[bytes]:
        from solvyd.pipeline.executors.kube_api import Unreachable, exec_exit_code

        build = self._ready(job)
        parts = path.split("/")
        if not path or path.startswith("/") or any(p in ("", ".", "..") for p in parts):
            raise ExecutorError(f"not a path inside the workspace: {path!r}")
        api = await self._connection()
        command = ["sh", "-c", kube_pod.READ_SCRIPT, "read", f"{kube_pod.WORKSPACE}/{path}"]
        status: dict[str, Any] | None = None
        try:
            async for channel, data in api.exec_stream(build.pod, kube_pod.HELPER, command):
                if channel == 1 and data:
                    yield data
                elif channel == 3:
                    import json

                    status = json.loads(data) if data else None
        except Unreachable as exc:
            raise ExecutorError(f"cannot read {path} from the build's pod: {exc}") from exc
        if exec_exit_code(status) != 0:
            raise ExecutorError(f"cannot read {path} from the build's pod")

    async def sweep_leftovers(self, held_builds: Collection[UUID]) -> int:
        """Delete the pods and Secrets this agent made for builds it no longer holds (what an
        earlier life of it left behind, as a crash); how many objects were deleted. Only this
        agent's (the ``solvyd.dev/agent`` label): other agents share the namespace. It lists
        pods only: a build's Secret has its pod's name (and the pod as its owner), so the agent
        never needs to list Secrets, which would give it every Secret's data."""
        from solvyd.pipeline.executors.kube_api import ApiError, Unreachable

        held = {str(build) for build in held_builds}
        owner = label_value(self.settings.owner)
        selector = f"{kube_pod.MANAGED_BY}=solvyd,{kube_pod.AGENT_LABEL}={owner}"
        removed = 0
        try:
            api = await self._connection()
            found = await api.call("GET", api.path("pods"), query=[("labelSelector", selector)])
            for item in found.get("items") or []:
                meta = item.get("metadata") or {}
                if (meta.get("labels") or {}).get(kube_pod.BUILD_LABEL) in held:
                    continue
                # The Secret first: deleting the pod may let the garbage collector take it.
                for resource in ("secrets", "pods"):
                    if await self._delete(api, resource, str(meta.get("name"))):
                        removed += 1
        except ApiError as exc:
            raise ExecutorError(f"cannot sweep the agent's leftover pods: {exc.message}") from exc
        except Unreachable as exc:
            raise ExecutorError(f"cannot sweep the agent's leftover pods: {exc}") from exc
        return removed

    # -- inside ----------------------------------------------------------------------------

    async def _connection(self) -> "KubeApi":
        """The client for the running event loop (the agent's CLI probes in one loop, then
        runs in another: a session belongs to its loop)."""
        from solvyd.pipeline.executors.kube_api import KubeApi, Unreachable

        loop = asyncio.get_running_loop()
        if self._api is not None and self._api_loop is loop:
            return self._api
        if self._api_lock is None or self._api_loop is not loop:
            self._api_lock, self._api_loop, self._api = asyncio.Lock(), loop, None
        async with self._api_lock:
            if self._api is None:
                try:
                    self._api = await KubeApi.connect(
                        self.settings.kubeconfig, self.settings.namespace
                    )
                except Unreachable as exc:
                    raise ExecutorError(str(exc)) from exc
            return self._api

    async def _create(self, api: "KubeApi", resource: str, body: dict[str, Any]) -> dict[str, Any]:
        from solvyd.pipeline.executors.kube_api import ApiError

        try:
            return await api.call("POST", api.path(resource), body=body)
        except ApiError as exc:
            if exc.status != 409:
                raise
            # Left by an earlier life of this agent for this very attempt: replace it, once it
            # is gone (a deleted pod stays, terminating, until its kubelet confirms).
            name = body["metadata"]["name"]
            await self._delete(api, resource, name)
            deadline = time.monotonic() + _GONE_SECONDS
            # A Secret goes at once (and the agent may not get Secrets): only pods linger.
            while resource == "pods":
                try:
                    await api.call("GET", api.path(resource, name))
                except ApiError as gone:
                    if gone.status != 404:
                        raise
                    break
                if time.monotonic() > deadline:
                    raise ExecutorError(
                        f"the {resource[:-1]} {name} of an earlier try of this build was "
                        f"deleted but is still there after {_GONE_SECONDS:g} s"
                    ) from exc
                await asyncio.sleep(self.settings.poll_seconds)
            return await api.call("POST", api.path(resource), body=body)

    @staticmethod
    async def _own_secret(api: "KubeApi", pod: dict[str, Any]) -> None:
        """Make the build's pod the owner of its Secret: Kubernetes' garbage collector deletes
        the Secret with the pod, whoever deletes the pod (a sweep that never lists Secrets,
        an operator's kubectl), so that no build's secret values outlive its pod. Made before
        the pod (its containers need it to start), owned once the pod has a uid."""
        meta = pod.get("metadata") or {}
        owner = {
            "apiVersion": "v1",
            "kind": "Pod",
            "name": meta.get("name"),
            "uid": meta.get("uid"),
        }
        await api.call(
            "PATCH",
            api.path("secrets", str(meta.get("name"))),
            body={"metadata": {"ownerReferences": [owner]}},
            content_type="application/merge-patch+json",
        )

    @staticmethod
    async def _delete(api: "KubeApi", resource: str, name: str) -> bool:
        """Delete one object at once; False when it was not there (404). Any other refusal
        (403, 429, 500) is raised: the object may still be there, running."""
        from solvyd.pipeline.executors.kube_api import ApiError

        body = {
            "apiVersion": "v1",
            "kind": "DeleteOptions",
            "gracePeriodSeconds": 0,
            "propagationPolicy": "Background",
        }
        try:
            await api.call("DELETE", api.path(resource, name), body=body)
        except ApiError as exc:
            if exc.status != 404:
                raise
            return False
        return True

    async def _wait_running(self, api: "KubeApi", build: _Build) -> None:
        deadline = time.monotonic() + self.settings.start_seconds
        while True:
            build.status = await api.call("GET", api.path("pods", build.pod))
            if kube_pod.all_running(build.status):
                return
            problem = kube_pod.start_problem(build.status, build.containers)
            if problem == f"{kube_pod.UNSCHEDULABLE}: {kube_pod.NO_SCHEDULER_MESSAGE}":
                # The condition has no message: the scheduler's event says why.
                event = await self._last_event(api, build.pod, "FailedScheduling")
                problem = f"{kube_pod.UNSCHEDULABLE}: {event}" if event else problem
            if problem is not None:
                raise ExecutorError(problem)
            if time.monotonic() > deadline:
                phase = (build.status.get("status") or {}).get("phase", "Pending")
                raise ExecutorError(
                    f"the build's pod did not start within {self.settings.start_seconds:g} s "
                    f"(still {phase})"
                )
            await asyncio.sleep(self.settings.poll_seconds)

    @staticmethod
    async def _last_event(api: "KubeApi", pod: str, reason: str) -> str | None:
        """The message of the pod's latest event with this reason, if any."""
        found = await api.call(
            "GET",
            api.path("events"),
            query=[("fieldSelector", f"involvedObject.kind=Pod,involvedObject.name={pod}")],
        )
        events = [e for e in found.get("items") or [] if e.get("reason") == reason]
        events.sort(key=lambda e: str(e.get("lastTimestamp") or e.get("eventTime") or ""))
        return str(events[-1].get("message") or "") or None if events else None

    async def _poll(self, api: "KubeApi", build: _Build) -> None:
        """Read the pod until the build ends: each started step's exit code."""
        from solvyd.pipeline.executors.kube_api import ApiError, Unreachable

        lost_since: float | None = None
        while True:
            try:
                build.status = await api.call("GET", api.path("pods", build.pod), timeout=10)
                lost_since = None
            except ApiError as exc:
                if exc.status == 404:
                    build.gone = True
                    _end_steps(build, "the build's pod was deleted while the step ran")
                    return
                lost_since = lost_since or time.monotonic()
            except Unreachable:
                lost_since = lost_since or time.monotonic()
            if lost_since is not None and time.monotonic() - lost_since > _LOST_API_SECONDS:
                _end_steps(build, "lost the Kubernetes API while the step ran")
                return
            for state in build.steps.values():
                ended = kube_pod.terminated(build.status, state.container)
                if state.started and ended is not None and not state.ended.done():
                    state.ended.set_result(int(ended.get("exitCode", -1)))
            await asyncio.sleep(self.settings.poll_seconds)

    async def _end_pod(self, build: _Build, why: str) -> None:
        from solvyd.pipeline.executors.kube_api import ApiError, Unreachable

        _end_steps(build, why)
        with contextlib.suppress(ApiError, Unreachable, ExecutorError):  # teardown tries again
            await self._delete(await self._connection(), "pods", build.pod)
            build.gone = True

    async def _control(self, build: _Build, name: str, what: str, content: str = "") -> None:
        path = f"{kube_pod.CONTROL}/{name}"
        command = ["touch", path]
        if content:
            command = ["sh", "-c", kube_pod.WRITE_START_SCRIPT, "solvyd-start", content, path]
        code, output = await self._exec(build, command)
        if code != 0:
            detail = output.decode("utf-8", "replace").strip()
            raise ExecutorError(f"cannot {what} in the build's pod: {detail or code}")

    async def _exec(self, build: _Build, command: list[str]) -> tuple[int, bytes]:
        from solvyd.pipeline.executors.kube_api import Unreachable

        api = await self._connection()
        try:
            return await asyncio.wait_for(api.exec(build.pod, kube_pod.HELPER, command), 30)
        except (Unreachable, TimeoutError) as exc:
            raise ExecutorError(f"pods/exec in the build's pod failed: {exc}") from exc

    def _ready(self, job: JobSpec) -> _Build:
        build = self._builds.get(_key(job))
        if build is None or build.poller is None:
            raise ExecutorError("the build's pod was not set up")
        return build

    def _started(self, job: JobSpec, step: StepSpec) -> tuple[_Build, _Step]:
        build = self._builds.get(_key(job))
        state = build.steps.get(step.name) if build is not None else None
        if build is None or state is None or not state.started:
            raise ExecutorError(f"step '{step.name}' was not started")
        return build, state


def _key(job: JobSpec) -> tuple[UUID, int]:
    return (job.build_id, job.attempt)


def _end_steps(build: _Build, why: str) -> None:
    for state in build.steps.values():
        if not state.ended.done():
            state.ended.set_exception(ExecutorError(why))
            state.ended.exception()  # retrieved: nobody may wait for a destroyed step


def _refused(exc: Any) -> str:
    if exc.status == 403:
        return f"the cluster refused the build's pod: {exc.message}"
    if exc.status == 401:
        return "the cluster refused the agent's credentials (401 Unauthorized)"
    return f"the Kubernetes API answered {exc.status} {exc.reason}: {exc.message}"
