"""What only the kubernetes executor has: its pod, its Secret, its failures and its sweep.

Against the HTTP fake of the Kubernetes API (tests/support/kube_fake) whose kubelet runs the
pods' containers in the local Docker engine; the shared behaviour is in
test_executor_contract.py. One fake cluster serves the whole module (each test scripts its
failures and resets them)."""

import asyncio
import base64
import hashlib
import json
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import docker
import pytest
import pytest_asyncio
from tests.support.docker_engine import TEST_IMAGE, require_docker
from tests.support.kube_fake.executor import (
    NAMESPACE,
    KubeBackend,
    fake_cluster_settings,
    kube_backend,
)
from tests.support.kube_fake.pods import Scripts

from solvyd.pipeline.executors import ExecutorError
from solvyd.pipeline.executors.kube_pod import pod_name
from solvyd.pipeline.executors.kubernetes import KubernetesExecutor
from solvyd.protocol import JobSpec, StepSpec
from solvyd.protocol.messages import DeploySpec, KubernetesDeployTarget

pytestmark = pytest.mark.asyncio(loop_scope="module")

SCHEDULER_MESSAGE = (
    "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: "
    "3 No preemption victims found for incoming pod."
)
QUOTA_MESSAGE = (
    "exceeded quota: compute-resources, requested: limits.cpu=2, used: limits.cpu=1, "
    "limited: limits.cpu=2"
)


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def kube(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[KubeBackend]:
    require_docker()
    async with kube_backend(tmp_path_factory.mktemp("kube")) as backend:
        yield backend


@pytest.fixture(autouse=True)
def behaving(kube: KubeBackend) -> None:
    kube.pods.scripts = Scripts()


def step(name: str = "step", *commands: str, **fields: object) -> StepSpec:
    return StepSpec.model_validate(
        {"name": name, "commands": list(commands) or ["echo hi"], "image": TEST_IMAGE} | fields
    )


def job(*steps: StepSpec) -> JobSpec:
    return JobSpec(
        build_id=uuid.uuid4(),
        build_number=1,
        job_id=uuid.uuid4(),
        job_name="kube",
        steps=list(steps),
    )


def executor_with(kube: KubeBackend, **changes: object) -> KubernetesExecutor:
    return KubernetesExecutor(fake_cluster_settings(kube.kubeconfig, **changes))


async def run(executor: KubernetesExecutor, spec: JobSpec, one: StepSpec) -> tuple[list[str], int]:
    await executor.start_step(spec, one)
    lines: list[str] = []

    async def read() -> None:
        lines.extend([line async for line in executor.stream_output(spec, one)])

    reading = asyncio.create_task(read())
    code = await asyncio.wait_for(executor.wait_step(spec, one), 20)
    await asyncio.wait_for(reading, 20)
    await executor.destroy_step(spec, one)
    return lines, code


def stored_pod(kube: KubeBackend, spec: JobSpec) -> dict[str, object] | None:
    return kube.cluster.get("pods", NAMESPACE, pod_name(spec))


async def test_an_image_that_cannot_be_pulled_fails_setup_in_seconds(kube: KubeBackend) -> None:
    spec = job(step("build", image="solvyd-test/never-built:1"))
    began = time.monotonic()
    try:
        with pytest.raises(ExecutorError) as raised:
            await kube.executor.setup_job(spec)
    finally:
        await kube.executor.teardown_job(spec)
    assert time.monotonic() - began < 5
    message = str(raised.value)
    assert "step build: image solvyd-test/never-built:1 cannot be pulled (ErrImagePull)" in message
    assert "not found" in message
    assert stored_pod(kube, spec) is None


@pytest.mark.parametrize("in_condition", [True, False], ids=["condition", "event"])
async def test_an_unschedulable_pod_fails_with_the_schedulers_message(
    kube: KubeBackend, in_condition: bool
) -> None:
    kube.pods.scripts.unschedulable = SCHEDULER_MESSAGE
    kube.pods.scripts.unschedulable_in_condition = in_condition
    spec = job(step())
    began = time.monotonic()
    try:
        with pytest.raises(ExecutorError) as raised:
            await kube.executor.setup_job(spec)
    finally:
        await kube.executor.teardown_job(spec)
    assert time.monotonic() - began < 5
    assert str(raised.value) == f"the build's pod cannot be scheduled: {SCHEDULER_MESSAGE}"
    events = [
        e
        for e in kube.cluster.list("events", NAMESPACE)
        if e["involvedObject"]["name"] == pod_name(spec)
    ]
    assert [e["reason"] for e in events] == ["FailedScheduling"]


async def test_a_quota_refusal_fails_with_the_api_servers_message(kube: KubeBackend) -> None:
    kube.pods.scripts.quota_exceeded = QUOTA_MESSAGE
    spec = job(step())
    try:
        with pytest.raises(ExecutorError) as raised:
            await kube.executor.setup_job(spec)
    finally:
        await kube.executor.teardown_job(spec)
    name = pod_name(spec)
    assert str(raised.value) == (
        f'the cluster refused the build\'s pod: pods "{name}" is forbidden: {QUOTA_MESSAGE}'
    )
    assert stored_pod(kube, spec) is None


async def test_a_cut_log_stream_resumes_without_losing_or_repeating_a_line(
    kube: KubeBackend,
) -> None:
    kube.pods.scripts.cut_log_follow_after = 7
    # Bursts (lines a few microseconds apart) and pauses (the stream is cut while it waits).
    counting = step(
        "count",
        "for i in $(seq 1 30); do echo line-$i; done; sleep 0.3; seq 31 60 | sed s/^/line-/",
    )
    spec = job(counting)
    await kube.executor.setup_job(spec)
    try:
        lines, code = await run(kube.executor, spec, counting)
    finally:
        await kube.executor.teardown_job(spec)
    assert code == 0
    assert [line for line in lines if line.startswith("line-")] == [
        f"line-{i}" for i in range(1, 61)
    ]
    log_requests = [
        path for method, path in kube.cluster.requests if f"{pod_name(spec)}/log" in path
    ]
    assert len(log_requests) >= 60 // 7
    assert all("sinceTime=" in path for path in log_requests[1:])


async def test_cancel_deletes_the_pod_within_two_seconds(kube: KubeBackend) -> None:
    sleeping = step("sleep", "echo sleeping", "sleep 300")
    spec = job(sleeping)
    executor = kube.executor
    await executor.setup_job(spec)
    uid = stored_pod(kube, spec)["metadata"]["uid"]  # type: ignore[index]
    await executor.start_step(spec, sleeping)
    waiting = asyncio.create_task(executor.wait_step(spec, sleeping))
    await asyncio.sleep(0.3)
    # What the runtime does on cancel (and on a build's timeout): destroy, then tear down.
    began = time.monotonic()
    await executor.destroy_step(spec, sleeping)
    await executor.teardown_job(spec)
    await kube.cluster.wait_for(lambda: stored_pod(kube, spec) is None, timeout=2)
    deleted_after = time.monotonic() - began
    assert deleted_after < 2.0, deleted_after
    await asyncio.wait_for(asyncio.gather(waiting, return_exceptions=True), 2)
    # The kubelet's containers go too.
    for _ in range(40):
        if not await asyncio.to_thread(kube.pods.docker_containers, uid):
            break
        await asyncio.sleep(0.1)
    assert await asyncio.to_thread(kube.pods.docker_containers, uid) == []


async def test_secrets_reach_the_step_only_through_a_secret_deleted_at_teardown(
    kube: KubeBackend,
) -> None:
    value = "s3cr3t-" + uuid.uuid4().hex
    # The step proves it got the value by its length and its hash, never printing it.
    secretive = step(
        "deploy",
        'echo "length ${#TOKEN}"',
        'printf %s "$TOKEN" | md5sum',
    ).model_copy(update={"secret_env": {"TOKEN": value}})
    spec = job(secretive)
    await kube.executor.setup_job(spec)
    try:
        pod = stored_pod(kube, spec)
        assert pod is not None
        assert value not in json.dumps(pod)
        [token] = [e for e in pod["spec"]["containers"][1]["env"] if e["name"] == "TOKEN"]  # type: ignore[index]
        assert token["valueFrom"]["secretKeyRef"]["name"] == pod_name(spec)
        secret = kube.cluster.get("secrets", NAMESPACE, pod_name(spec))
        assert secret is not None
        assert secret["metadata"]["labels"]["solvyd.dev/build"] == str(spec.build_id)
        # Owned by the pod: whoever deletes the pod, the garbage collector takes the Secret.
        assert secret["metadata"]["ownerReferences"] == [
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "name": pod_name(spec),
                "uid": pod["metadata"]["uid"],  # type: ignore[index]
            }
        ]
        lines, code = await run(kube.executor, spec, secretive)
        assert code == 0
        assert f"length {len(value)}" in lines
        assert f"{hashlib.md5(value.encode()).hexdigest()}  -" in lines  # noqa: S324
    finally:
        await kube.executor.teardown_job(spec)
    assert stored_pod(kube, spec) is None
    assert kube.cluster.get("secrets", NAMESPACE, pod_name(spec)) is None


