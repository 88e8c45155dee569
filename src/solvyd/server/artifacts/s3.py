"""Artifacts in an S3-compatible bucket (AWS S3, MinIO, Ceph RGW ...) through boto3.

Uploads go through boto3's transfer manager: objects above `multipart_threshold` are sent as a
multipart upload, part by part, so neither side holds the whole object. Downloads use
`get_object` with a `Range`, read chunk by chunk.
"""

import asyncio
import io
from collections.abc import AsyncIterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

from solvyd.server.artifacts.base import ArtifactNotFound, ArtifactStore, ByteSource, check_key

MiB = 1024 * 1024
CHUNK_BYTES = 256 * 1024


class S3ArtifactStore(ArtifactStore):
    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        prefix: str = "",
        multipart_threshold: int = 16 * MiB,
        multipart_chunksize: int = 8 * MiB,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        config = Config(
            retries={"max_attempts": 5, "mode": "standard"},
            # MinIO and most self-hosted endpoints want path-style addressing.
            s3={"addressing_style": "path" if endpoint_url else "auto"},
        )
        self.client: Any = boto3.session.Session().client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            config=config,
        )
        self.transfer = TransferConfig(
            multipart_threshold=multipart_threshold,
            multipart_chunksize=multipart_chunksize,
            max_concurrency=4,
        )

    def _key(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    async def put(self, key: str, source: ByteSource, size: int | None = None) -> None:
        object_key = self._key(key)
        if isinstance(source, Path):
            await asyncio.to_thread(
                self.client.upload_file, str(source), self.bucket, object_key, Config=self.transfer
            )
            return
        reader = _StreamReader(source, asyncio.get_running_loop())
        try:
            await asyncio.to_thread(
                self.client.upload_fileobj, reader, self.bucket, object_key, Config=self.transfer
            )
        except BaseException:
            # The source's own error (e.g. "too large") is the one that matters, not boto3's
            # wrapping of it; the transfer manager has aborted any multipart upload.
            if reader.error is not None:
                raise reader.error from None
            raise
        finally:
            reader.stop()

    async def open(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        object_key = self._key(key)
        if end is not None and end <= start:
            return
        byte_range = f"bytes={start}-{'' if end is None else end - 1}"
        try:
            answer = await asyncio.to_thread(
                self.client.get_object, Bucket=self.bucket, Key=object_key, Range=byte_range
            )
        except ClientError as exc:
            if _missing(exc):
                raise ArtifactNotFound(key) from None
            if _code(exc) == "InvalidRange":  # start at or past the end: nothing to read
                return
            raise
        body = answer["Body"]
        try:
            while True:
                chunk = await asyncio.to_thread(body.read, CHUNK_BYTES)
                if not chunk:
                    return
                yield chunk
        finally:
            await asyncio.to_thread(body.close)

    async def size(self, key: str) -> int:
        try:
            answer = await asyncio.to_thread(
                self.client.head_object, Bucket=self.bucket, Key=self._key(key)
            )
        except ClientError as exc:
            if _missing(exc):
                raise ArtifactNotFound(key) from None
            raise
        return int(answer["ContentLength"])

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self.client.delete_object, Bucket=self.bucket, Key=self._key(key))

    async def close(self) -> None:
        await asyncio.to_thread(self.client.close)


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _missing(exc: ClientError) -> bool:
    return _code(exc) in ("404", "NoSuchKey", "NotFound")


class _StreamReader(io.RawIOBase):
    """A blocking file object over an async byte iterator, for boto3's upload thread.

    Each `read` asks the event loop for the next chunk; the loop stays free meanwhile."""

    def __init__(self, source: AsyncIterator[bytes], loop: asyncio.AbstractEventLoop) -> None:
        self._source = source
        self._loop = loop
        self._buffer = bytearray()
        self._done = False
        self._pending: Future[bytes] | None = None
        self.error: BaseException | None = None

    def readable(self) -> bool:
        return True

    def _next_chunk(self) -> bytes:
        async def pull() -> bytes:
            try:
                return await self._source.__anext__()
            except StopAsyncIteration:
                return b""

        self._pending = asyncio.run_coroutine_threadsafe(pull(), self._loop)
        try:
            return self._pending.result()
        except BaseException as exc:
            self.error = exc
            raise
        finally:
            self._pending = None

    def read(self, size: int | None = -1) -> bytes:
        want = -1 if size is None else size
        while not self._done and (want < 0 or len(self._buffer) < want):
            chunk = self._next_chunk()
            if not chunk:
                self._done = True
            self._buffer += chunk
        if want < 0 or want >= len(self._buffer):
            data, self._buffer = bytes(self._buffer), bytearray()
        else:
            data = bytes(self._buffer[:want])
            del self._buffer[:want]
        return data

    def readinto(self, target: Any) -> int:
        data = self.read(len(target))
        target[: len(data)] = data
        return len(data)

    def stop(self) -> None:
        if self._pending is not None:
            self._pending.cancel()
