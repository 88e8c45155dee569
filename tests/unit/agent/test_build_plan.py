"""The agent's prepare phase, piece by piece: the pipeline file read from git before the run
(real repositories), the checkout step put first, and artifacts matched against a listing."""

import json
import uuid
from pathlib import Path

import pytest
from tests.support.git_repos import PIPELINE, GitRepo, make_repo

from solvyd.agent.artifacts import match_listed
from solvyd.agent.build_plan import checkout_step, plan_graph, with_checkout_first
from solvyd.agent.checkout import CheckoutError, read_file_at_commit
from solvyd.agent.checkout_program import CREDENTIALS_ENV, REQUEST_ENV
from solvyd.pipeline.executors.base import WorkspaceFile
from solvyd.pipeline.runtime import step_dependencies
from solvyd.protocol import CHECKOUT_STEP, JobSpec, StepSpec


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> GitRepo:
    return make_repo(tmp_path_factory.mktemp("repos"))


def _spec(url: str | None = None, *steps: StepSpec, **fields: object) -> JobSpec:
    return JobSpec.model_validate(
        {
            "build_id": uuid.uuid4(),
            "build_number": 1,
            "job_id": uuid.uuid4(),
            "job_name": "j",
            "scm_url": url,
            "steps": list(steps),
            **fields,
        }
    )


async def test_the_pipeline_file_is_read_at_the_branch_tip(repo: GitRepo, tmp_path: Path) -> None:
    lines: list[str] = []
    sha, content = await read_file_at_commit(
        _spec(repo.file_url, branch="main"), ".solvyd.yml", lines.append, max_bytes=10_000
    )
    assert sha == repo.commits["third"]
    assert content == PIPELINE.encode()
    assert f"fetched commit {sha}" in lines


async def test_the_pipeline_file_is_read_at_an_older_commit(repo: GitRepo) -> None:
    first = repo.commits["first"]
    sha, content = await read_file_at_commit(
        _spec(repo.file_url, commit_sha=first), "version.txt", lambda _: None, max_bytes=100
    )
    assert (sha, content) == (first, b"version 1\n")


async def test_a_missing_file_is_none_and_a_large_one_refused(repo: GitRepo) -> None:
    spec = _spec(repo.file_url)
    sha, content = await read_file_at_commit(spec, "nope.yml", lambda _: None, max_bytes=100)
    assert sha == repo.commits["third"] and content is None
    with pytest.raises(CheckoutError, match="larger than 5 bytes"):
        await read_file_at_commit(spec, ".solvyd.yml", lambda _: None, max_bytes=5)


async def test_an_unreachable_repository_says_why(tmp_path: Path) -> None:
    url = (tmp_path / "missing.git").as_uri()
    with pytest.raises(CheckoutError, match=r"cloning .* does not appear to be a git repository"):
        await read_file_at_commit(_spec(url), ".solvyd.yml", lambda _: None, max_bytes=100)


def test_the_checkout_step_pins_the_commit_and_keeps_its_credentials_unsent() -> None:
    spec = _spec("https://git.example/app.git", branch="main", timeout_seconds=120)
    step = checkout_step(spec, "a" * 40, "user:s3cret")
    assert step.name == CHECKOUT_STEP and step.builtin == "checkout" and step.commands == []
    assert json.loads(step.env[REQUEST_ENV]) == {
        "scm_url": "https://git.example/app.git",
        "commit_sha": "a" * 40,
        "branch": "main",
        "timeout_seconds": 120.0,
    }
    assert step.timeout_seconds == 120
    assert step.secret_env == {CREDENTIALS_ENV: "user:s3cret"}
    assert "s3cret" not in step.model_dump_json()
    assert "s3cret" not in repr(step)


def test_the_checkout_comes_first_in_the_graph_the_runtime_follows() -> None:
    in_order = _spec(None, StepSpec(name="a", commands=[]), StepSpec(name="b", commands=[]))
    checkout = StepSpec(name=CHECKOUT_STEP, builtin="checkout", commands=[])
    planned = with_checkout_first(in_order, checkout)
    assert step_dependencies(planned.steps) == {"checkout": set(), "a": {"checkout"}, "b": {"a"}}

    graph = _spec(
        None,
        StepSpec(name="lint", commands=[]),
        StepSpec(name="test", commands=[]),
        StepSpec(name="wheel", commands=[], depends_on=["lint", "test"]),
    )
    planned = with_checkout_first(graph, checkout)
    runs = {name: sorted(deps) for name, deps in step_dependencies(planned.steps).items()}
    drawn = {step.name: sorted(step.depends_on) for step in plan_graph(graph, checkout=True).steps}
    assert (
        runs
        == drawn
        == {
            "checkout": [],
            "lint": ["checkout"],
            "test": ["checkout"],
            "wheel": ["lint", "test"],
        }
    )


LISTED = [
    WorkspaceFile(".hidden/x", 1),
    WorkspaceFile("dist/app.bin", 10),
    WorkspaceFile("dist/deep/more.txt", 2),
    WorkspaceFile("notes.txt", 3),
    WorkspaceFile("line\nbreak.txt", 4),
]


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("dist/*.bin", ["dist/app.bin"]),
        ("dist", ["dist/app.bin", "dist/deep/more.txt"]),
        ("dist/", ["dist/app.bin", "dist/deep/more.txt"]),
        ("**/*.txt", ["dist/deep/more.txt", "notes.txt"]),
        ("*", [".hidden/x", "dist/app.bin", "dist/deep/more.txt", "notes.txt"]),
        ("d?st/deep", ["dist/deep/more.txt"]),
        ("[n]otes.txt", ["notes.txt"]),
    ],
)
def test_patterns_match_the_listed_files_as_globs(pattern: str, expected: list[str]) -> None:
    notes: list[str] = []
    found = match_listed(LISTED, [pattern], notes.append)
    assert [item.path for item in found] == expected


def test_refused_unmatched_and_unnameable_files_are_noted() -> None:
    notes: list[str] = []
    found = match_listed(LISTED, ["../x", "nothing/*", "line*", "notes.txt"], notes.append)
    assert [item.path for item in found] == ["notes.txt"]
    assert notes == [
        "artifact pattern '../x' refused: it contains '..' and could reach outside the workspace",
        "artifact pattern 'nothing/*' matched no files",
        "artifact 'line\\nbreak.txt' skipped: its name contains a control character",
    ]
