"""The built-in Kubernetes deploy target (server/deploy/kubernetes.py) through the official
client against the fake API server (tests/support/kube_fake): the image is set with a
strategic merge patch, the rollout is followed to its end, and each way a rollout fails is
told in words."""

import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from solvyd.protocol import KubernetesDeployTarget
from solvyd.server.deploy.kubernetes import (
    ClusterSettings,
    NotConfigured,
    RolloutFailed,
    RolloutState,
    roll_out,
)
from tests.support.kube_fake import apps
from tests.support.kube_fake.core import FakeCluster, serving


@pytest.fixture
async def cluster() -> AsyncIterator[tuple[FakeCluster, apps.AppsApi]]:
    fake = FakeCluster()
    api = apps.install(fake, rollout_seconds=0.6)
    async with serving(fake):
        yield fake, api


def settings(fake: FakeCluster, tmp_path: Path) -> ClusterSettings:
    return ClusterSettings(
        kubeconfig=fake.write_kubeconfig(tmp_path / "kubeconfig"), poll_seconds=0.1
    )


def target(
    image: str, deployment: str = "web", container: str | None = None
) -> KubernetesDeployTarget:
    return KubernetesDeployTarget(
        namespace="shop", deployment=deployment, container=container, image=image
    )


async def test_a_rollout_sets_the_image_and_waits_for_every_replica(
    cluster: tuple[FakeCluster, apps.AppsApi], tmp_path: Path
) -> None:
    fake, api = cluster
    await api.add_deployment("shop", "web", "shop/web:1", replicas=3, containers=2)
    lines: list[str] = []

    async def progress(line: str) -> None:
        lines.append(line)

    await roll_out(
        settings(fake, tmp_path),
        target("shop/web:2", container="app"),
        deadline=time.monotonic() + 20,
        progress=progress,
    )
    assert api.image_of("shop", "web") == "shop/web:2"
    # The other container is untouched: a strategic merge patch merges containers by name.
    assert api.image_of("shop", "web", "sidecar-1") == "busybox:1"
    kind, body = api.patches[-1]
    assert kind == "application/strategic-merge-patch+json"
    assert body == {
        "spec": {"template": {"spec": {"containers": [{"name": "app", "image": "shop/web:2"}]}}}
    }
    state = RolloutState.of(fake.get("deployments", "shop", "web") or {})
    assert state.done and state.generation == 2
    assert lines[0].startswith("setting the image of container 'app'")
    assert any("1 of 3 replicas updated" in line for line in lines)
    assert lines[-1] == "the rollout of deployment shop/web is complete"


async def test_a_progress_deadline_exceeded_fails_the_rollout(
    cluster: tuple[FakeCluster, apps.AppsApi], tmp_path: Path
) -> None:
    fake, api = cluster
    await api.add_deployment("shop", "web", "shop/web:1")
    api.fail_image("shop/web:broken", "deadline")

    async def progress(_: str) -> None:
        pass

    with pytest.raises(RolloutFailed, match="has timed out progressing"):
        await roll_out(
            settings(fake, tmp_path),
            target("shop/web:broken"),
            deadline=time.monotonic() + 20,
            progress=progress,
        )


async def test_replicas_that_never_become_available_fail_at_the_timeout(
    cluster: tuple[FakeCluster, apps.AppsApi], tmp_path: Path
) -> None:
    fake, api = cluster
    await api.add_deployment("shop", "web", "shop/web:1")
    api.fail_image("shop/web:crash", "unavailable")

    async def progress(_: str) -> None:
        pass

    started = time.monotonic()
    with pytest.raises(RolloutFailed, match="did not finish in time"):
        await roll_out(
            settings(fake, tmp_path),
            target("shop/web:crash"),
            deadline=time.monotonic() + 2,
            progress=progress,
        )
    assert time.monotonic() - started < 4


@pytest.mark.parametrize(
    ("deployment", "container", "words"),
    [
        ("missing", None, "deployment shop/missing not found"),
        ("two", None, "has 2 containers (app, sidecar-1): name the one"),
        ("two", "nope", "has no container 'nope'"),
    ],
)
async def test_what_cannot_be_rolled_out_says_why(
    cluster: tuple[FakeCluster, apps.AppsApi],
    tmp_path: Path,
    deployment: str,
    container: str | None,
    words: str,
) -> None:
    fake, api = cluster
    await api.add_deployment("shop", "two", "shop/web:1", containers=2)

    async def progress(_: str) -> None:
        pass

    with pytest.raises(RolloutFailed, match=words.replace("(", r"\(").replace(")", r"\)")):
        await roll_out(
            settings(fake, tmp_path),
            target("shop/web:2", deployment, container),
            deadline=time.monotonic() + 5,
            progress=progress,
        )
    assert api.image_of("shop", "two") == "shop/web:1"


async def test_a_refused_token_and_a_missing_configuration_are_told(
    cluster: tuple[FakeCluster, apps.AppsApi], tmp_path: Path
) -> None:
    fake, api = cluster
    await api.add_deployment("shop", "web", "shop/web:1")

    async def progress(_: str) -> None:
        pass

    config = settings(fake, tmp_path)
    fake.token = "another"
    with pytest.raises(RolloutFailed, match="needs get and patch on deployments"):
        await roll_out(config, target("x:1"), deadline=time.monotonic() + 5, progress=progress)
    with pytest.raises(NotConfigured, match="SOLVYD_DEPLOY_KUBECONFIG"):
        await roll_out(
            ClusterSettings(), target("x:1"), deadline=time.monotonic() + 5, progress=progress
        )


async def test_the_fake_takes_the_patch_types_the_api_server_takes(
    cluster: tuple[FakeCluster, apps.AppsApi],
) -> None:
    fake, api = cluster
    await api.add_deployment("shop", "web", "shop/web:1")
    url = f"{fake.url}/apis/apps/v1/namespaces/shop/deployments/web"
    auth = {"Authorization": f"Bearer {fake.token}"}
    async with httpx.AsyncClient(headers=auth) as http:
        json_patch = [
            {"op": "test", "path": "/spec/template/spec/containers/0/name", "value": "app"},
            {"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": "a:2"},
        ]
        answer = await http.patch(
            url, json=json_patch, headers={"Content-Type": "application/json-patch+json"}
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["metadata"]["generation"] == 2
        merge = {"spec": {"replicas": 4}}
        answer = await http.patch(
            url, json=merge, headers={"Content-Type": "application/merge-patch+json"}
        )
        assert answer.json()["spec"]["replicas"] == 4
        answer = await http.patch(url, json=merge, headers={"Content-Type": "application/json"})
        assert answer.status_code == 415
        assert answer.json()["kind"] == "Status"
    assert api.image_of("shop", "web") == "a:2"