async def test_the_pod_spec_carries_resources_placement_and_service_account(
    kube: KubeBackend,
) -> None:
    executor = executor_with(
        kube,
        node_selector={"disktype": "ssd"},
        tolerations=[{"key": "ci", "operator": "Equal", "value": "true", "effect": "NoSchedule"}],
        service_account="builder",
    )
    sized = step("sized", cpus=0.5, memory_bytes=64 * 1024 * 1024)
    request = json.dumps({"url": "https://user:pa55word@git.example.com/app.git"})
    checkout = StepSpec(
        name="checkout", commands=[], builtin="checkout", env={"SOLVYD_CHECKOUT": request}
    )
    spec = job(checkout, sized)
    try:
        # The checkout container's image (the busybox checkout image of the tests) has no
        # python: the pod runs, its checkout step would fail; only the spec is looked at.
        await executor.setup_job(spec)
        pod = stored_pod(kube, spec)
        assert pod is not None
        pod_spec = pod["spec"]
        assert pod_spec["nodeSelector"] == {"disktype": "ssd"}  # type: ignore[index]
        assert pod_spec["tolerations"] == [  # type: ignore[index]
            {"key": "ci", "operator": "Equal", "value": "true", "effect": "NoSchedule"}
        ]
        assert pod_spec["serviceAccountName"] == "builder"  # type: ignore[index]
        assert pod_spec["automountServiceAccountToken"] is True  # type: ignore[index]
        helper, checkout_container, sized_container = pod_spec["containers"]  # type: ignore[index]
        assert sized_container["resources"] == {
            "requests": {"cpu": "500m", "memory": str(64 * 1024 * 1024)},
            "limits": {"cpu": "500m", "memory": str(64 * 1024 * 1024)},
        }
        assert checkout_container["image"] == helper["image"] == TEST_IMAGE
        assert "python -m solvyd.agent.checkout_program" in checkout_container["command"][-1]
        # What to fetch may carry a password: in the Secret, never in the pod spec.
        assert "pa55word" not in json.dumps(pod)
        [fetch] = [e for e in checkout_container["env"] if e["name"] == "SOLVYD_CHECKOUT"]
        assert fetch["valueFrom"]["secretKeyRef"]["name"] == pod_name(spec)
        secret = kube.cluster.get("secrets", NAMESPACE, pod_name(spec))
        assert secret is not None
        stored = secret["data"][fetch["valueFrom"]["secretKeyRef"]["key"]]
        assert base64.b64decode(stored).decode() == request
        assert pod["metadata"]["labels"]["solvyd.dev/agent"] == "test-agent"  # type: ignore[index]
    finally:
        await executor.teardown_job(spec)
        await executor.aclose()


