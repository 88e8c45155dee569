"""What `solvyd exec` keeps of a run before its workspace is removed: the declared artifacts
(`--artifacts-dir`) and the whole workspace (`--keep-workspace`)."""

import asyncio
import shutil
import tempfile
from pathlib import Path

from solvyd.agent.artifacts import UPLOAD_ON, artifact_patterns, collect_artifacts
from solvyd.cli.output import err_console
from solvyd.pipeline.executors.base import Executor
from solvyd.protocol import BuildStatus, JobSpec


def host_workspace(executor: Executor, job: JobSpec) -> Path | None:
    """The build's workspace directory on this machine, for the executors that have one
    (local, docker: their `workspace(job)`, outside the executor contract); else None."""
    workspace = getattr(executor, "workspace", None)
    if not callable(workspace):
        return None
    return Path(workspace(job))


class KeepOutputs:
    """The runtime's `after_steps` hook of one `exec` run: it runs after the last step and
    before the executor removes the workspace."""

    def __init__(
        self, spec: JobSpec, executor: Executor, artifacts_dir: Path | None, keep_workspace: bool
    ) -> None:
        self.spec = spec
        self.executor = executor
        self.artifacts_dir = artifacts_dir
        self.keep_workspace = keep_workspace

    async def after_steps(self, status: BuildStatus) -> None:
        if self.artifacts_dir is None and not self.keep_workspace:
            return
        workspace = host_workspace(self.executor, self.spec)
        if workspace is None or not await asyncio.to_thread(workspace.is_dir):
            _say("nothing to keep: the workspace was never made")
            return
        if self.artifacts_dir is not None:
            await self._copy_artifacts(workspace, self.artifacts_dir, status)
        if self.keep_workspace:
            await self._keep_workspace(workspace)

    async def _copy_artifacts(self, workspace: Path, target: Path, status: BuildStatus) -> None:
        patterns = artifact_patterns(self.spec)
        if not patterns:
            _say("artifacts: none copied, the pipeline declares none (`artifacts:`)")
            return
        if status not in UPLOAD_ON:
            _say(f"artifacts: none copied, the pipeline ended {status}")
            return
        try:
            count = await asyncio.to_thread(_copy_found, workspace, patterns, target)
        except OSError as exc:
            _say(f"artifacts: cannot copy them to {target}: {exc}")
            return
        _say(f"artifacts: {count} file(s) copied to {target}")

    async def _keep_workspace(self, workspace: Path) -> None:
        kept = Path(tempfile.mkdtemp(prefix="solvyd-exec-workspace-"))
        try:
            # Moved out of the executor's work root, so its teardown finds nothing to remove.
            await asyncio.to_thread(_move_contents, workspace, kept)
        except OSError as exc:
            _say(f"cannot keep the workspace: {exc}")
            return
        _say(f"workspace kept in {kept}")


def _copy_found(workspace: Path, patterns: list[str], target: Path) -> int:
    found = collect_artifacts(workspace, patterns, _say)
    for artifact in found:
        destination = target / artifact.name
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(artifact.path, destination)
    return len(found)


def _move_contents(source: Path, target: Path) -> None:
    for entry in source.iterdir():
        shutil.move(entry, target / entry.name)


def _say(text: str) -> None:
    err_console.print(text, highlight=False, markup=False)
