"""Artifacts: after the steps, find the files the pipeline asked to keep and upload them.

Patterns (the job's `artifacts` and every step's) are globs relative to the workspace. The
agent never reads the workspace itself: it matches the patterns against the files the executor
lists (`Executor.list_workspace`: regular files only, no symlink followed, nothing outside)
and streams each upload from `Executor.read_workspace_file`, never whole in memory. Absolute
patterns and patterns with `..` are refused, with the reason in the build's log. A matched
directory contributes every file under it. (`collect_artifacts` does the same on a directory
of this machine, for `solvyd exec`: there a match resolving outside is skipped with a reason.)

A file's name is the step's choice, so it may hold a secret: each is masked like a log line
before it is uploaded, logged or said in the build's log, and the server, the API and the
download's `Content-Disposition` only ever see the masked name. Two files whose masked names
are the same keep the first; the other is skipped with a line in the log.
"""

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path, PurePosixPath

import structlog

from solvyd.agent.client import Rejected, ServerClient, ServerUnavailable, with_retries
from solvyd.pipeline.executors.base import Executor, ExecutorError, WorkspaceFile
from solvyd.protocol import BuildStatus, JobSpec

log = structlog.get_logger(__name__)

LOG_STEP = "artifacts"
# A file whose upload keeps failing on an unreachable server is given up after this long.
UPLOAD_RETRY_SECONDS = 120.0
# Statuses whose workspace holds something worth keeping (a cancelled build's does not).
UPLOAD_ON = frozenset({BuildStatus.SUCCESS, BuildStatus.FAILURE})
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class FoundArtifact:
    name: str  # the path relative to the workspace, with / between directories
    path: Path
    size: int


def artifact_patterns(spec: JobSpec) -> list[str]:
    """The job's patterns, then each step's, without repeats."""
    patterns = list(spec.artifacts)
    for step in spec.steps:
        patterns.extend(step.artifacts)
    return list(dict.fromkeys(p for p in patterns if p.strip()))


def pattern_problem(pattern: str) -> str | None:
    """Why a pattern may not be used, or None if it is a relative glob inside the workspace."""
    if "\x00" in pattern:
        return "it contains a NUL character"
    if "\\" in pattern:
        return "it contains a backslash; use / between directories"
    if pattern.startswith("/") or pattern.startswith("~") or re.match(r"^[A-Za-z]:", pattern):
        return "it is absolute; patterns are relative to the workspace"
    if ".." in PurePosixPath(pattern).parts:
        return "it contains '..' and could reach outside the workspace"
    return None


def collect_artifacts(
    workspace: Path, patterns: list[str], note: Callable[[str], None]
) -> list[FoundArtifact]:
    """The files the patterns match inside `workspace`, sorted by name. Blocking (it walks the
    file system); `note` receives a line for the build log for everything skipped."""
    root = workspace.resolve()
    found: dict[str, FoundArtifact] = {}
    for pattern in patterns:
        problem = pattern_problem(pattern)
        if problem is not None:
            note(f"artifact pattern {pattern!r} refused: {problem}")
            continue
        matches = sorted(workspace.glob(pattern.strip("/")))
        if not matches:
            note(f"artifact pattern {pattern!r} matched no files")
        for match in matches:
            for path in _files_under(match, workspace, root, note):
                name = path.relative_to(workspace).as_posix()
                if name in found:
                    continue
                problem = _name_problem(name)
                if problem is not None:
                    note(f"artifact {name!r} skipped: {problem}")
                    continue
                found[name] = FoundArtifact(name, path, path.stat().st_size)
    return sorted(found.values(), key=lambda artifact: artifact.name)


def match_listed(
    files: list[WorkspaceFile], patterns: list[str], note: Callable[[str], None]
) -> list[WorkspaceFile]:
    """The listed files the patterns match (a file, or a directory it is under), sorted by
    path; `note` receives a line for the build log for everything refused or skipped. Globs
    as `Path.glob` reads them: `*`, `?` and `[...]` within one name, `**` for any number of
    directories."""
    found: dict[str, WorkspaceFile] = {}
    for pattern in patterns:
        problem = pattern_problem(pattern)
        if problem is not None:
            note(f"artifact pattern {pattern!r} refused: {problem}")
            continue
        segments = [part for part in pattern.strip("/").split("/") if part not in ("", ".")]
        matched = [item for item in files if _matches(segments, item.path.split("/"))]
        if not matched:
            note(f"artifact pattern {pattern!r} matched no files")
        for item in matched:
            if item.path in found:
                continue
            problem = _name_problem(item.path)
            if problem is not None:
                note(f"artifact {item.path!r} skipped: {problem}")
                continue
            found[item.path] = item
    return sorted(found.values(), key=lambda item: item.path)


def _matches(segments: list[str], parts: list[str]) -> bool:
    """Whether the file `parts` or one of the directories it is in matches `segments`."""
    return bool(segments) and any(
        _match_whole(segments, parts[:length]) for length in range(1, len(parts) + 1)
    )


