"""`solvyd agent --executor kubernetes --kubeconfig FILE`, a real agent process, runs builds
as pods of the fake Kubernetes API (served here, in a thread of its own; its kubelet runs the
pods' containers in the local Docker engine): at start-up it removes the pods an earlier life of
it left (never another agent's), a build succeeds with its output, and a cancelled build's pod
is gone within 2 s."""

import asyncio
import contextlib
import re
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.helpers import UserApi
from tests.support.docker_engine import TEST_IMAGE, require_docker
from tests.support.kube_fake.core import FakeCluster, serving
from tests.support.kube_fake.pods import install
from tests.support.processes import ServerProcess, start_agent

pytestmark = pytest.mark.e2e

NAMESPACE = "builds"
PIPELINE = f"""steps:
  - name: hello
    image: {TEST_IMAGE}
    commands: ['echo "hello from $SOLVYD_STEP_NAME in $SOLVYD_WORKSPACE"']
  - name: count
    image: {TEST_IMAGE}
    commands: ['seq 1 200 | sed s/^/n-/']
"""
SLEEPY = f"""steps:
  - name: wait
    image: {TEST_IMAGE}
    commands: ['echo waiting', 'sleep 300']
"""


@contextlib.contextmanager
def served_cluster(root: Path) -> Iterator[FakeCluster]:
    """The fake cluster on an event loop in a thread, for the life of the block."""
    cluster = FakeCluster()
    install(cluster, root)
    ready = threading.Event()
    stop: list[asyncio.Event] = []

    async def serve() -> None:
        stop.append(asyncio.Event())
        async with serving(cluster):
            ready.set()
            await stop[0].wait()

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    assert ready.wait(20)
    try:
        yield cluster
    finally:
        loop.call_soon_threadsafe(stop[0].set)
        thread.join(30)
        loop.close()


def auth(cluster: FakeCluster) -> dict[str, str]:
    return {"Authorization": f"Bearer {cluster.token}"}


def leave_pod(cluster: FakeCluster, owner: str) -> str:
    """A build's pod and Secret as an agent named `owner` makes them, over the API."""
    name = f"solvyd-{uuid.uuid4()}-1"
    labels = {
        "app.kubernetes.io/managed-by": "solvyd",
        "solvyd.dev/build": name[7:-2],
        "solvyd.dev/agent": owner,
    }
    base = f"{cluster.url}/api/v1/namespaces/{NAMESPACE}"
    secret = {"metadata": {"name": name, "labels": labels}, "data": {"k": "dg=="}}
    httpx.post(f"{base}/secrets", json=secret, headers=auth(cluster)).raise_for_status()
    pod = {
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "c", "image": TEST_IMAGE, "command": ["sleep", "300"]}],
        },
    }
    httpx.post(f"{base}/pods", json=pod, headers=auth(cluster)).raise_for_status()
    return name


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_an_agent_sweeps_its_leftovers_runs_builds_as_pods_and_cancels_in_time(
    server: ServerProcess, api: UserApi, log_dir: Path, tmp_path: Path
) -> None:
    require_docker()
    with served_cluster(tmp_path / "kubelet") as cluster:
        kubeconfig = cluster.write_kubeconfig(tmp_path / "kubeconfig", NAMESPACE)
        name = f"kube-{uuid.uuid4().hex[:6]}"
        # What an earlier life of this agent left (it crashed mid-build), and another agent's.
        leftover = leave_pod(cluster, owner=name)
        foreign = leave_pod(cluster, owner="another-agent")
        agent = start_agent(
            server.url,
            log_dir,
            tmp_path / "work",
            name=name,
            executor="kubernetes",
            extra_args=["--kubeconfig", str(kubeconfig), "--checkout-image", TEST_IMAGE],
        )
        try:
            api.wait_for_worker(name)
            deadline = time.monotonic() + 10
            # The sweep deletes the pods, then the Secrets.
            while cluster.get("secrets", NAMESPACE, leftover) is not None:
                assert time.monotonic() < deadline, "the start-up sweep left the Secret"
                time.sleep(0.05)
            assert cluster.get("pods", NAMESPACE, leftover) is None
            assert cluster.get("pods", NAMESPACE, foreign) is not None
            delete = {"gracePeriodSeconds": 0}
            for resource in ("pods", "secrets"):
                path = f"{cluster.url}/api/v1/namespaces/{NAMESPACE}/{resource}/{foreign}"
                httpx.request("DELETE", path, json=delete, headers=auth(cluster)).raise_for_status()
            job = api.create_job(f"kube-{uuid.uuid4().hex[:6]}", PIPELINE)
            build = api.wait_for_finish(api.trigger(job["id"])["id"], 60)
            log = api.log_text(build["id"])
            assert build["status"] == "success", (build, log, agent.output())
            assert "hello from hello in /workspace" in log
            words = [line.rsplit(" ", 1)[-1] for line in log.splitlines()]
            counted = [word for word in words if re.fullmatch(r"n-\d+", word)]
            assert counted == [f"n-{i}" for i in range(1, 201)]
            print(f"agent RSS after a build: {rss_kib(agent.pid) // 1024} MiB")

            sleepy = api.create_job(f"kube-sleepy-{uuid.uuid4().hex[:6]}", SLEEPY)
            running = api.trigger(sleepy["id"])
            deadline = time.monotonic() + 30
            while "waiting" not in api.log_text(running["id"]):
                assert time.monotonic() < deadline, agent.output()
                time.sleep(0.1)
            pods = cluster.list("pods", NAMESPACE)
            assert len(pods) == 1
            began = time.monotonic()
            api.cancel(running["id"])
            while cluster.list("pods", NAMESPACE):
                assert time.monotonic() - began < 2.0, "the cancelled build's pod is still there"
                time.sleep(0.02)
            print(f"pod deleted {time.monotonic() - began:.2f} s after the cancel")
            assert api.wait_for_finish(running["id"], 30)["status"] == "cancelled"
            assert cluster.list("secrets", NAMESPACE) == []
        finally:
            agent.stop()
