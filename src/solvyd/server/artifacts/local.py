"""Artifacts in a directory on the server (default: $SOLVYD_DATA_DIR/artifacts)."""

import asyncio
import contextlib
import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO

from solvyd.server.artifacts.base import ArtifactNotFound, ArtifactStore, ByteSource, check_key

CHUNK_BYTES = 256 * 1024
# Incoming chunks are gathered to this size before a write, to keep thread hops few.
WRITE_BUFFER_BYTES = 1024 * 1024


class LocalArtifactStore(ArtifactStore):
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    async def put(self, key: str, source: ByteSource, size: int | None = None) -> None:
        target = self._path(key)
        await asyncio.to_thread(target.parent.mkdir, parents=True, exist_ok=True)
        # Written beside the target, then renamed over it: readers see all or nothing.
        fd, tmp_name = await asyncio.to_thread(
            tempfile.mkstemp, dir=target.parent, prefix=".upload-", suffix=".tmp"
        )
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                if isinstance(source, Path):
                    await asyncio.to_thread(_copy_file, source, out)
                else:
                    await _write_stream(source, out)
                await asyncio.to_thread(out.flush)
            await asyncio.to_thread(os.replace, tmp, target)
        except BaseException:
            # Plain os.unlink, not a thread hop: this also runs while being cancelled.
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
            raise

    async def open(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        path = self._path(key)
        try:
            handle = await asyncio.to_thread(path.open, "rb")
        except FileNotFoundError:
            raise ArtifactNotFound(key) from None
        try:
            await asyncio.to_thread(handle.seek, start)
            remaining = None if end is None else max(0, end - start)
            while remaining is None or remaining > 0:
                want = CHUNK_BYTES if remaining is None else min(CHUNK_BYTES, remaining)
                chunk = await asyncio.to_thread(handle.read, want)
                if not chunk:
                    return
                if remaining is not None:
                    remaining -= len(chunk)
                yield chunk
        finally:
            await asyncio.to_thread(handle.close)

    async def size(self, key: str) -> int:
        try:
            stat = await asyncio.to_thread(self._path(key).stat)
        except FileNotFoundError:
            raise ArtifactNotFound(key) from None
        return stat.st_size

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, missing_ok=True)


def _copy_file(source: Path, out: BinaryIO) -> None:
    with source.open("rb") as handle:
        shutil.copyfileobj(handle, out, CHUNK_BYTES)


async def _write_stream(source: AsyncIterator[bytes], out: BinaryIO) -> None:
    buffer = bytearray()
    async for chunk in source:
        buffer += chunk
        if len(buffer) >= WRITE_BUFFER_BYTES:
            data, buffer = bytes(buffer), bytearray()
            await asyncio.to_thread(out.write, data)
    if buffer:
        await asyncio.to_thread(out.write, bytes(buffer))
