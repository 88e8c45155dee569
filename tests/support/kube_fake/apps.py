"""apps/v1 Deployments in the fake API server, and a simulated rollout.

Paths and shapes as the API server serves them
(https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/deployment-v1/):

- ``GET /apis/apps/v1/namespaces/{namespace}/deployments/{name}`` -> the Deployment;
- ``PATCH`` on the same path with ``Content-Type`` one of
  ``application/strategic-merge-patch+json`` (lists such as ``containers`` merge by their
  ``name``, as the API's ``patchMergeKey`` says), ``application/merge-patch+json`` (RFC 7386)
  or ``application/json-patch+json`` (RFC 6902); any other type is refused with 415, as the
  API server does;
- ``POST /apis/apps/v1/namespaces/{namespace}/deployments`` creates one (409 if it exists).

A change of ``spec`` bumps ``metadata.generation``; the "controller" then converges
``status`` (``observedGeneration``, ``replicas``, ``updatedReplicas``, ``availableReplicas``,
``conditions`` of type ``Available`` and ``Progressing``) over about a second. Tests script a
failed rollout per image (`AppsApi.fail_image`): ``deadline`` ends it with the
``Progressing`` condition's reason ``ProgressDeadlineExceeded`` (as the deployment controller
sets it once ``spec.progressDeadlineSeconds`` passed); ``unavailable`` updates the replicas
but never makes them available (a crash-looping image), so only the client's timeout ends it.
"""

import asyncio
import contextlib
import copy
import json
from dataclasses import dataclass, field
from typing import Any, Literal

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.support.kube_fake.core import (
    FakeCluster,
    body_copy,
    merge_patch,
    not_found,
    now_rfc3339,
    status_error,
)

RESOURCE = "deployments"
PATH = "/apis/apps/v1/namespaces/{namespace}/deployments"
# The lists of a pod template that a strategic merge patch merges by key (the API's
# `x-kubernetes-patch-merge-key`); other lists are replaced whole.
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "ports": "containerPort",
    "imagePullSecrets": "name",
}
Failure = Literal["deadline", "unavailable"]
_UNSUPPORTED = (
    "the body of the request was in an unknown format - accepted media types include: "
    "application/json-patch+json, application/merge-patch+json, "
    "application/strategic-merge-patch+json"
)


