"""The container image (Dockerfile, docs/deploy-image.md), built here from the bases
scripts/base-images.sh makes: a server container and an agent container on the host network,
against this machine's PostgreSQL, run a build; the server serves the UI, runs as a non-root
user and its HEALTHCHECK turns healthy. Under CI=true a missing engine or database fails."""

import json
import os
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import IN_CI
from tests.e2e.helpers import UserApi, one_step
from tests.support.databases import PostgresDatabases
from tests.support.docker_engine import require_docker
from tests.support.processes import ADMIN_PASSWORD, AGENT_TOKEN, admin_token, free_port

ROOT = Path(__file__).resolve().parents[2]
IMAGE = os.environ.get("SOLVYD_E2E_IMAGE", "solvyd:e2e")
BASE_IMAGE = os.environ.get("SOLVYD_BASE_DEBIAN", "solvyd-base/debian:bookworm")
# The image's own uid (Dockerfile): the server and the steps the agent runs are not root.
IMAGE_UID = 10001

# A cold build (bases by debootstrap, npm ci, pip install) takes minutes; the layer cache makes
# a rerun seconds.
# The image build holds both cores: run alone, at the end, when CI's background build is done.
pytestmark = [pytest.mark.timeout(900), pytest.mark.serial]


@dataclass
class ContainerServer:
    url: str

    def admin_token(self) -> str:
        return admin_token(self.url)


def docker(*args: str, timeout: float = 60) -> str:
    done = subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, f"docker {args[0]} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout.strip()


def container_logs(name: str) -> str:
    done = subprocess.run(
        ["docker", "logs", "--tail", "50", name], capture_output=True, text=True, timeout=30
    )
    return f"--- {name} ---\n{done.stdout}{done.stderr}"


def inspect(name: str) -> dict[str, object]:
    return dict(json.loads(docker("inspect", name))[0])


def wait_until(
    check: Callable[[], bool], what: str, names: list[str], timeout: float = 60.0
) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{what} within {timeout}s\n" + "\n".join(map(container_logs, names))
            )
        time.sleep(0.5)


def bases_problem() -> str | None:
    """Why scripts/base-images.sh cannot make the bases here, if it has to and cannot."""
    made = subprocess.run(
        ["docker", "image", "inspect", BASE_IMAGE], capture_output=True, timeout=30, check=False
    )
    if made.returncode != 0 and shutil.which("debootstrap") is None:
        return f"no {BASE_IMAGE} and no debootstrap to make it (apt-get install debootstrap)"
    return None


@pytest.fixture(scope="module")
def image() -> str:
    require_docker()
    problem = bases_problem()
    if problem is not None:
        if IN_CI:
            pytest.fail(problem)
        pytest.skip(problem)
    done = subprocess.run(
        [str(ROOT / "scripts" / "build-image.sh"), IMAGE, "--quiet"],
        capture_output=True, text=True, timeout=840, check=False,
    )  # fmt: skip
    assert done.returncode == 0, f"the image did not build:\n{done.stdout}\n{done.stderr}"
    return IMAGE


@pytest.fixture(scope="module")
def database(postgres_databases: PostgresDatabases) -> str:
    return postgres_databases.require()


@dataclass
class Deployment:
    server: str  # container names
    agent: str
    agent_name: str
    url: str


@pytest.fixture(scope="module")
def deployment(image: str, database: str) -> Iterator[Deployment]:
    suffix = uuid.uuid4().hex[:8]
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    deployment = Deployment(f"solvyd-e2e-server-{suffix}", f"solvyd-e2e-agent-{suffix}",
                            f"image-agent-{suffix}", url)  # fmt: skip
    # Secrets reach the containers through `-e NAME` (from this environment), not argv.
    secrets = {**os.environ, "SOLVYD_ADMIN_PASSWORD": ADMIN_PASSWORD,
               "SOLVYD_AGENT_TOKEN": AGENT_TOKEN}  # fmt: skip
    common = ["run", "--detach", "--network", "host", "--label", "solvyd.e2e=container-image"]
    try:
        subprocess.run(
            ["docker", *common, "--name", deployment.server,
             # The image's HEALTHCHECK command, checked more often than its 10 s, for speed.
             "--health-interval", "2s",
             "-e", f"SOLVYD_DATABASE_URL={database}", "-e", "SOLVYD_ADMIN_PASSWORD",
             "-e", "SOLVYD_AGENT_TOKEN",
             image, "server", "--host", "127.0.0.1", "--port", str(port)],
            env=secrets, check=True, capture_output=True, timeout=60,
        )  # fmt: skip

        def healthz() -> bool:
            try:
                return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        wait_until(healthz, "the server container did not answer /healthz", [deployment.server])
        subprocess.run(
            ["docker", *common, "--name", deployment.agent, "-e", "SOLVYD_AGENT_TOKEN",
             image, "agent", "--server", url, "--name", deployment.agent_name,
             "--isolation", "none"],
            env=secrets, check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        yield deployment
    finally:
        for name in (deployment.agent, deployment.server):
            subprocess.run(["docker", "rm", "--force", name], capture_output=True, timeout=60)


def test_a_build_runs_through_the_server_and_agent_containers(deployment: Deployment) -> None:
    api = UserApi(ContainerServer(deployment.url))  # type: ignore[arg-type]
    try:
        api.wait_for_worker(deployment.agent_name, timeout=60)
        job = api.create_job(f"image-{uuid.uuid4().hex[:6]}", one_step("echo uid=$(id -u)"))
        build = api.trigger(job["id"])
        finished = api.wait_for_finish(build["id"], timeout=60)
        names = [deployment.server, deployment.agent]
        assert finished["status"] == "success", "\n".join(map(container_logs, names))
        # The agent container's steps run as the image's user, not root.
        assert f"uid={IMAGE_UID}" in api.log_text(build["id"])
        # The server container's /metrics (open on the API port by default) counts it.
        metrics = httpx.get(f"{deployment.url}/metrics", timeout=10)
        assert metrics.status_code == 200
        labels = rf'job="{job["name"]}",status="success"'
        counted = re.search(rf"^solvyd_builds_total\{{{labels}[^}}]*\}} 1\.0$", metrics.text, re.M)
        assert counted, metrics.text
    finally:
        api.http.close()


def test_the_server_container_serves_the_ui(deployment: Deployment) -> None:
    page = httpx.get(f"{deployment.url}/", timeout=10)
    assert page.status_code == 200, page.text
    assert "<title>Solvyd</title>" in page.text and "not built" not in page.text
    script = re.search(r'src="(/assets/[^"]+\.js)"', page.text)
    assert script is not None, page.text
    asset = httpx.get(f"{deployment.url}{script.group(1)}", timeout=10)
    assert asset.status_code == 200
    assert "javascript" in asset.headers["content-type"]


def test_the_server_runs_as_non_root_and_turns_healthy(deployment: Deployment) -> None:
    pid = inspect(deployment.server)["State"]["Pid"]  # type: ignore[index]
    uids = next(
        line.split()[1:] for line in Path(f"/proc/{pid}/status").read_text().splitlines()
        if line.startswith("Uid:")
    )  # fmt: skip
    assert set(uids) == {str(IMAGE_UID)}

    def healthy() -> bool:
        return inspect(deployment.server)["State"]["Health"]["Status"] == "healthy"  # type: ignore[index]

    wait_until(healthy, "the server's HEALTHCHECK did not turn healthy", [deployment.server])