async def test_without_a_service_account_steps_get_no_api_token(kube: KubeBackend) -> None:
    spec = job(step())
    await kube.executor.setup_job(spec)
    try:
        pod = stored_pod(kube, spec)
        assert pod is not None
        assert pod["spec"]["automountServiceAccountToken"] is False  # type: ignore[index]
        assert "serviceAccountName" not in pod["spec"]  # type: ignore[operator]
    finally:
        await kube.executor.teardown_job(spec)


async def test_the_workspace_is_listed_and_read_through_the_pod(kube: KubeBackend) -> None:
    writer = step(
        "write",
        "mkdir -p out/deep && printf 'hello' > out/a.txt && head -c 70000 /dev/zero > out/deep/b",
        "ln -s /etc/passwd out/link",
    )
    spec = job(writer)
    await kube.executor.setup_job(spec)
    try:
        _, code = await run(kube.executor, spec, writer)
        assert code == 0
        files = sorted(await kube.executor.list_workspace(spec), key=lambda f: f.path)
        assert [(f.path, f.size) for f in files] == [("out/a.txt", 5), ("out/deep/b", 70000)]
        data = b"".join([c async for c in kube.executor.read_workspace_file(spec, "out/a.txt")])
        assert data == b"hello"
        big = b"".join([c async for c in kube.executor.read_workspace_file(spec, "out/deep/b")])
        assert big == b"\0" * 70000
        for refused in ("out/link", "../etc/passwd", "/etc/passwd", "missing"):
            with pytest.raises(ExecutorError):
                _ = [c async for c in kube.executor.read_workspace_file(spec, refused)]
    finally:
        await kube.executor.teardown_job(spec)


