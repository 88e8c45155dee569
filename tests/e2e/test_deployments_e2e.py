"""Deployments end to end: a real server and agent, the fake Kubernetes API on a thread, and
the real CLI. A pipeline builds, then deploys to `production`, which needs an approval; the
server rolls each image out in the fake cluster. A broken image's rollout fails and is rolled
back automatically to the last good image; `solvyd deploy rollback` then goes one further
back. Every deployment is recorded, and the build logs tell the story."""

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.helpers import UserApi
from tests.support.kube_fake import apps
from tests.support.kube_fake.core import FakeCluster
from tests.support.kube_fake.in_thread import ClusterThread, cluster_in_thread
from tests.support.processes import ADMIN_PASSWORD, ServerProcess, start_agent, start_server

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]
PIPELINE = {
    "steps": [
        {"name": "build", "commands": ["echo building image $SOLVYD_BUILD_NUMBER"]},
        {
            "name": "ship",
            "deploy": {
                "environment": "production",
                "approval": "required",
                "rollback": "auto",
                "rollout_timeout": "30s",
                "kubernetes": {
                    "namespace": "shop",
                    "deployment": "web",
                    "image": "shop/web:${SOLVYD_BUILD_NUMBER}",
                },
            },
        },
    ]
}


@pytest.fixture
def cluster() -> Iterator[tuple[ClusterThread, apps.AppsApi]]:
    fake = FakeCluster()
    kube = apps.install(fake, rollout_seconds=0.6)
    with cluster_in_thread(fake) as thread:
        thread.run(kube.add_deployment("shop", "web", "shop/web:0", replicas=2))
        yield thread, kube


class Cli:
    def __init__(self, config: Path) -> None:
        self.config = config

    def __call__(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "solvyd.cli", *args],
            env={**os.environ, "SOLVYD_CLI_CONFIG": str(self.config), "COLUMNS": "200"},
            capture_output=True,
            text=True,
            timeout=60,
            cwd=REPO,
            input=stdin,
        )
        assert "Traceback" not in result.stderr, result.stderr
        return result


def _deployments(api: UserApi, build_id: str) -> list[dict[str, Any]]:
    response = api.http.get(f"/builds/{build_id}/deployments")
    response.raise_for_status()
    return list(response.json()["items"])


def _awaiting_approval(api: UserApi, build_id: str, timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for item in _deployments(api, build_id):
            if item["status"] == "awaiting_approval":
                return item
        time.sleep(0.05)
    raise AssertionError(f"no deployment of build {build_id} awaits approval")


def _until_log_has(api: UserApi, build_id: str, text: str, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        log = api.log_text(build_id)
        if text in log:
            return log
        time.sleep(0.05)
    raise AssertionError(f"{text!r} never reached the log of {build_id}:\n{api.log_text(build_id)}")


def test_approve_roll_out_fail_roll_back_automatically_and_by_the_cli(
    cluster: tuple[ClusterThread, apps.AppsApi], tmp_path: Path
) -> None:
    thread, kube = cluster
    logs = tmp_path / "logs"
    logs.mkdir()
    kubeconfig = thread.cluster.write_kubeconfig(tmp_path / "kubeconfig")
    server: ServerProcess = start_server(
        f"sqlite:///{tmp_path}/solvyd.db",
        tmp_path / "data",
        logs,
        SOLVYD_DEPLOY_KUBECONFIG=str(kubeconfig),
        SOLVYD_DEPLOY_POLL_SECONDS="0.2",
        SOLVYD_DEPLOY_ROLLOUT_POLL_SECONDS="0.1",
    )
    agent = start_agent(server.url, logs, tmp_path / "work", name="deployer")
    api = UserApi(server)
    cli = Cli(tmp_path / "cli.json")
    try:
        login = cli("login", server.url, "-u", "admin", "--password-stdin", stdin=ADMIN_PASSWORD)
        assert login.returncode == 0, login.stderr
        job = api.create_job("shop", json.dumps(PIPELINE))

        # 1: held for approval, approved through the API, rolled out.
        first = api.trigger(job["id"])
        waiting = _awaiting_approval(api, first["id"])
        _until_log_has(
            api,
            first["id"],
            f"waiting for approval (approve: solvyd deploy approve {waiting['id']})",
        )
        assert api.http.post(f"/deployments/{waiting['id']}/approve").status_code == 200
        assert api.wait_for_finish(first["id"], timeout=60)["status"] == "success"
        assert thread.call(kube.image_of, "shop", "web") == "shop/web:1"
        # Each progress line once, though the step hears of them in several answers.
        assert (
            api.log_text(first["id"]).count("the rollout of deployment shop/web is complete") == 1
        )

        # 2: approved through the CLI, rolled out.
        second = api.trigger(job["id"])
        waiting = _awaiting_approval(api, second["id"])
        approved = cli("deploy", "approve", waiting["id"])
        assert approved.returncode == 0, approved.stderr
        assert "deployment #2 to production" in approved.stdout
        assert api.wait_for_finish(second["id"], timeout=60)["status"] == "success"
        assert thread.call(kube.image_of, "shop", "web") == "shop/web:2"

        # 3: its image never progresses; the step fails and production is rolled back.
        thread.call(kube.fail_image, "shop/web:3", "deadline")
        third = api.trigger(job["id"])
        waiting = _awaiting_approval(api, third["id"])
        assert api.http.post(f"/deployments/{waiting['id']}/approve").status_code == 200
        finished = api.wait_for_finish(third["id"], timeout=60)
        assert finished["status"] == "failure"
        log = api.log_text(third["id"])
        assert "has timed out progressing" in log
        assert "rolling back to shop/web:2" in log
        assert "rollback to shop/web:2: succeeded" in log
        assert thread.call(kube.image_of, "shop", "web") == "shop/web:2"
        recorded = _deployments(api, third["id"])
        assert [(d["kind"], d["status"]) for d in recorded] == [
            ("deploy", "failed"),
            ("auto_rollback", "succeeded"),
        ]
        assert recorded[1]["rolled_back_from"] == recorded[0]["id"]

        # The CLI rolls production back once more: to the version before shop/web:2.
        rolled = cli("deploy", "rollback", "production")
        assert rolled.returncode == 0, rolled.stderr
        assert "(rollback): shop/web:1" in rolled.stdout
        deadline = time.monotonic() + 30
        while thread.call(kube.image_of, "shop", "web") != "shop/web:1":
            assert time.monotonic() < deadline, "the CLI's rollback was not rolled out"
            time.sleep(0.05)
        history = cli("deploy", "history", "production")
        assert history.returncode == 0, history.stderr
        for kind in ("deploy", "auto_rollback", "rollback"):
            assert kind in history.stdout
        environments = cli("deploy", "environments")
        assert (
            "production" in environments.stdout and "approval required" not in environments.stdout
        )
    finally:
        api.http.close()
        agent.stop()
        server.process.stop()
