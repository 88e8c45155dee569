"""Builds go to agents that can run them, with real processes and a real Docker engine: a docker
agent without a default image leaves a step that names no image alone (the build says why),
hands back a repository pipeline with such a step after its checkout, and a local agent runs
both; a docker agent started with --default-image runs such a step in that image."""

import time
import uuid
from pathlib import Path

import pytest

from tests.e2e.helpers import UserApi
from tests.support.docker_engine import TEST_IMAGE, require_docker
from tests.support.git_repos import make_repo
from tests.support.processes import ServerProcess, start_agent

pytestmark = pytest.mark.e2e

# Where the step runs shows in SOLVYD_WORKSPACE: /workspace in a container, a host path on
# the local executor.
IMAGELESS = "steps:\n  - name: lint\n    commands: ['echo linted in $SOLVYD_WORKSPACE']\n"
NO_RUNNER = "no online worker can run steps without an image"


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_build_goes_only_to_an_agent_that_can_run_it(
    server: ServerProcess, api: UserApi, log_dir: Path, tmp_path: Path
) -> None:
    require_docker()
    inline = api.create_job(_unique("inline"), IMAGELESS)
    repo = make_repo(tmp_path / "repos", IMAGELESS)
    from_repo = api.create_job(_unique("repo"), None, scm_url=repo.file_url)  # type: ignore[arg-type]

    docker_name = _unique("docker")
    docker = start_agent(
        server.url, log_dir, tmp_path / "docker", name=docker_name, executor="docker"
    )
    try:
        worker = api.wait_for_worker(docker_name)
        assert worker["runs_steps_without_image"] is False
        waiting = api.trigger(inline["id"])
        handed_back = api.trigger(from_repo["id"])
        # The repository's plan is known only after the checkout: the docker agent claims
        # that build, reads the file, and gives it back without running a step.
        deadline = time.monotonic() + 60
        while not api.build(handed_back["id"])["error_message"]:
            assert time.monotonic() < deadline, api.build(handed_back["id"])
            time.sleep(0.1)
        time.sleep(1)  # the docker agent's long poll had every chance to take the other one
        for build_id in (waiting["id"], handed_back["id"]):
            build = api.build(build_id)
            assert build["status"] == "queued" and build["worker_id"] is None, build
            assert build["waiting_reason"].startswith(NO_RUNNER), build
        returned = api.build(handed_back["id"])
        assert docker_name in returned["error_message"] and "lint" in returned["error_message"]
        assert returned["attempt"] == 2  # a run of its own, though not a retry

        local_name = _unique("local")
        local = start_agent(server.url, log_dir, tmp_path / "local", name=local_name)
        try:
            finished = [api.wait_for_finish(b["id"], 60) for b in (waiting, handed_back)]
        finally:
            local.stop()
    finally:
        docker.stop()
    for build in finished:
        assert build["status"] == "success", (build["error_message"], api.log_text(build["id"]))
        assert build["error_message"] is None
        assert build["worker_id"] != worker["id"]
        log = api.log_text(build["id"])
        assert "linted in" in log and "linted in /workspace" not in log

    # With a default image, a docker agent runs a step that names none, in that image.
    default_name = _unique("docker-default")
    defaulted = start_agent(
        server.url,
        log_dir,
        tmp_path / "docker-default",
        name=default_name,
        executor="docker",
        extra_args=["--default-image", TEST_IMAGE],
    )
    try:
        assert api.wait_for_worker(default_name)["runs_steps_without_image"] is True
        build = api.wait_for_finish(api.trigger(inline["id"])["id"], 60)
    finally:
        defaulted.stop()
    log = api.log_text(build["id"])
    assert build["status"] == "success", (build, log)
    assert f"Using the agent's default image {TEST_IMAGE}" in log
    assert "linted in /workspace" in log