async def test_the_startup_sweep_removes_only_this_agents_builds_it_no_longer_holds(
    kube: KubeBackend, tmp_path: Path
) -> None:
    earlier_life = executor_with(kube, owner="sweeper")
    other_agent = executor_with(kube, owner="someone-else")
    held, foreign = job(step()), job(step())
    lost_with_secret = job(step().model_copy(update={"secret_env": {"K": "v"}}))
    try:
        for executor, spec in (
            (earlier_life, lost_with_secret),
            (earlier_life, held),
            (other_agent, foreign),
        ):
            await executor.setup_job(spec)
        # The agent restarts: a new executor, with the same name, holding only `held`.
        restarted = executor_with(kube, owner="sweeper")
        asked = len(kube.cluster.requests)
        try:
            removed = await restarted.sweep_leftovers({held.build_id})
        finally:
            await restarted.aclose()
        assert removed == 2  # the lost build's pod and Secret
        # Found through the pods alone: listing Secrets would need every Secret's data.
        secrets_path = f"/api/v1/namespaces/{NAMESPACE}/secrets"
        assert not [
            (method, path)
            for method, path in kube.cluster.requests[asked:]
            if method == "GET" and path.split("?")[0] == secrets_path
        ]
        assert stored_pod(kube, lost_with_secret) is None
        assert kube.cluster.get("secrets", NAMESPACE, pod_name(lost_with_secret)) is None
        assert stored_pod(kube, held) is not None
        assert stored_pod(kube, foreign) is not None
    finally:
        for executor, spec in (
            (earlier_life, lost_with_secret),
            (earlier_life, held),
            (other_agent, foreign),
        ):
            await executor.teardown_job(spec)
        await earlier_life.aclose()
        await other_agent.aclose()


