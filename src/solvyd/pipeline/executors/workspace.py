"""What the executors that run on the agent's disk share: one workspace directory per build
under the work root, and the step script."""

import asyncio
import os
import shlex
import shutil
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

from solvyd.pipeline.executors.base import ExecutorError
from solvyd.protocol.messages import JobSpec


def shell_script(commands: list[str]) -> str:
    """One ``sh`` script for a step: the first failing command ends it (``set -e``), and each
    command is printed, prefixed with ``$ ``, just before it runs."""
    lines = ["set -e"]
    for command in commands:
        lines.append(f"printf '%s\\n' {shlex.quote('$ ' + command)}")
        lines.append(command)
    return "\n".join(lines) + "\n"


class HostWorkspaces:
    def __init__(self, work_root: Path) -> None:
        self.root = Path(os.path.abspath(work_root))

    def path(self, job: JobSpec) -> Path:
        # One directory per attempt: a retry must never run in (nor delete) the workspace of an
        # earlier attempt whose steps may still be running, e.g. on an agent that lost its
        # server but not its processes (issue 14, item 10).
        return self.root / f"{job.build_id}-{job.attempt}"

    async def create(self, job: JobSpec) -> None:
        path = self.path(job)
        try:
            # Only an earlier life of this agent can have left this attempt's directory, and
            # its steps died with it.
            await asyncio.to_thread(force_remove, path)
            await asyncio.to_thread(path.mkdir, parents=True)
        except OSError as exc:
            raise ExecutorError(f"cannot create the workspace {path}: {exc}") from exc

    async def remove(self, job: JobSpec) -> str | None:
        """Remove the build's workspace; the problem, if it could not be removed."""
        path = self.path(job)
        try:
            await asyncio.to_thread(force_remove, path)
        except OSError as exc:
            return f"cannot remove the workspace {path}: {exc}"
        return None


def force_remove(path: Path) -> None:
    """``rm -rf``, also through read-only directories (Go's module cache makes them)."""

    def make_writable_and_retry(func: Callable[..., Any], name: str, _: object) -> None:
        parent = os.path.dirname(name)
        os.chmod(parent, os.stat(parent).st_mode | stat.S_IWUSR | stat.S_IXUSR)
        if os.path.isdir(name) and not os.path.islink(name):
            os.chmod(name, os.stat(name).st_mode | stat.S_IRWXU)
        func(name)

    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path, onerror=make_writable_and_retry)
