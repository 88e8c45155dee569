"""The built-in Kubernetes deploy target: set the image of a Deployment's container and wait
for the rollout, as `kubectl set image` then `kubectl rollout status` would.

The client (kubernetes_asyncio, ~80 MB and 2 s to import) is imported on the first rollout,
never at start: a server that deploys nothing must not pay for it.

Shapes read (https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/deployment-v1/):
`metadata.generation`, `spec.replicas`, `spec.template.spec.containers[].{name,image}`,
`status.{observedGeneration,replicas,updatedReplicas,availableReplicas,conditions[]}`; a
`Progressing` condition with reason `ProgressDeadlineExceeded` is a failed rollout, as
`kubectl rollout status` reads it.
"""

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from solvyd.protocol import KubernetesDeployTarget

Progress = Callable[[str], Awaitable[None]]


class RolloutFailed(Exception):
    """The rollout did not happen or did not finish: the message says why, for the step's log
    and the deployment's record."""


class NotConfigured(RolloutFailed):
    """The server has no cluster to deploy to."""


@dataclass(frozen=True)
class ClusterSettings:
    kubeconfig: Path | None = None
    in_cluster: bool = False
    # How often the Deployment's status is read while the rollout runs.
    poll_seconds: float = 1.0


@dataclass(frozen=True)
class RolloutState:
    """What `kubectl rollout status` looks at, read off one Deployment."""

    generation: int
    observed_generation: int
    replicas: int
    updated: int
    available: int
    total: int
    deadline_exceeded: str | None  # the Progressing condition's message, when it gave up

    @classmethod
    def of(cls, deployment: dict[str, Any]) -> "RolloutState":
        spec = deployment.get("spec") or {}
        status = deployment.get("status") or {}
        exceeded = None
        for condition in status.get("conditions") or []:
            if (
                condition.get("type") == "Progressing"
                and condition.get("reason") == "ProgressDeadlineExceeded"
            ):
                exceeded = str(condition.get("message") or "progress deadline exceeded")
        replicas = spec.get("replicas")
        return cls(
            generation=int((deployment.get("metadata") or {}).get("generation") or 0),
            observed_generation=int(status.get("observedGeneration") or 0),
            replicas=1 if replicas is None else int(replicas),
            updated=int(status.get("updatedReplicas") or 0),
            available=int(status.get("availableReplicas") or 0),
            total=int(status.get("replicas") or 0),
            deadline_exceeded=exceeded,
        )

    @property
    def done(self) -> bool:
        return (
            self.observed_generation >= self.generation
            and self.updated == self.replicas
            and self.available == self.replicas
            and self.total == self.replicas
        )

    def describe(self) -> str:
        if self.observed_generation < self.generation:
            return "waiting for the Deployment's new spec to be observed"
        return (
            f"{self.updated} of {self.replicas} replicas updated, "
            f"{self.available} available, {self.total} in all"
        )


async def roll_out(
    cluster: ClusterSettings,
    target: KubernetesDeployTarget,
    *,
    deadline: float,
    progress: Progress,
) -> None:
    """Set `target.image` and wait until the rollout is complete, or raise `RolloutFailed`
    (also when `deadline`, a `time.monotonic()` value, passes first). Setting an image the
    container already has changes nothing and waits for the rollout in course: a server
    that takes over a dead one's rollout calls this again."""
    api = await _apps_api(cluster)
    where = f"deployment {target.namespace}/{target.deployment}"
    try:
        current = _as_dict(api, await _call(api.read_namespaced_deployment, where, target))
        container = _container(current, target, where)
        await progress(f"setting the image of container '{container}' of {where} to {target.image}")
        patch = {"spec": {"template": {"spec": {"containers": [
            {"name": container, "image": target.image}
        ]}}}}  # fmt: skip
        # A dict is sent as a strategic merge patch: containers merge by name, so the other
        # containers and this one's other settings stay as they are.
        patched = await _call(
            lambda name, namespace: api.patch_namespaced_deployment(name, namespace, patch),
            where,
            target,
        )
        await _wait_for_rollout(
            api, target, where, _as_dict(api, patched), deadline, progress, cluster.poll_seconds
        )
    finally:
        await api.api_client.close()