async def test_a_step_cannot_start_or_stop_another_step(kube: KubeBackend) -> None:
    # The deploy step's container is s1-deploy: a hostile first step tries to run it before
    # its turn (its start file) and to make it end without running (its stop file).
    hostile = step(
        "hostile",
        "touch /solvyd/control/s1-deploy.start || echo start-refused",
        "touch /solvyd/control/s1-deploy.stop || echo stop-refused",
    )
    deploy = step("deploy", "echo deployed")
    spec = job(hostile, deploy)
    await kube.executor.setup_job(spec)
    try:
        lines, code = await run(kube.executor, spec, hostile)
        assert code == 0
        assert "start-refused" in lines
        assert "stop-refused" in lines
        await asyncio.sleep(0.5)  # longer than the gate's poll: it would have started
        pod = stored_pod(kube, spec)
        assert pod is not None
        [entry] = [s for s in pod["status"]["containerStatuses"] if s["name"] == "s1-deploy"]  # type: ignore[index]
        assert "running" in entry["state"]
        # Its turn comes: it runs, as the agent starts it.
        lines, code = await run(kube.executor, spec, deploy)
        assert (lines, code) == (["$ echo deployed", "deployed"], 0)
    finally:
        await kube.executor.teardown_job(spec)


async def test_a_deploy_the_server_performs_gets_no_container(kube: KubeBackend) -> None:
    # No commands and no image: the server rolls the image out, the agent's deploy gate
    # only waits for it. Its secrets (none expected) would not reach the pod either.
    rollout = StepSpec(
        name="rollout",
        commands=[],
        deploy=DeploySpec(
            environment="production",
            kubernetes=KubernetesDeployTarget(namespace="web", deployment="web", image="web:1"),
        ),
        secret_env={"UNUSED": "x"},
    )
    tests = step("tests", "echo tested")
    spec = job(tests, rollout)
    await kube.executor.setup_job(spec)
    try:
        pod = stored_pod(kube, spec)
        assert pod is not None
        names = [c["name"] for c in pod["spec"]["containers"]]  # type: ignore[index]
        assert names == ["solvyd-helper", "s0-tests"]
        assert kube.cluster.get("secrets", NAMESPACE, pod_name(spec)) is None
        lines, code = await run(kube.executor, spec, tests)
        assert (lines, code) == (["$ echo tested", "tested"], 0)
        # The deploy gate passes only destroy_step of such a step on: nothing to stop.
        await kube.executor.destroy_step(spec, rollout)
        with pytest.raises(ExecutorError, match="the server performs it"):
            await kube.executor.start_step(spec, rollout)
    finally:
        await kube.executor.teardown_job(spec)


async def test_a_pod_that_cannot_be_deleted_fails_teardown_and_its_secret_goes_anyway(
    kube: KubeBackend,
) -> None:
    spec = job(step(timeout_seconds=60).model_copy(update={"secret_env": {"K": "v"}}))
    spec = spec.model_copy(update={"timeout_seconds": 120.0})
    await kube.executor.setup_job(spec)
    try:
        pod = stored_pod(kube, spec)
        assert pod is not None
        # An orphan (its agent gone for good) ends by itself: the build's timeout, the
        # setup's limit and a margin.
        start = kube.executor.settings.start_seconds
        assert pod["spec"]["activeDeadlineSeconds"] == int(120 + start + 600)  # type: ignore[index]
        kube.pods.scripts.delete_pod_status = 500
        with pytest.raises(ExecutorError) as raised:
            await kube.executor.teardown_job(spec)
        assert str(raised.value) == (
            f"cannot free the build's pod {pod_name(spec)}: its pod: 500 InternalError: "
            f"deleting {pod_name(spec)} failed"
        )
        assert stored_pod(kube, spec) is not None
        assert kube.cluster.get("secrets", NAMESPACE, pod_name(spec)) is None
    finally:
        # The API heals: teardown again (it is idempotent) frees the pod.
        kube.pods.scripts.delete_pod_status = None
        await kube.executor.teardown_job(spec)
    assert stored_pod(kube, spec) is None


@pytest.fixture(scope="module")
def image_without_shell(tmp_path_factory: pytest.TempPathFactory) -> str:
    """An image with one file and no sh: its container cannot start the executor's gate."""
    context = tmp_path_factory.mktemp("no-shell")
    (context / "marker").write_text("no shell here\n")
    (context / "Dockerfile").write_text("FROM scratch\nCOPY marker /marker\n")
    tag = "solvyd-test/no-shell:latest"
    client = docker.from_env()
    try:
        client.images.build(path=str(context), tag=tag, rm=True)
    finally:
        client.close()
    return tag


