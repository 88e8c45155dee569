"""A real Docker engine for tests: is one reachable, and does it hold the test image?

``.ci/run`` starts ``dockerd`` and builds the image (``scripts/docker-test-image.sh``: busybox,
imported without any registry). Under CI=true a missing engine or image fails the docker tests;
elsewhere they are skipped, with the reason.
"""

import functools
import gc
import os
import subprocess
import warnings
from pathlib import Path

import docker
import pytest
import requests
from docker.errors import DockerException, ImageNotFound

TEST_IMAGE = os.environ.get("SOLVYD_TEST_IMAGE", "solvyd-test/busybox:latest")
IN_CI = os.environ.get("CI", "").lower() == "true"
BUILD_LABEL = "solvyd.build"


def client() -> docker.DockerClient:
    return docker.from_env(timeout=10)


@functools.cache
def engine_problem() -> str | None:
    """None when the engine answers and holds ``TEST_IMAGE``, else why the tests cannot run."""
    address = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    if address.startswith("unix://") and not os.path.exists(address[len("unix://") :]):
        return f"no Docker engine at {address}; start dockerd (see .ci/run)"
    try:
        engine = client()
    except (DockerException, requests.RequestException, OSError) as exc:
        problem = f"no Docker engine answers at {address} ({exc}); start dockerd (see .ci/run)"
        del exc
        # docker's client leaks the socket of a failed connect: let it go quietly now.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            gc.collect()
        return problem
    try:
        engine.ping()
        engine.images.get(TEST_IMAGE)
    except ImageNotFound:
        return f"the test image {TEST_IMAGE} is missing; run scripts/docker-test-image.sh"
    except (DockerException, requests.RequestException, OSError) as exc:
        return f"the Docker engine does not answer ({exc}); start dockerd (see .ci/run)"
    finally:
        engine.close()
    return None


def require_docker() -> None:
    """Skip the calling test without an engine, or fail it under CI=true."""
    problem = engine_problem()
    if problem is None:
        return
    if IN_CI:
        pytest.fail(f"CI=true needs a Docker engine: {problem}")
    pytest.skip(problem)


# The image the docker executor runs the builtin checkout step in, in tests: Solvyd's own
# (scripts/build-image.sh; CI builds it as solvyd:e2e).
CHECKOUT_IMAGE = os.environ.get("SOLVYD_CHECKOUT_IMAGE") or os.environ.get(
    "SOLVYD_E2E_IMAGE", "solvyd:e2e"
)


def require_checkout_image() -> str:
    """``CHECKOUT_IMAGE``, once the engine holds it. Missing, it fails the calling test under
    CI=true unless it can be built: CI builds it in the background (``.ci/run``), and
    ``scripts/build-image.sh`` waits for that build (a lock) and then finds every layer made,
    as ``tests/e2e/test_container_image.py`` does. Elsewhere a missing image skips the test."""
    require_docker()
    if _has_image(CHECKOUT_IMAGE):
        return CHECKOUT_IMAGE
    problem = f"the checkout image {CHECKOUT_IMAGE} is missing; run scripts/build-image.sh"
    if not IN_CI:
        pytest.skip(problem)
    script = Path(__file__).resolve().parents[2] / "scripts" / "build-image.sh"
    done = subprocess.run(
        [str(script), CHECKOUT_IMAGE, "--quiet"],
        capture_output=True,
        text=True,
        timeout=840,
        check=False,
    )
    if done.returncode != 0 or not _has_image(CHECKOUT_IMAGE):
        pytest.fail(f"CI=true needs {problem}; building it failed:\n{done.stdout}{done.stderr}")
    return CHECKOUT_IMAGE


def _has_image(name: str) -> bool:
    engine = client()
    try:
        engine.images.get(name)
    except ImageNotFound:
        return False
    finally:
        engine.close()
    return True


def containers_of_build(build_id: object) -> list[str]:
    """The ids of the containers (running or not) labelled with this build."""
    engine = client()
    try:
        found = engine.containers.list(all=True, filters={"label": f"{BUILD_LABEL}={build_id}"})
        return [container.id or "" for container in found]
    finally:
        engine.close()
