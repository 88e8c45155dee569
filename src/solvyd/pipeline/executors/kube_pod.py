"""The pod and the Secret of one build, as the ``kubernetes`` executor makes them, and what a
pod's status says went wrong. Plain functions of the job and the settings (no API calls).

One pod per build: a helper container (the checkout image, idle: the agent runs its control
commands in it with ``pods/exec``) and one container per step. Every step container starts
with the pod but runs its step only when the agent writes its start file on the shared
``control`` volume, and stops it (the step's whole process group) when the agent writes its
stop file. The ``workspace`` volume (an emptyDir) is mounted at /workspace in every container.
"""

import base64
import re
import shlex
from typing import Any

from solvyd.pipeline.executors.base import ExecutorError
from solvyd.pipeline.executors.host_env import passthrough_env
from solvyd.pipeline.executors.kube_settings import KubernetesSettings, label_value
from solvyd.pipeline.executors.workspace import shell_script
from solvyd.protocol.messages import JobSpec, StepSpec

WORKSPACE = "/workspace"
CONTROL = "/solvyd/control"
HELPER = "solvyd-helper"
MANAGED_BY = "app.kubernetes.io/managed-by"
BUILD_LABEL = "solvyd.dev/build"
ATTEMPT_LABEL = "solvyd.dev/attempt"
AGENT_LABEL = "solvyd.dev/agent"
CHECKOUT_COMMAND = "exec python -m solvyd.agent.checkout_program"
# The checkout program's request (solvyd.agent.checkout_program.REQUEST_ENV).
CHECKOUT_REQUEST_ENV = "SOLVYD_CHECKOUT"
UNSCHEDULABLE = "the build's pod cannot be scheduled"
NO_SCHEDULER_MESSAGE = "no node fits it"
NO_TIMEOUT_DEADLINE_SECONDS = 24 * 3600  # a build without a timeout: its pod's longest life
DEADLINE_MARGIN_SECONDS = 600  # beyond the build's timeout and the setup: artifacts, teardown
# Container states in which a pod will not run without someone changing something.
STUCK_REASONS = frozenset(
    {
        "ErrImagePull",
        "ImagePullBackOff",
        "InvalidImageName",
        "ErrImageNeverPull",
        "CreateContainerConfigError",
        "CreateContainerError",
        "RunContainerError",
    }
)

# The idle helper: `sleep & wait` so that SIGTERM ends it at once.
_HELPER_SCRIPT = "trap 'exit 0' TERM INT; while :; do sleep 5 & wait $!; done"

# A step container: wait for the start file (or a stop file: destroyed before it started),
# read the env given at start from it (`export K='v'` lines, written by the helper alone: the
# steps mount the control volume read-only), run the step ($1) in a session of its own, and
# on the stop file end that whole process group (SIGTERM, then SIGKILL after the grace).
# Exits with the step's code.
_GATE = """c={control}/{container}
while [ ! -e "$c.start" ]; do
  if [ -e "$c.stop" ]; then exit 0; fi
  sleep 0.2
done
. "$c.start"
setsid sh -c "$1" &
pid=$!
( while [ ! -e "$c.stop" ]; do sleep 0.1; done
  kill -TERM -- "-$pid" 2>/dev/null; sleep {grace}; kill -KILL -- "-$pid" 2>/dev/null ) &
watcher=$!
wait "$pid"
code=$?
kill "$watcher" 2>/dev/null
exit "$code"
"""

# Lists the workspace's regular files (no symlinks followed), NUL-separated "SIZE PATH".
LIST_SCRIPT = (
    "cd /workspace && find . -type f -exec sh -c "
    '\'for f do printf "%s %s\\0" "$(stat -c %s "$f")" "$f"; done\' sh {} +'
)
# Prints one file, only if it is (still) a regular file reached through no symlink (its path
# resolves to itself).
READ_SCRIPT = (
    'if [ -f "$1" ] && [ "$(readlink -f "$1")" = "$1" ]; then exec cat "$1"; else exit 66; fi'
)


# Writes a start file ($2) whole: the gate never reads half of it.
WRITE_START_SCRIPT = 'printf %s "$1" > "$2.part" && mv "$2.part" "$2"'
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def secret_values(step: StepSpec) -> dict[str, str]:
    """The step's env that goes in the build's Secret, never in the pod spec: its secret values
    and, for the checkout, what to fetch (its URL may carry a user and password)."""
    values = dict(step.secret_env)
    if step.builtin == "checkout" and CHECKOUT_REQUEST_ENV in step.env:
        values[CHECKOUT_REQUEST_ENV] = step.env[CHECKOUT_REQUEST_ENV]
    return values


def plain_env(
    job: JobSpec, step: StepSpec, env_passthrough: tuple[str, ...] = ()
) -> dict[str, str]:
    """The step's env as its container has it from the pod spec (secret values aside)."""
    # The checkout's env is its own: never the pipeline's (job.env).
    plain = passthrough_env(env_passthrough) | (step.env if step.builtin else job.env | step.env)
    plain |= {"SOLVYD_STEP_NAME": step.name, "SOLVYD_WORKSPACE": WORKSPACE}
    hidden = secret_values(step)
    return {name: value for name, value in plain.items() if name not in hidden}


