"""Builds of jobs whose sources (and pipeline) live in a real git repository made by the test,
served as file:// and by `git daemon`: a real server and agent, the local executor."""

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.helpers import UserApi
from tests.support.git_repos import GitDaemon, GitRepo, make_repo, start_git_daemon
from tests.support.processes import Process, ServerProcess, start_agent

pytestmark = pytest.mark.e2e


@pytest.fixture
def agent(server: ServerProcess, log_dir: Path, tmp_path: Path, api: UserApi) -> Iterator[Process]:
    name = f"git-agent-{uuid.uuid4().hex[:6]}"
    process = start_agent(server.url, log_dir, tmp_path / "work", name=name)
    api.wait_for_worker(name)
    yield process
    process.stop()


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    return make_repo(tmp_path / "repos")


@pytest.fixture
def daemon(repo: GitRepo, log_dir: Path) -> Iterator[GitDaemon]:
    started = start_git_daemon(repo.root, log_dir)
    yield started
    started.stop()


def _repo_job(api: UserApi, url: str, **fields: object) -> dict[str, object]:
    return api.create_job(f"git-{uuid.uuid4().hex[:8]}", None, scm_url=url, **fields)  # type: ignore[arg-type]


def _check_built(api: UserApi, build_id: str, sha: str, version: str) -> str:
    finished = api.wait_for_finish(build_id, timeout=60)
    assert finished["status"] == "success", finished
    assert finished["commit_sha"] == sha
    steps = {s["name"]: s["status"] for s in finished["steps"]}
    assert steps == {"checkout": "success", "show": "success", "second": "success"}, finished
    log = api.log_text(build_id)
    assert f"checked out commit {sha}" in log
    assert version in log
    assert f"sha={sha}" in log
    assert "second step ran in" in log
    return log


def test_a_repository_pipeline_is_queued_without_steps(api: UserApi, repo: GitRepo) -> None:
    job = _repo_job(api, repo.file_url, labels=["nobody-has-this"])
    assert job["pipeline_path"] == ".solvyd.yml"
    build = api.trigger(str(job["id"]))
    queued = api.build(build["id"])
    assert queued["status"] == "queued"
    # Only the checkout is known: the agent plans the rest from the file after it.
    assert [s["name"] for s in queued["steps"]] == ["checkout"]


@pytest.mark.parametrize("transport", ["file", "git"])
def test_repository_pipeline_builds_the_branch_tip(
    api: UserApi,
    agent: Process,
    repo: GitRepo,
    request: pytest.FixtureRequest,
    transport: str,
) -> None:
    url = repo.file_url
    if transport == "git":
        url = request.getfixturevalue("daemon").url(repo)
    job = _repo_job(api, url, branch="main")
    build = api.trigger(str(job["id"]))
    log = _check_built(api, build["id"], repo.commits["third"], "version 3")
    assert "branch=main" in log
    assert url in log  # the checkout step's own lines


def test_trigger_with_an_older_commit_builds_that_commit(
    api: UserApi, agent: Process, repo: GitRepo
) -> None:
    job = _repo_job(api, repo.file_url, branch="main")
    build = api.trigger(str(job["id"]), commit_sha=repo.commits["first"])
    _check_built(api, build["id"], repo.commits["first"], "version 1")


def test_feature_branch_from_the_trigger(
    api: UserApi, agent: Process, repo: GitRepo, daemon: GitDaemon
) -> None:
    job = _repo_job(api, daemon.url(repo))
    build = api.trigger(str(job["id"]), branch="feature")
    _check_built(api, build["id"], repo.commits["feature"], "feature version")


def test_inline_pipeline_runs_in_the_checked_out_sources(
    api: UserApi, agent: Process, repo: GitRepo
) -> None:
    job = api.create_job(
        f"git-{uuid.uuid4().hex[:8]}",
        "steps:\n  - name: read\n    commands: ['cat version.txt']\n",
        scm_url=repo.file_url,
    )
    finished = api.wait_for_finish(api.trigger(job["id"])["id"], timeout=60)
    assert finished["status"] == "success", finished
    assert finished["commit_sha"] == repo.commits["third"]
    assert {s["name"]: s["status"] for s in finished["steps"]} == {
        "checkout": "success",
        "read": "success",
    }
    assert "version 3" in api.log_text(finished["id"])


def test_a_repository_that_cannot_be_cloned_ends_the_build_error(
    api: UserApi, agent: Process, tmp_path: Path
) -> None:
    job = _repo_job(api, (tmp_path / "missing.git").as_uri())
    finished = api.wait_for_finish(api.trigger(str(job["id"]))["id"], timeout=60)
    assert finished["status"] == "error", finished
    assert "does not appear to be a git repository" in finished["error_message"]
    assert {s["name"]: s["status"] for s in finished["steps"]} == {"checkout": "error"}


def test_an_invalid_pipeline_file_fails_the_build_with_its_location_and_no_retry(
    api: UserApi, agent: Process, tmp_path: Path
) -> None:
    broken = make_repo(tmp_path / "broken", pipeline="steps:\n  - name: a\n    comands: [x]\n")
    job = _repo_job(api, broken.file_url)
    finished = api.wait_for_finish(api.trigger(str(job["id"]))["id"], timeout=60)
    # The commit's file is wrong: a retry cannot mend it, so the build fails (not `error`).
    assert (finished["status"], finished["attempt"]) == ("failure", 1), finished
    assert ".solvyd.yml:2:5: steps[0].commands: field required" in finished["error_message"]
    assert finished["commit_sha"] == broken.commits["third"]
    assert {s["name"]: s["status"] for s in finished["steps"]} == {"checkout": "failure"}


def test_a_repository_step_may_not_take_the_checkout_name(
    api: UserApi, agent: Process, tmp_path: Path
) -> None:
    taken = make_repo(
        tmp_path / "taken", pipeline="steps:\n  - name: checkout\n    commands: [x]\n"
    )
    job = _repo_job(api, taken.file_url)
    finished = api.wait_for_finish(api.trigger(str(job["id"]))["id"], timeout=60)
    assert finished["status"] == "failure", finished
    assert "step name 'checkout' is taken by the repository checkout" in finished["error_message"]
