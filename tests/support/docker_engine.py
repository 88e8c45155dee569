"""A real Docker engine for tests: is one reachable, and does it hold the test image?

``.ci/run`` starts ``dockerd`` and builds the image (``scripts/docker-test-image.sh``: busybox,
imported without any registry). Under CI=true a missing engine or image fails the docker tests;
elsewhere they are skipped, with the reason.
"""

import functools
import gc
import os
import warnings

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


def containers_of_build(build_id: object) -> list[str]:
    """The ids of the containers (running or not) labelled with this build."""
    engine = client()
    try:
        found = engine.containers.list(all=True, filters={"label": f"{BUILD_LABEL}={build_id}"})
        return [container.id or "" for container in found]
    finally:
        engine.close()