def start_file(planned: dict[str, str], step: StepSpec) -> str:
    """The start file of a step: the env it was given at start beyond its pod spec's (the deploy
    gate adds SOLVYD_DEPLOY_* then), as lines the gate sources. Not secret: secret values are
    in the build's Secret."""
    lines = []
    hidden = secret_values(step)
    for name, value in sorted(step.env.items()):
        if name in hidden or planned.get(name) == value:
            continue
        if not _ENV_NAME.fullmatch(name):
            raise ExecutorError(f"step '{step.name}': {name!r} is not an environment variable name")
        lines.append(f"export {name}={shlex.quote(value)}\n")
    return "".join(lines)


def pod_name(job: JobSpec) -> str:
    # One pod per attempt: a retry must never meet the pod of an earlier attempt.
    return f"solvyd-{job.build_id}-{job.attempt}"


def runs_in_pod(step: StepSpec) -> bool:
    """Whether the step runs in the build's pod: not a deploy the server performs (the
    built-in Kubernetes target; the agent's deploy gate only waits for its outcome)."""
    return step.deploy is None or step.deploy.kubernetes is None


def container_names(job: JobSpec) -> dict[str, str]:
    """Each step's container: unique, a DNS label, and still readable in ``kubectl``. Steps
    the server performs have none."""
    names = {}
    for index, step in enumerate(job.steps):
        if not runs_in_pod(step):
            continue
        slug = re.sub(r"[^a-z0-9-]+", "-", step.name.lower()).strip("-")[:50].strip("-")
        names[step.name] = f"s{index}-{slug}" if slug else f"s{index}"
    return names


def labels(job: JobSpec, settings: KubernetesSettings) -> dict[str, str]:
    return {
        MANAGED_BY: "solvyd",
        BUILD_LABEL: str(job.build_id),
        ATTEMPT_LABEL: str(job.attempt),
        AGENT_LABEL: label_value(settings.owner),
    }


def image_of(step: StepSpec, settings: KubernetesSettings) -> str:
    if step.builtin == "checkout":
        return settings.checkout_image
    image = step.image or settings.default_image
    if image is None:
        raise ExecutorError(
            f"step {step.name} has no image; the kubernetes executor needs one "
            "(start the agent with --default-image IMAGE to run such steps)"
        )
    return image


def secret_keys(job: JobSpec) -> dict[tuple[str, str], str]:
    """The Secret's key of each (step, variable) with a secret value."""
    names = container_names(job)
    return {
        (step.name, variable): f"{names[step.name]}.{index}"
        for step in job.steps
        if step.name in names
        for index, variable in enumerate(sorted(secret_values(step)))
    }


def secret_manifest(job: JobSpec, settings: KubernetesSettings) -> dict[str, Any] | None:
    """The build's Secret: every step's secret values, or None when there are none."""
    keys = secret_keys(job)
    if not keys:
        return None
    steps = {step.name: step for step in job.steps}
    data = {
        key: base64.b64encode(secret_values(steps[step])[variable].encode()).decode()
        for (step, variable), key in keys.items()
    }
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": pod_name(job), "labels": labels(job, settings)},
        "type": "Opaque",
        "data": data,
    }


def pod_manifest(
    job: JobSpec, settings: KubernetesSettings, env_passthrough: tuple[str, ...] = ()
) -> dict[str, Any]:
    names = container_names(job)
    keys = secret_keys(job)
    workspace = {"name": "workspace", "mountPath": WORKSPACE}
    helper = {
        "name": HELPER,
        "image": settings.checkout_image,
        "command": ["sh", "-c", _HELPER_SCRIPT],
        "workingDir": WORKSPACE,
        # Only the helper, driven by the agent's exec, writes start and stop files.
        "volumeMounts": [workspace, {"name": "control", "mountPath": CONTROL}],
    }
    # A step only reads them: one that could write them would start a later step before its
    # turn (a deploy before its approval) or make it "succeed" without running.
    step_mounts = [workspace, {"name": "control", "mountPath": CONTROL, "readOnly": True}]
    containers = [helper]
    for step in job.steps:
        container = names.get(step.name)
        if container is None:
            continue
        script = (
            CHECKOUT_COMMAND + "\n" if step.builtin == "checkout" else shell_script(step.commands)
        )
        gate = _GATE.format(
            control=CONTROL,
            container=shlex.quote(container),
            grace=max(int(settings.kill_grace_seconds), 0),
        )
        env: list[dict[str, Any]] = [
            {"name": name, "value": value}
            for name, value in plain_env(job, step, env_passthrough).items()
        ]
        env += [
            {
                "name": variable,
                "valueFrom": {
                    "secretKeyRef": {"name": pod_name(job), "key": keys[(step.name, variable)]}
                },
            }
            for variable in sorted(secret_values(step))
        ]
        spec: dict[str, Any] = {
            "name": container,
            "image": image_of(step, settings),
            "command": ["sh", "-c", gate, "solvyd-gate", script],
            "workingDir": WORKSPACE,
            "env": env,
            "volumeMounts": step_mounts,
        }
        if resources := _resources(step):
            spec["resources"] = resources
        containers.append(spec)
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        # A pod whose agent died (and whose sweep never comes) ends by itself.
        "activeDeadlineSeconds": active_deadline(job, settings),
        "terminationGracePeriodSeconds": 1,
        # No service links in the steps' env, and no API token unless the agent names a
        # service account for them.
        "enableServiceLinks": False,
        "automountServiceAccountToken": settings.service_account is not None,
        "volumes": [{"name": "workspace", "emptyDir": {}}, {"name": "control", "emptyDir": {}}],
        "containers": containers,
    }
    if settings.service_account:
        pod_spec["serviceAccountName"] = settings.service_account
    if settings.node_selector:
        pod_spec["nodeSelector"] = dict(settings.node_selector)
    if settings.tolerations:
        pod_spec["tolerations"] = [dict(t) for t in settings.tolerations]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": pod_name(job),
            "labels": labels(job, settings),
            "annotations": {"solvyd.dev/job": job.job_name[:200]},
        },
        "spec": pod_spec,
    }