@dataclass
class AppsApi:
    cluster: FakeCluster
    # How long a rollout takes to converge, in all.
    rollout_seconds: float = 1.0
    failures: dict[str, Failure] = field(default_factory=dict)
    # Every PATCH's content type and body, in order: tests check what a client sent.
    patches: list[tuple[str, Any]] = field(default_factory=list)
    _rollouts: dict[tuple[str, str], asyncio.Task[None]] = field(default_factory=dict)

    def fail_image(self, image: str, how: Failure = "deadline") -> None:
        """A rollout to `image` fails (see the module docstring)."""
        self.failures[image] = how

    async def add_deployment(
        self, namespace: str, name: str, image: str, *, replicas: int = 2, containers: int = 1
    ) -> dict[str, Any]:
        """A Deployment whose rollout is complete, as after `kubectl apply`."""
        names = ["app", *(f"sidecar-{i}" for i in range(1, containers))]
        obj: dict[str, Any] = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "generation": 1, "labels": {"app": name}},
            "spec": {
                "replicas": replicas,
                "progressDeadlineSeconds": 600,
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name}},
                    "spec": {
                        "containers": [
                            {"name": n, "image": image if n == "app" else "busybox:1"}
                            for n in names
                        ]
                    },
                },
            },
            "status": _settled(1, replicas),
        }
        return await self.cluster.put(RESOURCE, namespace, obj)

    def image_of(self, namespace: str, name: str, container: str = "app") -> str | None:
        obj = self.cluster.get(RESOURCE, namespace, name)
        if obj is None:
            return None
        for item in obj["spec"]["template"]["spec"]["containers"]:
            if item["name"] == container:
                return str(item["image"])
        return None

    # -- routes ----------------------------------------------------------------------------

    async def get(self, request: Request) -> Response:
        namespace, name = request.path_params["namespace"], request.path_params["name"]
        obj = self.cluster.get(RESOURCE, namespace, name)
        if obj is None:
            return not_found("deployments.apps", name)
        return JSONResponse(body_copy(obj))

    async def create(self, request: Request) -> Response:
        namespace = request.path_params["namespace"]
        try:
            obj = json.loads(await request.body())
            name = obj["metadata"]["name"]
        except (ValueError, KeyError, TypeError):
            return status_error(400, "BadRequest", "the body is no Deployment")
        if self.cluster.get(RESOURCE, namespace, name) is not None:
            return status_error(409, "AlreadyExists", f'deployments.apps "{name}" already exists')
        obj.setdefault("metadata", {})["generation"] = 1
        replicas = obj.get("spec", {}).get("replicas", 1)
        obj["status"] = _settled(1, replicas)
        stored = await self.cluster.put(RESOURCE, namespace, obj)
        return JSONResponse(body_copy(stored), status_code=201)

    async def patch(self, request: Request) -> Response:
        namespace, name = request.path_params["namespace"], request.path_params["name"]
        obj = self.cluster.get(RESOURCE, namespace, name)
        if obj is None:
            return not_found("deployments.apps", name)
        kind = request.headers.get("content-type", "").split(";")[0].strip()
        try:
            body = json.loads(await request.body())
        except ValueError:
            return status_error(400, "BadRequest", "the patch is not JSON")
        self.patches.append((kind, body))
        changed = copy.deepcopy(obj)
        try:
            if kind == "application/strategic-merge-patch+json":
                changed = _strategic_merge(changed, body)
            elif kind == "application/merge-patch+json":
                changed = merge_patch(changed, body)
            elif kind == "application/json-patch+json":
                changed = _json_patch(changed, body)
            else:
                return status_error(415, "UnsupportedMediaType", _UNSUPPORTED)
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            return status_error(422, "Invalid", f"the patch could not be applied: {exc}")
        changed["status"] = obj.get("status", {})
        changed["metadata"]["generation"] = obj["metadata"].get("generation", 1)
        if changed["spec"] != obj["spec"]:
            changed["metadata"]["generation"] += 1
        stored = await self.cluster.put(RESOURCE, namespace, changed)
        if changed["spec"] != obj["spec"]:
            self._start_rollout(namespace, name)
        return JSONResponse(body_copy(stored))

    def routes(self) -> list[Route]:
        return [
            Route(PATH, self.create, methods=["POST"]),
            Route(PATH + "/{name}", self.get, methods=["GET"]),
            Route(PATH + "/{name}", self.patch, methods=["PATCH"]),
        ]

    # -- the controller ----------------------------------------------------------------------

    def _start_rollout(self, namespace: str, name: str) -> None:
        key = (namespace, name)
        previous = self._rollouts.pop(key, None)
        if previous is not None:
            previous.cancel()
        self._rollouts[key] = asyncio.create_task(self._roll_out(namespace, name))

    async def _roll_out(self, namespace: str, name: str) -> None:
        obj = self.cluster.get(RESOURCE, namespace, name)
        assert obj is not None
        generation = obj["metadata"]["generation"]
        replicas = int(obj["spec"].get("replicas", 1))
        images = [c["image"] for c in obj["spec"]["template"]["spec"]["containers"]]
        failure = next((self.failures[i] for i in images if i in self.failures), None)
        pause = self.rollout_seconds / (replicas + 2)
        await asyncio.sleep(pause)
        await self._set_status(
            namespace, name, _rolling(generation, replicas, updated=0, available=replicas)
        )
        for updated in range(1, replicas + 1):
            await asyncio.sleep(pause)
            if failure == "deadline" and updated > 1:
                break
            available = replicas if failure is None else replicas - updated
            await self._set_status(
                namespace,
                name,
                _rolling(generation, replicas, updated=updated, available=max(available, 0)),
            )
        await asyncio.sleep(pause)
        if failure is None:
            await self._set_status(namespace, name, _settled(generation, replicas))
        elif failure == "deadline":
            status = _rolling(generation, replicas, updated=1, available=replicas - 1)
            status["conditions"][1] = {
                "type": "Progressing",
                "status": "False",
                "reason": "ProgressDeadlineExceeded",
                "message": f'ReplicaSet "{name}-{generation}" has timed out progressing.',
                "lastUpdateTime": now_rfc3339(),
                "lastTransitionTime": now_rfc3339(),
            }
            await self._set_status(namespace, name, status)
        # "unavailable": stays as it is, never complete.

    async def _set_status(self, namespace: str, name: str, status: dict[str, Any]) -> None:
        obj = self.cluster.get(RESOURCE, namespace, name)
        if obj is None:
            return
        obj = copy.deepcopy(obj)
        obj["status"] = status
        await self.cluster.put(RESOURCE, namespace, obj)

    async def close(self) -> None:
        for task in self._rollouts.values():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def install(cluster: FakeCluster, *, rollout_seconds: float = 1.0) -> AppsApi:
    """Serve apps/v1 deployments from `cluster` (call before `serving`)."""
    api = AppsApi(cluster, rollout_seconds=rollout_seconds)
    cluster.add_routes(api.routes())
    cluster.on_close(api.close)
    return api


