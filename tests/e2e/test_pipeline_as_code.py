"""The whole of issue 3 at once: a job pointing at a git repository whose .solvyd.yml has three
steps (two in parallel, one after both) in a local Docker image, run by a real server and a real
docker agent; the resolved commit, each step's log and an artifact byte for byte; then the same
file through `solvyd exec`."""

import hashlib
import re
import subprocess
import sys
import uuid
from datetime import datetime
from pathlib import Path

import pytest

from tests.e2e.helpers import UserApi
from tests.support.docker_engine import TEST_IMAGE, require_docker
from tests.support.git_repos import git, make_repo
from tests.support.processes import ServerProcess, start_agent

pytestmark = pytest.mark.e2e

PIPELINE = f"""\
image: {TEST_IMAGE}
artifacts: [dist/app.bin]
steps:
  - name: compile
    commands:
      - mkdir -p dist
      - echo compiled $(cat version.txt) > dist/compiled.txt
      - sleep 1
  - name: docs
    commands:
      - mkdir -p dist
      - echo docs > dist/docs.txt
      - sleep 1
  - name: package
    depends_on: [compile, docs]
    commands:
      - cat dist/compiled.txt dist/docs.txt
      - head -c 200000 /dev/urandom > dist/app.bin
      - sha256sum dist/app.bin
"""


# What issue 15 ran: lint and a two-cell matrix test side by side, then a wheel after both.
GRAPH_PIPELINE = """\
steps:
  - name: lint
    commands: [echo lint]
  - name: test
    matrix:
      PY: ["a", "b"]
    commands: [echo test $PY]
  - name: wheel
    depends_on: [lint, test]
    commands: [echo wheel]
"""


@pytest.fixture
def docker_ready() -> None:
    require_docker()


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value)


def test_repository_pipeline_in_docker_end_to_end(
    docker_ready: None, server: ServerProcess, api: UserApi, log_dir: Path, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "repos", PIPELINE)
    name = f"docker-{uuid.uuid4().hex[:6]}"
    agent = start_agent(server.url, log_dir, tmp_path / "work", name=name, executor="docker")
    try:
        worker = api.wait_for_worker(name)
        assert "docker" in worker["labels"] and worker["executors"] == ["docker"]
        job = api.create_job(
            f"app-{uuid.uuid4().hex[:6]}",
            None,
            scm_url=repo.file_url,  # type: ignore[arg-type]
            labels=["docker"],
        )
        build = api.trigger(job["id"])
        finished = api.wait_for_finish(build["id"], timeout=120)
    finally:
        agent.stop()

    assert finished["status"] == "success", (finished, api.log_text(build["id"]))
    assert finished["commit_sha"] == repo.commits["third"]
    steps = {s["name"]: s for s in finished["steps"]}
    assert set(steps) == {"checkout", "compile", "docs", "package"}
    assert all(s["status"] == "success" for s in steps.values())
    # compile and docs ran side by side; package waited for both.
    compile_, docs, package = steps["compile"], steps["docs"], steps["package"]
    assert _time(docs["started_at"]) < _time(compile_["completed_at"])
    assert _time(compile_["started_at"]) < _time(docs["completed_at"])
    assert _time(package["started_at"]) >= max(
        _time(compile_["completed_at"]), _time(docs["completed_at"])
    )

    log = api.log_text(build["id"])
    assert "compiled version 3" in log and "docs" in log
    logged = re.search(r"([0-9a-f]{64})  dist/app.bin", log)
    assert logged, log

    listed = api.http.get(f"/builds/{build['id']}/artifacts").json()["items"]
    assert [a["name"] for a in listed] == ["dist/app.bin"]
    assert listed[0]["sha256"] == logged.group(1)
    download = api.http.get(f"/builds/{build['id']}/artifacts/dist/app.bin")
    assert download.status_code == 200
    assert len(download.content) == 200000
    assert hashlib.sha256(download.content).hexdigest() == logged.group(1)


def test_the_same_file_runs_with_solvyd_exec(docker_ready: None, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repos", PIPELINE)
    checkout = tmp_path / "checkout"
    git(tmp_path, "clone", "--quiet", repo.file_url, str(checkout))
    result = subprocess.run(
        [sys.executable, "-m", "solvyd.cli", "exec", "--executor", "docker"],
        cwd=checkout,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "compiled version 3" in result.stdout
    assert re.search(r"[0-9a-f]{64}  dist/app.bin", result.stdout)
    assert "pipeline success" in result.stderr


def test_the_build_is_drawn_as_the_graph_the_agent_ran(
    server: ServerProcess, api: UserApi, log_dir: Path, tmp_path: Path
) -> None:
    # The server cannot know these steps: the agent plans them from the repository's file.
    repo = make_repo(tmp_path / "repos", GRAPH_PIPELINE)
    name = f"graph-{uuid.uuid4().hex[:6]}"
    agent = start_agent(server.url, log_dir, tmp_path / "work", name=name)
    try:
        api.wait_for_worker(name)
        job = api.create_job(f"graph-{uuid.uuid4().hex[:6]}", None, scm_url=repo.file_url)  # type: ignore[arg-type]
        build = api.trigger(job["id"])
        finished = api.wait_for_finish(build["id"], timeout=60)
    finally:
        agent.stop()

    assert finished["status"] == "success", (finished, api.log_text(build["id"]))
    assert {step["name"]: step["depends_on"] for step in finished["steps"]} == {
        "checkout": [],
        "lint": ["checkout"],
        "test (PY=a)": ["checkout"],
        "test (PY=b)": ["checkout"],
        "wheel": ["lint", "test (PY=a)", "test (PY=b)"],
    }
