"""core/v1 of the fake API server: pods (with their log and exec), secrets and events, and a
fake kubelet that runs each pod's containers as real Docker containers.

Shapes, from the API reference (https://kubernetes.io/docs/reference/kubernetes-api/):

- Pod, PodStatus, ContainerStatus, ContainerState{Waiting,Running,Terminated}, PodCondition:
  .../workload-resources/pod-v1/ ("PodStatus": ``phase``, ``conditions``,
  ``containerStatuses``; "ContainerStatus": ``name``, ``state``, ``ready``, ``started``,
  ``restartCount``, ``image``, ``imageID``, ``containerID``).
- Pod operations: the same page, "Operations" (create, read, list with ``labelSelector``,
  delete returning the Pod; ``read log of the specified Pod``: GET
  /api/v1/namespaces/{namespace}/pods/{name}/log with ``container``, ``follow``,
  ``timestamps``, ``sinceTime``).
- Secret: .../config-and-storage-resources/secret-v1/ (``data`` base64, ``stringData`` is
  write-only and merged into ``data``).
- Event: .../cluster-resources/event-v1/ (core/v1 ``Event``: ``involvedObject``, ``reason``,
  ``message``, ``type``, ``source``, ``firstTimestamp``, ``lastTimestamp``, ``count``); listed
  with ``fieldSelector=involvedObject.name=...``.
- Status (errors, and exec's channel-3 result): .../common-definitions/status/.
- Exec: GET /api/v1/namespaces/{namespace}/pods/{name}/exec upgraded to a websocket with the
  ``v4.channel.k8s.io`` subprotocol; every binary message starts with its channel byte (1
  stdout, 2 stderr, 3 the final Status: ``{"status": "Success"}`` or ``Failure`` with reason
  ``NonZeroExitCode`` and the code in ``details.causes[0].message`` under reason ``ExitCode``),
  as https://kubernetes.io/docs/reference/using-api/ and the API server's remotecommand
  package send them.

The messages a kubelet and a scheduler write (``ErrImagePull``, ``ImagePullBackOff``,
``Unschedulable``, the quota's ``exceeded quota``) are copied from what real clusters show in
``kubectl describe pod`` and ``kubectl get events``.

The kubelet is simple: containers start in spec order, never restart (every pod here has
``restartPolicy: Never``), ``emptyDir`` volumes are host directories bound into the containers
that mount them, ``secretKeyRef`` env is read from the stored Secret. Docker's own log
timestamps (RFC 3339 with nanoseconds) are the kubelet's, so ``timestamps=true`` and
``sinceTime`` behave as on a node: a line at or after ``sinceTime`` is sent again.
"""

import asyncio
import base64
import contextlib
import json
import re
import shutil
import threading
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
from docker.errors import DockerException, ImageNotFound, NotFound
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from tests.support.kube_fake.core import (
    FakeCluster,
    body_copy,
    merge_patch,
    not_found,
    now_rfc3339,
    status_error,
)

NODE_NAME = "fake-node-1"
POD_LABEL = "solvyd.kube-fake.pod"  # on the Docker containers of a pod: its uid
PULL_BACKOFF_SECONDS = 0.5  # ErrImagePull, then ImagePullBackOff after this long
EXEC_PROTOCOL = "v4.channel.k8s.io"
# The Status ``reason`` of an error code (the API's StatusReason values).
_REASONS = {403: "Forbidden", 429: "TooManyRequests", 500: "InternalError"}


@dataclass
class Scripts:
    """Failures tests ask of the fake cluster; ``None`` means it behaves."""

    # The scheduler finds no node: new pods stay Pending with this message.
    unschedulable: str | None = None
    # Whether the pod's PodScheduled condition carries that message too (else only the
    # FailedScheduling event does, as with some schedulers and older clusters).
    unschedulable_in_condition: bool = True
    # A ResourceQuota refuses new pods: the create gets 403 with this quota's message.
    quota_exceeded: str | None = None
    # Every follow=true log stream ends after this many lines (a dropped connection), so
    # that a client must reconnect with sinceTime.
    cut_log_follow_after: int | None = None
    # Deleting a pod fails with this status (403, 429, 500...): the pod stays, running.
    delete_pod_status: int | None = None
    # A deleted pod stays, terminating (deletionTimestamp set), this long before it is gone.
    pod_deletion_seconds: float | None = None
    # Every pods/exec hangs (a kubelet that does not answer): its websocket stays open, silent.
    exec_hangs: bool = False


@dataclass
class _Container:
    name: str
    docker_id: str | None = None


@dataclass
class _Pod:
    namespace: str
    name: str
    uid: str
    host_dir: Path
    containers: dict[str, _Container] = field(default_factory=dict)
    task: "asyncio.Task[None] | None" = None
    deleted: bool = False


