"""Build artifacts: streamed upload from the worker holding the build, listing, and ranged
downloads. Bytes live in the artifact store (server/artifacts/), rows in `artifacts`.

An upload is streamed into the store under a fresh server-made key while its sha256 and size
are computed; only then is the row written (or repointed, for a re-upload of the same name)
and the replaced object deleted, so readers never see a half-written artifact.

A name is the build's choice and may hold a secret: the agent masks it before the upload, and
the server masks it again (with the build's log masker, `builds.masking`) before it is stored
or logged, so the listing, the download's `Content-Disposition` and the server's own log only
ever hold the masked name.
"""

import contextlib
import hashlib
import mimetypes
import re
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import sqlalchemy as sa
import structlog
from sqlalchemy.exc import IntegrityError

from solvyd.protocol import BuildStatus
from solvyd.server.artifacts import ArtifactNotFound
from solvyd.server.db import queries
from solvyd.server.db.models import Artifact
from solvyd.server.schemas.artifacts import ArtifactList, ArtifactRead
from solvyd.server.services.builds.access import build_held_by
from solvyd.server.services.builds.masking import build_masker
from solvyd.server.services.context import ServerContext
from solvyd.server.services.errors import Conflict, InvalidInput, NotFound, ServiceError
from solvyd.shared.clock import utcnow

log = structlog.get_logger(__name__)

MAX_NAME_LENGTH = 500
DEFAULT_CONTENT_TYPE = "application/octet-stream"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class TooLarge(ServiceError):
    status_code = 413
    code = "too_large"


class RangeNotSatisfiable(ServiceError):
    status_code = 416
    code = "range_not_satisfiable"

    def __init__(self, size: int) -> None:
        super().__init__(f"the range is outside the artifact's {size} bytes")
        self.size = size


def validate_name(name: str) -> str:
    """An artifact name is a relative POSIX path inside the workspace, nothing else."""

    def refuse(why: str) -> InvalidInput:
        return InvalidInput(f"invalid artifact name: {why}", [{"field": "name", "message": why}])

    if not name:
        raise refuse("empty")
    if len(name) > MAX_NAME_LENGTH:
        raise refuse(f"longer than {MAX_NAME_LENGTH} characters")
    if _CONTROL.search(name):
        raise refuse("contains a control character")
    if "\\" in name:
        raise refuse("contains a backslash; use / between directories")
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        raise refuse("must be relative, not absolute")
    parts = name.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise refuse("must not contain empty, '.' or '..' segments")
    return name


def content_type_for(name: str) -> str:
    guessed, _ = mimetypes.guess_type(name, strict=False)
    return guessed or DEFAULT_CONTENT_TYPE


# --- upload ---


async def _check_writable(
    ctx: ServerContext, worker_id: uuid.UUID, build_id: uuid.UUID
) -> Callable[[str], str]:
    """Raises unless the worker may upload to the build; answers the build's log masker."""
    async with ctx.db.transaction() as session:
        build = await build_held_by(session, build_id, worker_id, lock=False)
        if build.status not in (BuildStatus.QUEUED, BuildStatus.RUNNING):
            raise Conflict(f"build {build_id} is {build.status}; its artifacts are final")
        return await build_masker(ctx, session, build)


async def _measured(
    body: AsyncIterator[bytes], digest: "hashlib._Hash", counter: list[int], limit: int
) -> AsyncIterator[bytes]:
    async for chunk in body:
        if not chunk:
            continue
        counter[0] += len(chunk)
        if counter[0] > limit:
            raise TooLarge(f"the artifact is larger than the server's limit of {limit} bytes")
        digest.update(chunk)
        yield chunk


async def upload_artifact(
    ctx: ServerContext,
    worker_id: uuid.UUID,
    build_id: uuid.UUID,
    name: str,
    body: AsyncIterator[bytes],
    content_length: int | None,
) -> ArtifactRead:
    name = validate_name(name)
    limit = ctx.settings.max_artifact_bytes
    if content_length is not None and content_length > limit:
        raise TooLarge(
            f"the artifact ({content_length} bytes) is larger than the server's limit of"
            f" {limit} bytes"
        )
    name = (await _check_writable(ctx, worker_id, build_id))(name)

    key = f"builds/{build_id}/{uuid.uuid4().hex}"
    digest = hashlib.sha256()
    counter = [0]
    await ctx.artifacts.put(key, _measured(body, digest, counter, limit), content_length)
    size, sha256 = counter[0], digest.hexdigest()
    if content_length is not None and size != content_length:
        await ctx.artifacts.delete(key)
        raise InvalidInput(f"the body had {size} bytes, Content-Length said {content_length}")

    try:
        row, replaced_key = await _record(ctx, worker_id, build_id, name, key, size, sha256)
    except BaseException:
        await ctx.artifacts.delete(key)
        raise
    if replaced_key is not None:
        with contextlib.suppress(Exception):
            await ctx.artifacts.delete(replaced_key)
    log.info("artifact stored", build_id=str(build_id), name=name, size=size)
    return ArtifactRead.model_validate(row)


