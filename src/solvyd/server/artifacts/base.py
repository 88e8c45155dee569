"""The store contract. Every method is async; blocking I/O runs in threads (asyncio.to_thread)."""

import abc
import re
from collections.abc import AsyncIterator
from pathlib import Path

# A file on the server's disk, or bytes arriving (e.g. an HTTP request body).
ByteSource = Path | AsyncIterator[bytes]

# Keys are made by the server (services/artifacts.py); anything else is a bug, refused here too.
_KEY = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$")


class ArtifactNotFound(Exception):
    """No object under this key."""


def check_key(key: str) -> str:
    if not _KEY.match(key) or any(part in (".", "..") for part in key.split("/")):
        raise ValueError(f"invalid artifact storage key {key!r}")
    return key


class ArtifactStore(abc.ABC):
    @abc.abstractmethod
    async def put(self, key: str, source: ByteSource, size: int | None = None) -> None:
        """Store `source` under `key`, replacing what was there. `size` is a hint (may be None
        for a stream of unknown length). Readers never see a half-written object: if the source
        raises, nothing is stored and the exception propagates."""

    @abc.abstractmethod
    def open(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """The bytes [start, end) of the object (end None: to the end), in chunks.
        Raises ArtifactNotFound when iterated if the key is unknown."""

    @abc.abstractmethod
    async def size(self, key: str) -> int:
        """The object's size in bytes; ArtifactNotFound if unknown."""

    @abc.abstractmethod
    async def delete(self, key: str) -> None:
        """Remove the object; a missing key is not an error."""

    async def close(self) -> None:  # noqa: B027 - optional hook, most stores hold nothing
        """Free clients and connections."""