def _match_whole(segments: list[str], parts: list[str]) -> bool:
    if not segments:
        return not parts
    if segments[0] == "**":
        return any(_match_whole(segments[1:], parts[skip:]) for skip in range(len(parts) + 1))
    return bool(parts) and (
        fnmatchcase(parts[0], segments[0]) and _match_whole(segments[1:], parts[1:])
    )


def _files_under(
    match: Path, workspace: Path, root: Path, note: Callable[[str], None]
) -> list[Path]:
    shown = match.relative_to(workspace).as_posix()
    if not _inside(match, root):
        note(f"artifact {shown!r} skipped: it resolves outside the workspace (a symlink?)")
        return []
    if match.is_dir():
        files: list[Path] = []
        for child in sorted(match.rglob("*")):
            if child.is_dir():
                continue
            files.extend(_files_under(child, workspace, root, note))
        return files
    if not match.is_file():
        note(f"artifact {shown!r} skipped: not a regular file")
        return []
    return [match]


def _inside(path: Path, root: Path) -> bool:
    try:
        resolved = path.resolve(strict=True)
    except (OSError, RuntimeError):  # dangling or looping symlink
        return False
    return resolved == root or resolved.is_relative_to(root)


def _name_problem(name: str) -> str | None:
    if _CONTROL.search(name):
        return "its name contains a control character"
    if "\\" in name:
        return "its name contains a backslash"
    if len(name) > 500:
        return "its name is longer than 500 characters"
    return None


def _human(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit} ({size} B)"
        value /= 1024
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class _Upload:
    name: str  # as uploaded: masked
    path: str  # in the workspace
    size: int


class ArtifactUploader:
    """The runtime's `after_steps` hook for one build: `spec` is the plan that runs, whose
    patterns are read once the steps are over; files come through `executor`."""

    def __init__(
        self,
        client: ServerClient,
        spec: JobSpec,
        executor: Executor,
        log_line: Callable[[str | None, str], None],
        cancel: asyncio.Event | None = None,
        mask: Callable[[str], str] = str,
    ) -> None:
        self.client = client
        self.spec = spec
        self.executor = executor
        self._log_line = log_line
        self._cancel = cancel or asyncio.Event()
        self._mask = mask

    def _say(self, text: str) -> None:
        self._log_line(LOG_STEP, f"[artifacts] {text}")

    async def after_steps(self, status: BuildStatus) -> None:
        patterns = artifact_patterns(self.spec)
        if not patterns:
            return
        if status not in UPLOAD_ON:
            self._say(f"not collected: the build ended {status}")
            return
        try:
            listed = await self.executor.list_workspace(self.spec)
        except ExecutorError as exc:
            self._say(f"not collected: {exc}")
            return
        found = self._masked(match_listed(listed, patterns, self._say))
        if found:
            self._say(f"uploading {len(found)} file(s)")
        for artifact in found:
            if self._cancel.is_set():
                self._say("upload stopped: the build was cancelled")
                return
            if not await self._upload(artifact):
                return

    def _masked(self, found: list[WorkspaceFile]) -> list[_Upload]:
        """The files under their masked names, the first of each name only."""
        kept: dict[str, _Upload] = {}
        for item in found:
            name = self._mask(item.path)
            if name in kept:
                self._say(f"artifact {name!r} skipped: another file has that name once masked")
                continue
            kept[name] = _Upload(name, item.path, item.size)
        return list(kept.values())

    async def _upload(self, artifact: _Upload) -> bool:
        """Upload one file; False if the server is gone and the rest should not be tried."""
        build_id = self.spec.build_id
        try:
            record = await with_retries(
                lambda: self.client.upload_chunks(
                    build_id,
                    artifact.name,
                    self.executor.read_workspace_file(self.spec, artifact.path),
                    artifact.size,
                ),
                f"upload artifact {artifact.name}",
                give_up_after=UPLOAD_RETRY_SECONDS,
            )
        except Rejected as exc:
            self._say(f"{artifact.name} not uploaded: the server refused it ({exc.message})")
            return exc.status_code != 403  # 403: the build is no longer ours
        except ServerUnavailable as exc:
            self._say(f"{artifact.name} not uploaded: the server is unavailable ({exc})")
            return False
        except (ExecutorError, OSError) as exc:  # the file vanished or became unreadable
            self._say(f"{artifact.name} not uploaded: {self._mask(str(exc))}")
            return True
        sha256 = record.get("sha256")
        self._say(f"uploaded {artifact.name}: {_human(int(record['size_bytes']))}, sha256 {sha256}")
        if sha256 != record.get("local_sha256"):
            self._say(f"{artifact.name}: the server's sha256 differs from the file's (changed?)")
        log.info("artifact uploaded", build_id=str(build_id), name=artifact.name)
        return True