async def _record(
    ctx: ServerContext,
    worker_id: uuid.UUID,
    build_id: uuid.UUID,
    name: str,
    key: str,
    size: int,
    sha256: str,
) -> tuple[Artifact, str | None]:
    """Insert the row, or repoint an existing one of that name. Answers the row and the storage
    key it replaced. Retried once if a concurrent upload of the same name inserted first."""
    for attempt in range(2):
        try:
            async with ctx.db.transaction() as session:
                build = await build_held_by(session, build_id, worker_id)
                if build.status not in (BuildStatus.QUEUED, BuildStatus.RUNNING):
                    raise Conflict(f"build {build_id} is {build.status}; its artifacts are final")
                row = await session.scalar(
                    sa.select(Artifact)
                    .where(Artifact.build_id == build_id, Artifact.name == name)
                    .with_for_update()
                )
                replaced = None
                if row is None:
                    row = Artifact(build_id=build_id, name=name, storage_key=key)
                    session.add(row)
                else:
                    replaced = row.storage_key
                    row.storage_key = key
                row.size_bytes = size
                row.sha256 = sha256
                row.content_type = content_type_for(name)
                row.created_at = utcnow()
                await session.flush()
            return row, replaced
        except IntegrityError:
            if attempt:
                raise
    raise AssertionError("unreachable")


# --- read ---


async def list_artifacts(ctx: ServerContext, build_id: uuid.UUID) -> ArtifactList:
    async with ctx.db.transaction() as session:
        if await queries.get_build(session, build_id) is None:
            raise NotFound(f"build {build_id} not found")
        rows = (
            await session.scalars(
                sa.select(Artifact).where(Artifact.build_id == build_id).order_by(Artifact.name)
            )
        ).all()
    return ArtifactList(items=[ArtifactRead.model_validate(row) for row in rows])


@dataclass
class Download:
    artifact: ArtifactRead
    # Bytes [start, end) of the artifact; `partial` when a Range asked for less than the whole.
    start: int
    end: int
    partial: bool
    body: AsyncIterator[bytes]

    @property
    def length(self) -> int:
        return self.end - self.start


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The one byte range of a `Range: bytes=...` header as [start, end), or None for the whole
    artifact (no header, another unit, several ranges, or a malformed header: RFC 9110 lets a
    server ignore those). RangeNotSatisfiable when it lies outside the artifact."""
    if not header:
        return None
    unit, _, spec = header.strip().partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    first, last = first.strip(), last.strip()
    if not dash or not (first.isdigit() or first == "") or not (last.isdigit() or last == ""):
        return None
    if first == "":
        if last == "":
            return None
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiable(size)
        return max(0, size - suffix), size
    start = int(first)
    if last != "" and int(last) < start:
        return None
    if start >= size:
        raise RangeNotSatisfiable(size)
    end = size if last == "" else min(int(last) + 1, size)
    return start, end


async def open_artifact(
    ctx: ServerContext, build_id: uuid.UUID, name: str, range_header: str | None
) -> Download:
    name = validate_name(name)
    async with ctx.db.transaction() as session:
        if await queries.get_build(session, build_id) is None:
            raise NotFound(f"build {build_id} not found")
        row = await session.scalar(
            sa.select(Artifact).where(Artifact.build_id == build_id, Artifact.name == name)
        )
    if row is None:
        raise NotFound(f"build {build_id} has no artifact {name!r}")
    artifact = ArtifactRead.model_validate(row)
    chosen = parse_range(range_header, row.size_bytes)
    start, end = chosen or (0, row.size_bytes)
    body = ctx.artifacts.open(row.storage_key, start, end)
    # Pull the first chunk now, so a missing object is a 404 and not a broken stream.
    try:
        first = await anext(body) if end > start else b""
    except StopAsyncIteration:
        first = b""
    except ArtifactNotFound:
        raise NotFound(f"the bytes of artifact {name!r} are missing from the store") from None
    return Download(artifact, start, end, chosen is not None, _prepend(first, body))


async def _prepend(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    try:
        if first:
            yield first
        async for chunk in rest:
            yield chunk
    finally:
        aclose = getattr(rest, "aclose", None)
        if aclose is not None:
            await aclose()
