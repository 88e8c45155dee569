"""What the executors that run on the agent's disk share: one workspace directory per build
under the work root, and the step script."""

import asyncio
import os
import shlex
import shutil
import stat
from collections.abc import AsyncIterator, Callable
from pathlib import Path, PurePosixPath
from typing import Any

from solvyd.pipeline.executors.base import ExecutorError, WorkspaceFile
from solvyd.protocol.messages import JobSpec

READ_CHUNK_BYTES = 256 * 1024


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


async def list_directory(root: Path) -> list[WorkspaceFile]:
    """The regular files under a workspace directory on this machine, for
    ``Executor.list_workspace``."""
    try:
        return await asyncio.to_thread(_regular_files, root)
    except OSError as exc:
        raise ExecutorError(f"cannot list the workspace {root}: {exc}") from exc


async def read_directory_file(root: Path, path: str) -> AsyncIterator[bytes]:
    """One regular file's bytes under a workspace directory on this machine
    (``Executor.read_workspace_file``): opened one directory at a time without following a
    symlink, so a step's link cannot lead outside."""
    try:
        descriptor = await asyncio.to_thread(_open_inside, root, path)
    except OSError as exc:
        raise ExecutorError(f"cannot read {path!r} of the workspace: {exc}") from exc
    handle = os.fdopen(descriptor, "rb", buffering=0)
    try:
        while True:
            try:
                chunk = await asyncio.to_thread(handle.read, READ_CHUNK_BYTES)
            except OSError as exc:
                raise ExecutorError(f"cannot read {path!r} of the workspace: {exc}") from exc
            if not chunk:
                return
            yield chunk
    finally:
        handle.close()


def _regular_files(root: Path) -> list[WorkspaceFile]:
    if not root.is_dir():
        return []
    found: list[WorkspaceFile] = []
    # followlinks=False: a symlinked directory is not entered; lstat: a link is not a file.
    for directory, _, files in os.walk(root, followlinks=False):
        for name in files:
            full = os.path.join(directory, name)
            try:
                info = os.lstat(full)
            except FileNotFoundError:
                continue  # removed while we looked
            if stat.S_ISREG(info.st_mode):
                relative = Path(full).relative_to(root).as_posix()
                found.append(WorkspaceFile(relative, info.st_size))
    return sorted(found, key=lambda item: item.path)


def _open_inside(root: Path, path: str) -> int:
    relative = PurePosixPath(path)
    parts = relative.parts
    if not parts or relative.is_absolute() or any(part in ("..", ".") for part in parts):
        raise OSError(f"{path!r} is not a path inside the workspace")
    flags = os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    current = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for part in parts[:-1]:
            step = os.open(part, flags | os.O_DIRECTORY, dir_fd=current)
            os.close(current)
            current = step
        descriptor = os.open(parts[-1], flags | os.O_NONBLOCK, dir_fd=current)
    finally:
        os.close(current)
    if not stat.S_ISREG(os.fstat(descriptor).st_mode):
        os.close(descriptor)
        raise OSError(f"{path!r} is not a regular file")
    return descriptor