async def test_a_container_that_cannot_start_fails_setup_at_once(
    kube: KubeBackend, image_without_shell: str
) -> None:
    spec = job(step("tests"), step("lint", image=image_without_shell))
    began = time.monotonic()
    try:
        with pytest.raises(ExecutorError) as raised:
            await kube.executor.setup_job(spec)
    finally:
        await kube.executor.teardown_job(spec)
    assert time.monotonic() - began < 10
    message = str(raised.value)
    assert message.startswith(
        "step lint: its container ended before the step ran (StartError, exit code 128): "
    )
    assert '"sh"' in message  # the runtime's own words: no sh in the image


async def test_env_given_at_start_reaches_the_step(kube: KubeBackend) -> None:
    # As the deploy gate starts a script deploy: the planned step, with SOLVYD_DEPLOY_* added.
    planned = step("deploy", 'printf "<%s>\\n" "$SOLVYD_DEPLOY_VERSION" "$KEPT"', env={"KEPT": "a"})
    other = step("other")
    spec = job(planned, other)
    tricky = 'v1 it\'s "quoted" $(touch /workspace/pwned) `id` \\ end'
    started = planned.model_copy(
        update={"env": planned.env | {"SOLVYD_DEPLOY_VERSION": tricky, "KEPT": "b"}}
    )
    await kube.executor.setup_job(spec)
    try:
        lines, code = await run(kube.executor, spec, started)
        assert code == 0
        assert lines[1:] == [f"<{tricky}>", "<b>"]
        assert await kube.executor.list_workspace(spec) == []  # nothing ran from the value
        with pytest.raises(ExecutorError, match="not an environment variable name"):
            await kube.executor.start_step(
                spec, other.model_copy(update={"env": {"BAD NAME": "x"}})
            )
    finally:
        await kube.executor.teardown_job(spec)


async def test_a_pod_left_by_an_earlier_life_is_replaced_once_it_is_gone(
    kube: KubeBackend,
) -> None:
    spec = job(step("again", "echo again").model_copy(update={"secret_env": {"K": "v"}}))
    earlier_life = executor_with(kube, owner="crashed")
    restarted = executor_with(kube, owner="crashed")
    try:
        await earlier_life.setup_job(spec)
        old = stored_pod(kube, spec)
        assert old is not None
        # A deleted pod stays, terminating, for a while: a create of its name meets 409 then.
        kube.pods.scripts.pod_deletion_seconds = 1.0
        await restarted.setup_job(spec)
        new = stored_pod(kube, spec)
        assert new is not None
        assert new["metadata"]["uid"] != old["metadata"]["uid"]  # type: ignore[index]
        lines, code = await run(restarted, spec, spec.steps[0])
        assert (lines, code) == (["$ echo again", "again"], 0)
    finally:
        kube.pods.scripts.pod_deletion_seconds = None
        await restarted.teardown_job(spec)
        await earlier_life.aclose()
        await restarted.aclose()


async def test_cancel_deletes_the_pod_within_two_seconds_when_exec_hangs(
    kube: KubeBackend,
) -> None:
    sleeping = step("sleep", "sleep 300")
    spec = job(sleeping)
    await kube.executor.setup_job(spec)
    try:
        await kube.executor.start_step(spec, sleeping)
        waiting = asyncio.create_task(kube.executor.wait_step(spec, sleeping))
        kube.pods.scripts.exec_hangs = True  # the stop file cannot be written
        began = time.monotonic()
        await kube.executor.destroy_step(spec, sleeping)
        await kube.executor.teardown_job(spec)
        await kube.cluster.wait_for(lambda: stored_pod(kube, spec) is None, timeout=2)
        assert time.monotonic() - began < 2.0
        with pytest.raises(ExecutorError, match="its helper did not answer"):
            await asyncio.wait_for(waiting, 2)
    finally:
        kube.pods.scripts.exec_hangs = False
        await kube.executor.teardown_job(spec)