class PodsApi:
    """The routes of pods, secrets and events, and the kubelet that runs the pods."""

    def __init__(self, cluster: FakeCluster, host_root: Path) -> None:
        self.cluster = cluster
        self.scripts = Scripts()
        self.host_root = host_root
        self._pods: dict[tuple[str, str], _Pod] = {}
        self._removals: set[asyncio.Task[None]] = set()
        self._docker = docker.from_env(timeout=30)
        cluster.add_routes(self._routes())
        cluster.on_close(self.close)

    def _routes(self) -> list[Any]:
        base = "/api/v1/namespaces/{namespace}"
        return [
            Route(f"{base}/pods", self.create_pod, methods=["POST"]),
            Route(f"{base}/pods", self.list_pods, methods=["GET"]),
            Route(f"{base}/pods/{{name}}", self.read_pod, methods=["GET"]),
            Route(f"{base}/pods/{{name}}", self.delete_pod, methods=["DELETE"]),
            Route(f"{base}/pods/{{name}}/log", self.pod_log, methods=["GET"]),
            WebSocketRoute(f"{base}/pods/{{name}}/exec", self.pod_exec),
            Route(f"{base}/secrets", self.create_secret, methods=["POST"]),
            Route(f"{base}/secrets", self.list_secrets, methods=["GET"]),
            Route(f"{base}/secrets/{{name}}", self.read_secret, methods=["GET"]),
            Route(f"{base}/secrets/{{name}}", self.delete_secret, methods=["DELETE"]),
            Route(f"{base}/secrets/{{name}}", self.patch_secret, methods=["PATCH"]),
            Route(f"{base}/events", self.list_events, methods=["GET"]),
        ]

    async def close(self) -> None:
        await asyncio.gather(*self._removals)
        for pod in list(self._pods.values()):
            await self._remove_pod(pod)
        await asyncio.to_thread(self._docker.close)

    # -- pods ------------------------------------------------------------------------------

    async def create_pod(self, request: Request) -> Response:
        namespace = request.path_params["namespace"]
        body = await _json_body(request)
        if body is None or body.get("kind", "Pod") != "Pod":
            return status_error(400, "BadRequest", "the body of the request was not a Pod")
        meta = body.setdefault("metadata", {})
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
        name = meta.get("name")
        if not isinstance(name, str) or not _DNS_SUBDOMAIN.fullmatch(name):
            return status_error(
                422, "Invalid", f'Pod "{name}" is invalid: metadata.name: Invalid value'
            )
        if self.cluster.get("pods", namespace, name) is not None:
            return status_error(
                409, "AlreadyExists", f'pods "{name}" already exists', name=name, kind="pods"
            )
        if self.scripts.quota_exceeded is not None:
            return status_error(
                403,
                "Forbidden",
                f'pods "{name}" is forbidden: {self.scripts.quota_exceeded}',
                name=name,
                kind="pods",
            )
        body["apiVersion"], body["kind"] = "v1", "Pod"
        body.setdefault("spec", {}).setdefault("restartPolicy", "Always")
        body["status"] = {"phase": "Pending", "qosClass": _qos_class(body["spec"])}
        stored = await self.cluster.put("pods", namespace, body)
        pod = _Pod(
            namespace,
            name,
            stored["metadata"]["uid"],
            self.host_root / stored["metadata"]["uid"],
        )
        self._pods[(namespace, name)] = pod
        pod.task = asyncio.create_task(self._run_pod(pod), name=f"kubelet-{name}")
        return JSONResponse(body_copy(stored), status_code=201)

    async def read_pod(self, request: Request) -> Response:
        namespace, name = request.path_params["namespace"], request.path_params["name"]
        obj = self.cluster.get("pods", namespace, name)
        if obj is None:
            return not_found("pods", name)
        return JSONResponse(body_copy(obj))

    async def list_pods(self, request: Request) -> Response:
        return self._list(request, "pods", "PodList")

    async def delete_pod(self, request: Request) -> Response:
        namespace, name = request.path_params["namespace"], request.path_params["name"]
        if self.scripts.delete_pod_status is not None:
            code = self.scripts.delete_pod_status
            return status_error(
                code, _REASONS.get(code, "InternalError"), f"deleting {name} failed"
            )
        if self.scripts.pod_deletion_seconds:
            obj = self.cluster.get("pods", namespace, name)
            if obj is None:
                return not_found("pods", name)
            if "deletionTimestamp" not in obj["metadata"]:
                # Terminating: the object stays (a new pod of its name is refused with 409)
                # until the kubelet confirms its containers are gone.
                obj["metadata"]["deletionTimestamp"] = now_rfc3339()
                obj["metadata"]["deletionGracePeriodSeconds"] = 0
                pod = self._pods.get((namespace, name))
                if pod is not None:
                    pod.deleted = True
                await self.cluster.put("pods", namespace, obj)
                later = self._delete_pod_later(namespace, name, self.scripts.pod_deletion_seconds)
                self._removals.add(asyncio.create_task(later))
            return JSONResponse(body_copy(obj))
        obj = await self._delete_pod_now(namespace, name)
        if obj is None:
            return not_found("pods", name)
        obj["metadata"]["deletionTimestamp"] = now_rfc3339()
        obj["metadata"]["deletionGracePeriodSeconds"] = 0
        return JSONResponse(body_copy(obj))

    async def _delete_pod_later(self, namespace: str, name: str, seconds: float) -> None:
        await asyncio.sleep(seconds)
        await self._delete_pod_now(namespace, name)

    async def _delete_pod_now(self, namespace: str, name: str) -> dict[str, Any] | None:
        obj = await self.cluster.delete("pods", namespace, name)
        if obj is None:
            return None
        pod = self._pods.get((namespace, name))
        if pod is not None:
            # The object is gone at once (gracePeriodSeconds=0, or its grace is over when the
            # containers are): the kubelet kills them behind it.
            pod.deleted = True
            self._removals.add(asyncio.create_task(self._remove_pod(pod)))
        await self._collect_garbage(namespace, obj["metadata"]["uid"])
        return obj

    async def _collect_garbage(self, namespace: str, owner_uid: str) -> None:
        """The garbage collector's part: the Secrets the deleted pod owned
        (``metadata.ownerReferences[].uid``) go with it (background propagation; a real
        collector takes a moment, this one none)."""
        for secret in self.cluster.list("secrets", namespace):
            owners = secret["metadata"].get("ownerReferences") or []
            if any(owner.get("uid") == owner_uid for owner in owners):
                await self.cluster.delete("secrets", namespace, secret["metadata"]["name"])

    # -- log -------------------------------------------------------------------------------

    async def pod_log(self, request: Request) -> Response:
        namespace, name = request.path_params["namespace"], request.path_params["name"]
        obj = self.cluster.get("pods", namespace, name)
        pod = self._pods.get((namespace, name))
        if obj is None or pod is None:
            return not_found("pods", name)
        query = request.query_params
        names = [c["name"] for c in obj["spec"].get("containers", [])]
        container = query.get("container") or (names[0] if len(names) == 1 else None)
        if container is None:
            return status_error(
                400,
                "BadRequest",
                f"a container name must be specified for pod {name}, choose one of: {names}",
            )
        if container not in names:
            return status_error(
                400, "BadRequest", f"container {container} is not valid for pod {name}"
            )
        docker_id = pod.containers.get(container, _Container(container)).docker_id
        if docker_id is None:
            reason = _waiting_reason(obj, container) or "ContainerCreating"
            return status_error(
                400,
                "BadRequest",
                f'container "{container}" in pod "{name}" is waiting to start: {reason}',
            )
        since = query.get("sinceTime")
        try:
            since_ns = parse_timestamp_ns(since) if since else None
        except ValueError:
            return status_error(400, "BadRequest", f"invalid sinceTime {since!r}")
        follow = query.get("follow") == "true"
        timestamps = query.get("timestamps") == "true"
        cut = self.scripts.cut_log_follow_after if follow else None
        lines = self._log_lines(docker_id, follow, since_ns)

        async def body() -> AsyncIterator[bytes]:
            sent = 0
            async with contextlib.aclosing(lines):
                async for stamp, text in lines:
                    yield (f"{stamp} {text}" if timestamps else text).encode() + b"\n"
                    sent += 1
                    if cut is not None and sent >= cut:
                        return

        return StreamingResponse(body(), media_type="text/plain")

    async def _log_lines(
        self, docker_id: str, follow: bool, since_ns: int | None
    ) -> AsyncIterator[tuple[str, str]]:
        """(timestamp, line) of the container's output, from a thread following Docker's."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[str, str] | None] = asyncio.Queue()
        stop = threading.Event()
        stream_box: list[Any] = []

        def follow_docker() -> None:
            try:
                api = self._docker.api
                since = max(since_ns // 1_000_000_000 - 1, 0) if since_ns else None
                kwargs: dict[str, Any] = {"since": since} if since else {}
                stream = api.logs(
                    docker_id, stdout=True, stderr=True, stream=True, follow=follow,
                    timestamps=True, **kwargs,
                )  # fmt: skip
                stream_box.append(stream)
                buffer = b""
                for chunk in stream:
                    if stop.is_set():
                        break
                    buffer += chunk
                    *complete, buffer = buffer.split(b"\n")
                    for raw in complete:
                        stamp, _, text = raw.decode("utf-8", "replace").partition(" ")
                        if since_ns is not None and parse_timestamp_ns(stamp) < since_ns:
                            continue
                        loop.call_soon_threadsafe(queue.put_nowait, (stamp, text))
            except (DockerException, OSError, ValueError):
                pass
            finally:
                for stream in stream_box:
                    # Closing the stream closes its socket only once the response's file
                    # object lets go of it (else a ResourceWarning when it is collected).
                    with contextlib.suppress(Exception):
                        stream.close()
                    with contextlib.suppress(Exception):
                        stream._response.close()
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(queue.put_nowait, None)

        threading.Thread(target=follow_docker, daemon=True, name="fake-kubelet-log").start()
        try:
            while (item := await queue.get()) is not None:
                yield item
        finally:
            stop.set()
            for stream in stream_box:
                with contextlib.suppress(Exception):
                    stream.close()

    # -- exec ------------------------------------------------------------------------------

    async def pod_exec(self, websocket: WebSocket) -> None:
        namespace = websocket.path_params["namespace"]
        name = websocket.path_params["name"]
        offered = websocket.headers.get("sec-websocket-protocol", "")
        if EXEC_PROTOCOL not in [p.strip() for p in offered.split(",")]:
            await websocket.close(code=1002)
            return
        await websocket.accept(subprotocol=EXEC_PROTOCOL)
        if self.scripts.exec_hangs:
            with contextlib.suppress(Exception):
                await websocket.receive()  # until the client goes
            return
        query = websocket.query_params
        command = query.getlist("command")
        pod = self._pods.get((namespace, name))
        obj = self.cluster.get("pods", namespace, name)
        container = query.get("container")
        found = pod.containers.get(container or "") if pod is not None else None
        if obj is None or found is None or found.docker_id is None or not command:
            problem = (
                f'pods "{name}" not found'
                if obj is None
                else f'unable to upgrade connection: container not found ("{container}")'
            )
            await self._send_status(websocket, _exec_failure(problem))
            return
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[int, bytes] | None] = asyncio.Queue()
        exit_code: list[int | None] = [None]
        docker_id = found.docker_id

        def run() -> None:
            try:
                api = self._docker.api
                created = api.exec_create(docker_id, command, stdout=True, stderr=True)
                # Not streamed: docker's exec stream leaves its socket to the GC. Exec output
                # here is small (control commands, listings, artifacts of tests).
                out, err = api.exec_start(created["Id"], demux=True)
                if out:
                    loop.call_soon_threadsafe(queue.put_nowait, (1, out))
                if err:
                    loop.call_soon_threadsafe(queue.put_nowait, (2, err))
                exit_code[0] = api.exec_inspect(created["Id"]).get("ExitCode")
            except (DockerException, OSError):
                exit_code[0] = None
            finally:
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(queue.put_nowait, None)

        threading.Thread(target=run, daemon=True, name="fake-kubelet-exec").start()
        while (item := await queue.get()) is not None:
            channel, data = item
            await websocket.send_bytes(bytes([channel]) + data)
        code = exit_code[0]
        if code == 0:
            result: dict[str, Any] = {"metadata": {}, "status": "Success"}
        elif code is None:
            result = _exec_failure(f"container {container} is not running")
        else:
            result = {
                "metadata": {},
                "status": "Failure",
                "message": (
                    f"command terminated with non-zero exit code: error executing command "
                    f"{command}, exit code {code}"
                ),
                "reason": "NonZeroExitCode",
                "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]},
            }
        await self._send_status(websocket, result)

    @staticmethod
    async def _send_status(websocket: WebSocket, status: dict[str, Any]) -> None:
        with contextlib.suppress(Exception):
            await websocket.send_bytes(b"\x03" + json.dumps(status).encode())
            await websocket.close()

    # -- secrets ---------------------------------------------------------------------------

    async def create_secret(self, request: Request) -> Response:
        namespace = request.path_params["namespace"]
        body = await _json_body(request)
        name = (body or {}).get("metadata", {}).get("name")
        if body is None or not isinstance(name, str) or not _DNS_SUBDOMAIN.fullmatch(name):
            return status_error(422, "Invalid", f'Secret "{name}" is invalid')
        if self.cluster.get("secrets", namespace, name) is not None:
            return status_error(
                409, "AlreadyExists", f'secrets "{name}" already exists', name=name, kind="secrets"
            )
        data = dict(body.get("data") or {})
        for key, value in (body.pop("stringData", None) or {}).items():
            data[key] = base64.b64encode(str(value).encode()).decode()
        for value in data.values():
            try:
                base64.b64decode(value, validate=True)
            except ValueError:
                return status_error(
                    422, "Invalid", f'Secret "{name}" is invalid: data: illegal base64'
                )
        body.update(apiVersion="v1", kind="Secret", data=data)
        body.setdefault("type", "Opaque")
        stored = await self.cluster.put("secrets", namespace, body)
        return JSONResponse(body_copy(stored), status_code=201)

    async def read_secret(self, request: Request) -> Response:
        namespace, name = request.path_params["namespace"], request.path_params["name"]
        obj = self.cluster.get("secrets", namespace, name)
        return not_found("secrets", name) if obj is None else JSONResponse(body_copy(obj))

    async def list_secrets(self, request: Request) -> Response:
        return self._list(request, "secrets", "SecretList")

    async def patch_secret(self, request: Request) -> Response:
        """A JSON merge patch (RFC 7386), as ``kubectl patch --type merge`` sends: the only
        kind the executor sends (its Secret's ``metadata.ownerReferences``)."""
        namespace, name = request.path_params["namespace"], request.path_params["name"]
        obj = self.cluster.get("secrets", namespace, name)
        if obj is None:
            return not_found("secrets", name)
        kind = request.headers.get("content-type", "").split(";")[0].strip()
        if kind != "application/merge-patch+json":
            return status_error(415, "UnsupportedMediaType", f"the patch type {kind} is not served")
        patch = await _json_body(request)
        if patch is None:
            return status_error(400, "BadRequest", "the patch is not a JSON object")
        changed = merge_patch(obj, patch)
        changed["metadata"]["uid"] = obj["metadata"]["uid"]
        stored = await self.cluster.put("secrets", namespace, changed)
        return JSONResponse(body_copy(stored))

    async def delete_secret(self, request: Request) -> Response:
        namespace, name = request.path_params["namespace"], request.path_params["name"]
        obj = await self.cluster.delete("secrets", namespace, name)
        if obj is None:
            return not_found("secrets", name)
        return JSONResponse(
            {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Success",
                "details": {"name": name, "kind": "secrets", "uid": obj["metadata"]["uid"]},
            }
        )

    # -- events ----------------------------------------------------------------------------

    async def list_events(self, request: Request) -> Response:
        return self._list(request, "events", "EventList")

    async def _event(
        self, pod: _Pod, kind: str, reason: str, message: str, component: str = "kubelet"
    ) -> None:
        """Record an event about the pod, or count one more of the same (as the kubelet's
        event recorder folds repeats)."""
        for event in self.cluster.list("events", pod.namespace):
            if (
                event["involvedObject"]["uid"] == pod.uid
                and event["reason"] == reason
                and event["message"] == message
            ):
                event["count"] += 1
                event["lastTimestamp"] = now_rfc3339()
                await self.cluster.put("events", pod.namespace, event)
                return
        now = now_rfc3339()
        await self.cluster.put(
            "events",
            pod.namespace,
            {
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {"name": f"{pod.name}.{uuid.uuid4().hex[:16]}"},
                "involvedObject": {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "namespace": pod.namespace,
                    "name": pod.name,
                    "uid": pod.uid,
                },
                "reason": reason,
                "message": message,
                "source": {"component": component}
                | ({"host": NODE_NAME} if component == "kubelet" else {}),
                "firstTimestamp": now,
                "lastTimestamp": now,
                "count": 1,
                "type": kind,
                "eventTime": None,
                "reportingComponent": component,
                "reportingInstance": NODE_NAME if component == "kubelet" else "",
            },
        )

    def _list(self, request: Request, resource: str, kind: str) -> Response:
        namespace = request.path_params["namespace"]
        try:
            labels = _selector(request.query_params.get("labelSelector", ""))
            fields = _selector(request.query_params.get("fieldSelector", ""))
        except ValueError as exc:
            return status_error(400, "BadRequest", str(exc))
        items = [
            body_copy(obj)
            for obj in self.cluster.list(resource, namespace)
            if _matches(obj.get("metadata", {}).get("labels") or {}, labels)
            and _matches(_field_values(obj), fields)
        ]
        for item in items:  # list items carry no kind/apiVersion of their own
            item.pop("kind", None)
            item.pop("apiVersion", None)
        version = max((int(i["metadata"]["resourceVersion"]) for i in items), default=0)
        return JSONResponse(
            {
                "kind": kind,
                "apiVersion": "v1",
                "metadata": {"resourceVersion": str(version)},
                "items": items,
            }
        )

    # -- the kubelet -----------------------------------------------------------------------

    async def _run_pod(self, pod: _Pod) -> None:
        if self.scripts.unschedulable is not None:
            message = self.scripts.unschedulable
            await self._update(
                pod,
                lambda status: status.update(
                    conditions=[
                        _condition(
                            "PodScheduled",
                            "False",
                            "Unschedulable",
                            message if self.scripts.unschedulable_in_condition else None,
                        )
                    ]
                ),
            )
            await self._event(pod, "Warning", "FailedScheduling", message, "default-scheduler")
            return
        obj = self.cluster.get("pods", pod.namespace, pod.name)
        if obj is None:
            return
        obj["spec"]["nodeName"] = NODE_NAME
        specs = obj["spec"].get("containers", [])
        await self._update(
            pod,
            lambda status: status.update(
                conditions=[_condition("PodScheduled", "True")],
                hostIP="10.0.0.1",
                startTime=now_rfc3339(),
                containerStatuses=[_waiting(c, "ContainerCreating") for c in specs],
            ),
        )
        await self._event(
            pod,
            "Normal",
            "Scheduled",
            f"Successfully assigned {pod.namespace}/{pod.name} to {NODE_NAME}",
            "default-scheduler",
        )
        volumes = await asyncio.to_thread(self._make_volumes, pod, obj["spec"])
        for spec in specs:
            if pod.deleted:
                return
            await self._start_container(pod, obj, spec, volumes)

    def _make_volumes(self, pod: _Pod, spec: dict[str, Any]) -> dict[str, Path]:
        volumes = {}
        for volume in spec.get("volumes", []):
            if "emptyDir" in volume:
                path = pod.host_dir / volume["name"]
                path.mkdir(parents=True, exist_ok=True)
                path.chmod(0o777)  # as the kubelet makes an emptyDir: for any user
                volumes[volume["name"]] = path
        return volumes

    async def _start_container(
        self, pod: _Pod, obj: dict[str, Any], spec: dict[str, Any], volumes: dict[str, Path]
    ) -> None:
        name, image = spec["name"], spec.get("image", "")
        pod.containers[name] = _Container(name)
        if not await asyncio.to_thread(self._has_image, image):
            await self._pull_failed(pod, name, image)
            return
        env: dict[str, str] = {}
        for item in spec.get("env", []):
            ref = (item.get("valueFrom") or {}).get("secretKeyRef")
            if ref is None:
                env[item["name"]] = str(item.get("value", ""))
                continue
            secret = self.cluster.get("secrets", pod.namespace, ref["name"])
            if secret is None or ref["key"] not in (secret.get("data") or {}):
                message = (
                    f'secret "{ref["name"]}" not found'
                    if secret is None
                    else f"couldn't find key {ref['key']} in Secret {pod.namespace}/{ref['name']}"
                )
                await self._set_waiting(pod, name, "CreateContainerConfigError", message)
                await self._event(pod, "Warning", "Failed", f"Error: {message}")
                return
            env[item["name"]] = base64.b64decode(secret["data"][ref["key"]]).decode()
        binds = {
            str(volumes[mount["name"]]): {
                "bind": mount["mountPath"],
                "mode": "ro" if mount.get("readOnly") else "rw",
            }
            for mount in spec.get("volumeMounts", [])
            if mount["name"] in volumes
        }
        try:
            docker_id, start_error = await asyncio.to_thread(
                self._run_container, pod, spec, env, binds
            )
        except DockerException as exc:
            await self._set_waiting(pod, name, "CreateContainerError", str(exc))
            await self._event(pod, "Warning", "Failed", f"Error: {exc}")
            return
        pod.containers[name].docker_id = docker_id
        if pod.deleted:
            await asyncio.to_thread(self._remove_container, docker_id)
            return
        started = now_rfc3339()
        if start_error is not None:
            # Made but not started (no such command in the image...): as containerd's
            # kubelet reports it, terminated at once with StartError and exit code 128.
            await self._start_failed(pod, name, docker_id, started, start_error)
            return

        def running(status: dict[str, Any]) -> None:
            entry = _status_of(status, name)
            entry.update(
                state={"running": {"startedAt": started}},
                ready=True,
                started=True,
                containerID=f"docker://{docker_id}",
                imageID=f"docker-pullable://{image}",
            )
            _settle_phase(status)

        await self._update(pod, running)
        await self._event(pod, "Normal", "Created", f"Created container {name}")
        await self._event(pod, "Normal", "Started", f"Started container {name}")
        loop = asyncio.get_running_loop()
        threading.Thread(
            target=self._wait_container,
            args=(pod, name, docker_id, started, loop),
            daemon=True,
            name=f"fake-kubelet-wait-{name}",
        ).start()

    async def _start_failed(
        self, pod: _Pod, name: str, docker_id: str, started: str, message: str
    ) -> None:
        def terminated(status: dict[str, Any]) -> None:
            entry = _status_of(status, name)
            entry.update(
                state={
                    "terminated": {
                        "exitCode": 128,
                        "reason": "StartError",
                        "message": message,
                        "startedAt": "1970-01-01T00:00:00Z",
                        "finishedAt": started,
                        "containerID": f"docker://{docker_id}",
                    }
                },
                ready=False,
                started=False,
            )
            _settle_phase(status)

        await self._update(pod, terminated)
        await self._event(pod, "Warning", "Failed", f"Error: {message}")

    async def _pull_failed(self, pod: _Pod, name: str, image: str) -> None:
        reference = image if "/" in image else f"docker.io/library/{image}"
        if ":" not in reference.rsplit("/", 1)[-1]:
            reference += ":latest"
        detail = (
            f'rpc error: code = NotFound desc = failed to pull and unpack image "{reference}": '
            f'failed to resolve reference "{reference}": {reference}: not found'
        )
        await self._event(pod, "Normal", "Pulling", f'Pulling image "{image}"')
        await self._set_waiting(pod, name, "ErrImagePull", detail)
        await self._event(pod, "Warning", "Failed", f'Failed to pull image "{image}": {detail}')
        await self._event(pod, "Warning", "Failed", "Error: ErrImagePull")
        await asyncio.sleep(PULL_BACKOFF_SECONDS)
        if pod.deleted:
            return
        backoff = f'Back-off pulling image "{image}"'
        await self._set_waiting(pod, name, "ImagePullBackOff", backoff)
        await self._event(pod, "Normal", "BackOff", backoff)
        await self._event(pod, "Warning", "Failed", "Error: ImagePullBackOff")

    async def _set_waiting(self, pod: _Pod, name: str, reason: str, message: str) -> None:
        def waiting(status: dict[str, Any]) -> None:
            entry = _status_of(status, name)
            entry["state"] = {"waiting": {"reason": reason, "message": message}}
            entry["ready"] = False
            entry["started"] = False

        await self._update(pod, waiting)

    def _wait_container(
        self,
        pod: _Pod,
        name: str,
        docker_id: str,
        started: str,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        try:
            code = int(self._docker.api.wait(docker_id, timeout=None)["StatusCode"])
        except (DockerException, OSError):
            return  # removed with its pod
        finished = now_rfc3339()

        def terminated(status: dict[str, Any]) -> None:
            entry = _status_of(status, name)
            entry.update(
                state={
                    "terminated": {
                        "exitCode": code,
                        "reason": "Completed" if code == 0 else "Error",
                        "startedAt": started,
                        "finishedAt": finished,
                        "containerID": f"docker://{docker_id}",
                    }
                },
                ready=False,
                started=False,
            )
            _settle_phase(status)

        with contextlib.suppress(RuntimeError):
            asyncio.run_coroutine_threadsafe(self._update(pod, terminated), loop)

    async def _update(self, pod: _Pod, change: Callable[[dict[str, Any]], None]) -> None:
        obj = self.cluster.get("pods", pod.namespace, pod.name)
        if obj is None or pod.deleted or obj["metadata"]["uid"] != pod.uid:
            return
        change(obj.setdefault("status", {}))
        await self.cluster.put("pods", pod.namespace, obj)

    async def _remove_pod(self, pod: _Pod) -> None:
        pod.deleted = True
        self._pods.pop((pod.namespace, pod.name), None)
        if pod.task is not None and not pod.task.done():
            pod.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pod.task
        for container in pod.containers.values():
            if container.docker_id is not None:
                await asyncio.to_thread(self._remove_container, container.docker_id)
        await asyncio.to_thread(shutil.rmtree, pod.host_dir, True)

    # Blocking Docker calls: run in threads.

    def _has_image(self, image: str) -> bool:
        try:
            self._docker.images.get(image)
        except ImageNotFound:
            return False
        except DockerException:
            return False
        return True

    def _run_container(
        self,
        pod: _Pod,
        spec: dict[str, Any],
        env: dict[str, str],
        binds: dict[str, dict[str, str]],
    ) -> tuple[str, str | None]:
        """Create and start one container: its id, and why it did not start (or None)."""
        api = self._docker.api
        created = api.create_container(
            spec["image"],
            entrypoint=spec.get("command"),
            command=spec.get("args"),
            working_dir=spec.get("workingDir"),
            environment=env,
            labels={POD_LABEL: pod.uid, "io.kubernetes.pod.name": pod.name},
            # The node's network: a pod reaches what the test serves on loopback (a git
            # server), as a pod of a real cluster reaches its network's services.
            host_config=api.create_host_config(binds=binds, network_mode="host"),
            stdin_open=False,
            tty=False,
        )
        try:
            api.start(created["Id"])
        except DockerException as exc:
            return str(created["Id"]), str(getattr(exc, "explanation", None) or exc)
        return str(created["Id"]), None

    def _remove_container(self, docker_id: str) -> None:
        with contextlib.suppress(NotFound, DockerException):
            self._docker.api.remove_container(docker_id, force=True)

    def docker_containers(self, pod_uid: str) -> list[str]:
        """The Docker containers (running or not) of a pod, by its uid: for tests."""
        # The low-level list: the high-level one inspects each container, racing removals.
        found = self._docker.api.containers(all=True, filters={"label": f"{POD_LABEL}={pod_uid}"})
        return [str(c["Id"]) for c in found]


def install(cluster: FakeCluster, host_root: Path) -> PodsApi:
    """Add core/v1 pods, secrets and events to `cluster` (before it is served); the pods'
    emptyDir volumes live under `host_root`."""
    return PodsApi(cluster, host_root)


def parse_timestamp_ns(stamp: str) -> int:
    """An RFC 3339 time with up to nanoseconds (``2026-12-04T20:39:13.123456789Z``) as
    nanoseconds since the epoch, exactly (``datetime`` keeps only microseconds)."""
    from datetime import datetime

    match = _TIMESTAMP.fullmatch(stamp)
    if match is None:
        raise ValueError(f"not an RFC 3339 time: {stamp!r}")
    whole, fraction, zone = match.groups()
    seconds = datetime.fromisoformat(whole + (zone if zone != "Z" else "+00:00")).timestamp()
    nanos = int((fraction or "").ljust(9, "0")[:9] or 0)
    return int(seconds) * 1_000_000_000 + nanos


_TIMESTAMP = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?")


async def _json_body(request: Request) -> dict[str, Any] | None:
    try:
        body = json.loads(await request.body())
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _selector(text: str) -> list[tuple[str, str, str | None]]:
    """``a=b,c!=d,e`` as (key, operator, value); set-based selectors are not spoken here."""
    terms: list[tuple[str, str, str | None]] = []
    for term in filter(None, (part.strip() for part in text.split(","))):
        for operator in ("!=", "==", "="):
            if operator in term:
                key, _, value = term.partition(operator)
                terms.append((key.strip(), "!=" if operator == "!=" else "=", value.strip()))
                break
        else:
            if not re.fullmatch(r"[A-Za-z0-9./_-]+", term):
                raise ValueError(f"unable to parse requirement: {term!r}")
            terms.append((term, "exists", None))
    return terms


def _matches(values: dict[str, str], terms: list[tuple[str, str, str | None]]) -> bool:
    for key, operator, value in terms:
        have = values.get(key)
        if operator == "exists" and have is None:
            return False
        if operator == "=" and have != value:
            return False
        if operator == "!=" and have == value:
            return False
    return True


def _field_values(obj: dict[str, Any]) -> dict[str, str]:
    meta = obj.get("metadata", {})
    values = {"metadata.name": meta.get("name", ""), "metadata.namespace": meta.get("namespace")}
    for key, value in (obj.get("involvedObject") or {}).items():
        values[f"involvedObject.{key}"] = str(value)
    if "status" in obj and isinstance(obj["status"], dict):
        values["status.phase"] = obj["status"].get("phase", "")
    return {key: value for key, value in values.items() if value is not None}


def _condition(
    kind: str, status: str, reason: str | None = None, message: str | None = None
) -> dict[str, Any]:
    condition: dict[str, Any] = {
        "type": kind,
        "status": status,
        "lastProbeTime": None,
        "lastTransitionTime": now_rfc3339(),
    }
    if reason:
        condition["reason"] = reason
    if message:
        condition["message"] = message
    return condition


def _waiting(spec: dict[str, Any], reason: str) -> dict[str, Any]:
    return {
        "name": spec["name"],
        "state": {"waiting": {"reason": reason}},
        "lastState": {},
        "ready": False,
        "restartCount": 0,
        "image": spec.get("image", ""),
        "imageID": "",
        "started": False,
    }


def _status_of(status: dict[str, Any], name: str) -> dict[str, Any]:
    for entry in status.get("containerStatuses", []):
        if entry["name"] == name:
            return entry  # type: ignore[no-any-return]
    raise KeyError(name)


def _waiting_reason(obj: dict[str, Any], name: str) -> str | None:
    for entry in obj.get("status", {}).get("containerStatuses", []):
        if entry["name"] == name:
            reason = (entry.get("state", {}).get("waiting") or {}).get("reason")
            return str(reason) if reason else None
    return None


def _settle_phase(status: dict[str, Any]) -> None:
    """Phase and conditions from the containers' states, as the kubelet computes them for a
    pod that never restarts its containers."""
    states = [entry.get("state", {}) for entry in status.get("containerStatuses", [])]
    if any("waiting" in state for state in states):
        return
    scheduled = [c for c in status.get("conditions", []) if c["type"] == "PodScheduled"]
    ready = "True" if all("running" in state for state in states) else "False"
    status["conditions"] = [
        *scheduled,
        _condition("Initialized", "True"),
        _condition("ContainersReady", ready),
        _condition("Ready", ready),
    ]
    if all("terminated" in state for state in states):
        codes = [state["terminated"]["exitCode"] for state in states]
        status["phase"] = "Succeeded" if all(code == 0 for code in codes) else "Failed"
    else:
        status["phase"] = "Running"
        status.setdefault("podIP", "10.244.0.10")


def _qos_class(spec: dict[str, Any]) -> str:
    resources = [c.get("resources") or {} for c in spec.get("containers", [])]
    if not any(r.get("requests") or r.get("limits") for r in resources):
        return "BestEffort"
    if all(r.get("limits") and r.get("requests") == r.get("limits") for r in resources):
        return "Guaranteed"
    return "Burstable"


def _exec_failure(message: str) -> dict[str, Any]:
    return {"metadata": {}, "status": "Failure", "message": message, "reason": "InternalError"}