def _settled(generation: int, replicas: int) -> dict[str, Any]:
    return {
        "observedGeneration": generation,
        "replicas": replicas,
        "updatedReplicas": replicas,
        "readyReplicas": replicas,
        "availableReplicas": replicas,
        "conditions": [
            {
                "type": "Available",
                "status": "True",
                "reason": "MinimumReplicasAvailable",
                "message": "Deployment has minimum availability.",
            },
            {
                "type": "Progressing",
                "status": "True",
                "reason": "NewReplicaSetAvailable",
                "message": "ReplicaSet has successfully progressed.",
            },
        ],
    }


def _rolling(generation: int, replicas: int, *, updated: int, available: int) -> dict[str, Any]:
    status = _settled(generation, replicas)
    # One surge pod while old and new replicas run side by side.
    status.update(
        replicas=replicas + (1 if updated < replicas else 0),
        updatedReplicas=updated,
        readyReplicas=available,
        availableReplicas=available,
    )
    status["conditions"][1] = {
        "type": "Progressing",
        "status": "True",
        "reason": "ReplicaSetUpdated",
        "message": "ReplicaSet is progressing.",
    }
    if available < replicas:
        status["unavailableReplicas"] = replicas - available
    return status


def _strategic_merge(target: Any, patch: Any, key: str | None = None) -> Any:
    """A merge patch whose lists in `MERGE_KEYS` merge item by item on their key."""
    if isinstance(patch, list) and key in MERGE_KEYS and isinstance(target, list):
        merge_key = MERGE_KEYS[key]
        result = [copy.deepcopy(item) for item in target]
        for item in patch:
            found = next(
                (i for i, have in enumerate(result) if have.get(merge_key) == item[merge_key]),
                None,
            )
            if found is None:
                result.append(copy.deepcopy(item))
            else:
                result[found] = _strategic_merge(result[found], item)
        return result
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for name, value in patch.items():
        if value is None:
            result.pop(name, None)
        else:
            result[name] = _strategic_merge(result.get(name), value, name)
    return result


def _json_patch(target: Any, operations: Any) -> Any:
    """RFC 6902's add, replace, remove and test (the ones clients send to set an image)."""
    if not isinstance(operations, list):
        raise ValueError("a JSON patch is a list of operations")
    doc = copy.deepcopy(target)
    for operation in operations:
        parts = [p.replace("~1", "/").replace("~0", "~") for p in operation["path"].split("/")[1:]]
        parent = doc
        for part in parts[:-1]:
            parent = parent[int(part)] if isinstance(parent, list) else parent[part]
        last = parts[-1]
        op = operation["op"]
        if isinstance(parent, list):
            index = len(parent) if last == "-" else int(last)
            if op == "add":
                parent.insert(index, operation["value"])
            elif op == "replace":
                parent[index] = operation["value"]
            elif op == "remove":
                del parent[index]
            elif op == "test" and parent[index] != operation["value"]:
                raise ValueError(f"test failed at {operation['path']}")
        else:
            if op in ("add", "replace"):
                if op == "replace" and last not in parent:
                    raise KeyError(operation["path"])
                parent[last] = operation["value"]
            elif op == "remove":
                del parent[last]
            elif op == "test" and parent.get(last) != operation["value"]:
                raise ValueError(f"test failed at {operation['path']}")
        if op not in ("add", "replace", "remove", "test"):
            raise ValueError(f"unknown operation {op!r}")
    return doc