def active_deadline(job: JobSpec, settings: KubernetesSettings) -> int:
    """How long the pod may run at most: the build's timeout (or a day when it has none) and a
    margin for its setup (image pulls), artifacts and teardown. The agent deletes the pod long
    before, unless it is gone: then Kubernetes ends it (``DeadlineExceeded``)."""
    limit = job.timeout_seconds if job.timeout_seconds else NO_TIMEOUT_DEADLINE_SECONDS
    return int(limit + settings.start_seconds + DEADLINE_MARGIN_SECONDS)


def _resources(step: StepSpec) -> dict[str, Any]:
    """The step's ``cpus`` and ``memory_bytes`` as both requests and limits: the scheduler
    reserves what the step may use (steps of one build may run at the same time)."""
    amounts: dict[str, str] = {}
    if step.cpus:
        amounts["cpu"] = f"{max(round(step.cpus * 1000), 1)}m"
    if step.memory_bytes:
        amounts["memory"] = str(step.memory_bytes)
    return {"requests": dict(amounts), "limits": dict(amounts)} if amounts else {}


def start_problem(pod: dict[str, Any], names: dict[str, str]) -> str | None:
    """Why the pod will not run its containers without someone changing something, or None:
    it cannot be scheduled (the scheduler's message), or an image cannot be pulled (or a
    container cannot be made)."""
    status = pod.get("status") or {}
    for condition in status.get("conditions") or []:
        if (
            condition.get("type") == "PodScheduled"
            and condition.get("status") == "False"
            and condition.get("reason") == "Unschedulable"
        ):
            message = condition.get("message") or NO_SCHEDULER_MESSAGE
            return f"{UNSCHEDULABLE}: {message}"
    steps = {container: step for step, container in names.items()}
    for entry in status.get("containerStatuses") or []:
        who = f"step {steps[entry['name']]}" if entry.get("name") in steps else "the helper"
        # Before any step started, every container waits (its gate, or the idle helper): one
        # that ended could not start (StartError: no sh in its image; ContainerCannotRun...).
        ended = (entry.get("state") or {}).get("terminated")
        if isinstance(ended, dict):
            why = ended.get("reason") or "Error"
            text = f"{who}: its container ended before the step ran ({why}, exit code "
            text += f"{ended.get('exitCode', '?')})"
            return f"{text}: {ended['message']}" if ended.get("message") else text
        waiting = (entry.get("state") or {}).get("waiting") or {}
        reason = waiting.get("reason")
        if reason in STUCK_REASONS:
            image = entry.get("image") or "its image"
            message = waiting.get("message") or ""
            if "Image" in reason:
                return f"{who}: image {image} cannot be pulled ({reason}): {message}".rstrip(": ")
            return f"{who}: its container cannot be made ({reason}): {message}".rstrip(": ")
    if status.get("phase") in ("Failed", "Succeeded") and not all_running(pod):
        reason = status.get("reason") or status.get("phase")
        return f"the build's pod ended before its steps ran ({reason}): {status.get('message', '')}"
    return None


def all_running(pod: dict[str, Any]) -> bool:
    specs = (pod.get("spec") or {}).get("containers") or []
    entries = (pod.get("status") or {}).get("containerStatuses") or []
    running = {e.get("name") for e in entries if "running" in (e.get("state") or {})}
    return bool(specs) and all(spec["name"] in running for spec in specs)


def terminated(pod: dict[str, Any], container: str) -> dict[str, Any] | None:
    for entry in (pod.get("status") or {}).get("containerStatuses") or []:
        if entry.get("name") == container:
            found = (entry.get("state") or {}).get("terminated")
            return found if isinstance(found, dict) else None
    return None
