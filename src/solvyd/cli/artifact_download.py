"""`solvyd builds download`: artifacts to disk. An artifact's name is server data and is
treated as hostile: a name that would land outside the target directory is refused. Bytes
are streamed into a temporary file beside the target and renamed into place once complete
and checked, so a failed download leaves nothing behind and the process holds one chunk."""

import contextlib
import fnmatch
import hashlib
import os
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TransferSpeedColumn,
)

from solvyd.cli.api_client import ApiClient
from solvyd.cli.errors import CliError
from solvyd.cli.output import err_console, printable

# Smaller files finish before a bar could tell the user anything.
PROGRESS_FROM_BYTES = 1024 * 1024


def matching(artifacts: list[dict[str, Any]], pattern: str | None) -> list[dict[str, Any]]:
    """The artifacts whose path matches the glob `pattern` (`*` also crosses `/`)."""
    if pattern is None:
        return artifacts
    return [a for a in artifacts if fnmatch.fnmatchcase(str(a["name"]), pattern)]


def target_path(root: Path, name: str) -> Path:
    """Where artifact `name` goes under `root`; CliError for a name that would escape it."""
    parts = PurePosixPath(name).parts
    bad = (
        not parts
        or name.startswith("/")
        or "\\" in name
        or "\x00" in name
        or any(part in ("..", ".") for part in parts)
    )
    target = root.joinpath(*parts) if not bad else root
    resolved_root = root.resolve()
    # Also catches a symlink already in `root` that points elsewhere.
    if bad or not target.resolve().is_relative_to(resolved_root) or target == root:
        raise CliError(f"refusing the artifact {printable(name)!r}: its path leaves {root}")
    return target


def download(client: ApiClient, build_id: str, artifact: dict[str, Any], root: Path) -> Path:
    """Save `artifact` under `root`, at its path; answers where it went."""
    target = target_path(root, str(artifact["name"]))
    try:
        _download_to(client, build_id, artifact, target)
    except OSError as exc:
        raise CliError(f"cannot save {target}: {exc.strerror or exc}") from None
    return target


def _download_to(client: ApiClient, build_id: str, artifact: dict[str, Any], target: Path) -> None:
    name = str(artifact["name"])
    target.parent.mkdir(parents=True, exist_ok=True)
    size = int(artifact.get("size_bytes") or 0)
    digest = hashlib.sha256()
    handle, partial = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    try:
        os.fchmod(handle, 0o666 & ~_umask())  # as any file the user creates, not mkstemp's 0600
        with (
            os.fdopen(handle, "wb") as out,
            _progress(name, size) as advance,
            client.stream(f"/builds/{build_id}/artifacts/{quote(name, safe='/')}") as response,
        ):
            for chunk in response.iter_bytes(64 * 1024):
                out.write(chunk)
                digest.update(chunk)
                advance(len(chunk))
        expected = artifact.get("sha256")
        if expected and digest.hexdigest() != expected:
            raise CliError(f"{printable(name)}: the download does not match its sha256")
        os.replace(partial, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(partial)
        raise


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def _progress(name: str, size: int) -> Any:
    if size < PROGRESS_FROM_BYTES or not err_console.is_terminal:
        yield lambda _count: None
        return
    with Progress(
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=err_console,
        transient=True,
    ) as progress:
        task = progress.add_task(printable(name), total=size)
        yield lambda count: progress.advance(task, count)
