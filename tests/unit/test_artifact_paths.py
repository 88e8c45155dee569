"""Which files the agent uploads: glob expansion inside the workspace, and refusal of anything
that would reach outside it."""

import os
from pathlib import Path

import pytest

from solvyd.agent.artifacts import artifact_patterns, collect_artifacts, pattern_problem
from solvyd.protocol import JobSpec, StepSpec


def _write(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    _write(ws / "dist" / "app.bin", b"0123456789")
    _write(ws / "dist" / "app.txt", b"hello")
    _write(ws / "reports" / "unit" / "junit.xml", b"<xml/>")
    _write(ws / "reports" / "coverage.xml", b"<cov/>")
    _write(ws / "top.log")
    return ws


def _collect(ws: Path, *patterns: str) -> tuple[dict[str, int], list[str]]:
    notes: list[str] = []
    found = collect_artifacts(ws, list(patterns), notes.append)
    return {a.name: a.size for a in found}, notes


def test_globs_expand_relative_to_the_workspace(workspace: Path) -> None:
    found, notes = _collect(workspace, "dist/*.bin", "reports/**/*.xml", "top.log")
    assert found == {
        "dist/app.bin": 10,
        "reports/coverage.xml": 6,
        "reports/unit/junit.xml": 6,
        "top.log": 1,
    }
    assert notes == []


def test_a_matched_directory_brings_its_files_and_repeats_are_dropped(workspace: Path) -> None:
    found, _ = _collect(workspace, "dist", "dist/app.txt")
    assert sorted(found) == ["dist/app.bin", "dist/app.txt"]


def test_a_pattern_matching_nothing_is_noted(workspace: Path) -> None:
    found, notes = _collect(workspace, "nothing/*.zip")
    assert found == {}
    assert notes == ["artifact pattern 'nothing/*.zip' matched no files"]


@pytest.mark.parametrize(
    "pattern",
    ["../outside.txt", "dist/../../outside.txt", "/etc/passwd", "~/secret", "dist\\app.bin"],
)
def test_patterns_that_could_escape_are_refused(
    workspace: Path, tmp_path: Path, pattern: str
) -> None:
    _write(tmp_path / "outside.txt")
    assert pattern_problem(pattern) is not None
    found, notes = _collect(workspace, pattern)
    assert found == {}
    assert len(notes) == 1 and "refused" in notes[0], notes


def test_symlinks_resolving_outside_are_skipped_with_a_reason(
    workspace: Path, tmp_path: Path
) -> None:
    secret = _write(tmp_path / "secret" / "key.pem", b"secret")
    (workspace / "dist" / "leak.bin").symlink_to(secret)
    (workspace / "linked-dir").symlink_to(secret.parent, target_is_directory=True)
    (workspace / "dist" / "dangling.bin").symlink_to(tmp_path / "nowhere")
    found, notes = _collect(workspace, "dist/*.bin", "linked-dir/*", "linked-dir")
    assert found == {"dist/app.bin": 10}
    assert any("leak.bin" in n and "outside the workspace" in n for n in notes), notes
    assert any("dangling.bin" in n for n in notes), notes
    assert any("key.pem" in n or "linked-dir" in n for n in notes), notes
    assert not any(name.endswith("key.pem") for name in found)


def test_a_symlink_inside_the_workspace_is_followed(workspace: Path) -> None:
    (workspace / "latest.bin").symlink_to(workspace / "dist" / "app.bin")
    found, notes = _collect(workspace, "latest.bin")
    assert found == {"latest.bin": 10}
    assert notes == []


def test_non_regular_files_are_skipped(workspace: Path) -> None:
    os.mkfifo(workspace / "dist" / "pipe.bin")
    found, notes = _collect(workspace, "dist/*.bin")
    assert found == {"dist/app.bin": 10}
    assert any("pipe.bin" in n and "not a regular file" in n for n in notes)


def test_patterns_come_from_the_job_and_every_step() -> None:
    import uuid

    spec = JobSpec.model_validate(
        {
            "build_id": str(uuid.uuid4()),
            "build_number": 1,
            "job_id": str(uuid.uuid4()),
            "job_name": "j",
            "steps": [
                StepSpec(name="a", commands=["true"], artifacts=["a/*", "dist/*"]).model_dump(),
                StepSpec(name="b", commands=["true"], artifacts=["b.txt"]).model_dump(),
            ],
            "artifacts": ["dist/*"],
        }
    )
    assert artifact_patterns(spec) == ["dist/*", "a/*", "b.txt"]
