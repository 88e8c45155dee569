"""A served fake cluster with pods, and a ``kubernetes`` executor that reaches it through a
kubeconfig, as an agent started with ``--executor kubernetes --kubeconfig FILE`` would."""

import contextlib
import dataclasses
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from solvyd.pipeline.executors.kube_settings import KubernetesSettings
from solvyd.pipeline.executors.kubernetes import KubernetesExecutor
from solvyd.pipeline.executors.registry import create_executor
from tests.support.docker_engine import TEST_IMAGE
from tests.support.kube_fake.core import FakeCluster, serving
from tests.support.kube_fake.pods import PodsApi, install

NAMESPACE = "solvyd-builds"


@dataclass
class KubeBackend:
    cluster: FakeCluster
    pods: PodsApi
    kubeconfig: Path
    executor: KubernetesExecutor

    def settings(self, **changes: object) -> KubernetesSettings:
        return dataclasses.replace(self.executor.settings, **changes)  # type: ignore[arg-type]


def fake_cluster_settings(kubeconfig: Path, **changes: object) -> KubernetesSettings:
    """Settings for tests: the busybox test image as checkout image (the helper only runs sh,
    touch, find, stat and cat), a short pod start wait."""
    settings = KubernetesSettings(
        kubeconfig=kubeconfig,
        checkout_image=TEST_IMAGE,
        owner="test-agent",
        start_seconds=30.0,
        poll_seconds=0.1,
    )
    return dataclasses.replace(settings, **changes)  # type: ignore[arg-type]


@contextlib.asynccontextmanager
async def kube_backend(tmp_path: Path) -> AsyncIterator[KubeBackend]:
    cluster = FakeCluster()
    pods = install(cluster, tmp_path / "kubelet")
    async with serving(cluster):
        kubeconfig = cluster.write_kubeconfig(tmp_path / "kubeconfig", NAMESPACE)
        executor = create_executor(
            "kubernetes", tmp_path / "work", kubernetes=fake_cluster_settings(kubeconfig)
        )
        assert isinstance(executor, KubernetesExecutor)
        try:
            yield KubeBackend(cluster, pods, kubeconfig, executor)
        finally:
            await executor.aclose()