async def _wait_for_rollout(
    api: Any,
    target: KubernetesDeployTarget,
    where: str,
    patched: dict[str, Any],
    deadline: float,
    progress: Progress,
    poll_seconds: float,
) -> None:
    generation = RolloutState.of(patched).generation
    said = ""
    while True:
        state = RolloutState.of(
            _as_dict(api, await _call(api.read_namespaced_deployment, where, target))
        )
        # The spec we set, at least (a later change by someone else counts too).
        state = RolloutState(**{**state.__dict__, "generation": max(generation, state.generation)})
        if state.deadline_exceeded and state.observed_generation >= state.generation:
            raise RolloutFailed(f"the rollout of {where} failed: {state.deadline_exceeded}")
        line = state.describe()
        if line != said:
            await progress(line)
            said = line
        if state.done:
            await progress(f"the rollout of {where} is complete")
            return
        pause = min(poll_seconds, deadline - time.monotonic())
        if pause <= 0:
            raise RolloutFailed(f"the rollout of {where} did not finish in time ({line})")
        await asyncio.sleep(pause)


def _container(data: dict[str, Any], target: KubernetesDeployTarget, where: str) -> str:
    containers = (((data.get("spec") or {}).get("template") or {}).get("spec") or {}).get(
        "containers"
    ) or []
    names = [str(c.get("name")) for c in containers if isinstance(c, dict)]
    if target.container is not None:
        if target.container not in names:
            raise RolloutFailed(
                f"{where} has no container '{target.container}' (it has: {', '.join(names)})"
            )
        return target.container
    if len(names) != 1:
        raise RolloutFailed(
            f"{where} has {len(names)} containers ({', '.join(names)}): name the one to "
            "update with `container:`"
        )
    return names[0]


async def _call(
    method: Callable[[str, str], Awaitable[Any]], where: str, target: KubernetesDeployTarget
) -> Any:
    from kubernetes_asyncio.client.exceptions import ApiException  # lazy: see the docstring

    try:
        return await method(target.deployment, target.namespace)
    except ApiException as exc:
        if exc.status == 404:
            raise RolloutFailed(f"{where} not found") from None
        if exc.status in (401, 403):
            raise RolloutFailed(
                f"the cluster refused access to {where} ({exc.status} {exc.reason}): the "
                "server's account needs get and patch on deployments in that namespace"
            ) from None
        raise RolloutFailed(f"the cluster answered {exc.status} {exc.reason} for {where}") from None
    except Exception as exc:
        # aiohttp's connection errors and timeouts, whatever their class.
        raise RolloutFailed(
            f"the cluster could not be reached: {type(exc).__name__}: {exc}"
        ) from None


def _as_dict(api: Any, obj: Any) -> dict[str, Any]:
    """The API's answer as plain JSON (the client's models use Python names)."""
    if isinstance(obj, dict):
        return obj
    data: dict[str, Any] = api.api_client.sanitize_for_serialization(obj)
    return data


async def _apps_api(cluster: ClusterSettings) -> Any:
    """An AppsV1Api for the configured cluster (imports the client on first use)."""
    if cluster.kubeconfig is None and not cluster.in_cluster:
        raise NotConfigured(
            "this server has no cluster to deploy to: set SOLVYD_DEPLOY_KUBECONFIG or "
            "SOLVYD_DEPLOY_IN_CLUSTER=true"
        )
    from kubernetes_asyncio import client, config  # lazy: see the docstring

    configuration = client.Configuration()
    try:
        if cluster.kubeconfig is not None:
            await config.load_kube_config(
                config_file=str(cluster.kubeconfig), client_configuration=configuration
            )
        else:
            config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    except (OSError, config.ConfigException) as exc:
        raise NotConfigured(f"the cluster's configuration could not be read: {exc}") from None
    return client.AppsV1Api(client.ApiClient(configuration=configuration))
