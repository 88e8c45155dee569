"""Build artifacts: uploaded by the worker holding the build, listed and downloaded by users."""

import uuid
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from solvyd.server.api.deps import AsViewer, Ctx, CurrentWorker
from solvyd.server.api.errors import error_body
from solvyd.server.api.middleware import OWN_BODY_LIMIT
from solvyd.server.schemas.artifacts import ArtifactList, ArtifactRead
from solvyd.server.services import artifacts

router = APIRouter(prefix="/builds", tags=["artifacts"])

_ERROR = {"description": 'the error shape: {"error": {"code", "message"}}'}


@router.put(
    "/{build_id}/artifacts/{name:path}",
    operation_id="upload_artifact",
    responses={413: _ERROR, 422: _ERROR},
    openapi_extra={
        # Streamed to the store under its own limit, not the general request body limit.
        OWN_BODY_LIMIT: "SOLVYD_MAX_ARTIFACT_BYTES",
        "requestBody": {
            "required": True,
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
        },
    },
)
async def upload_artifact(
    ctx: Ctx, request: Request, worker: CurrentWorker, build_id: uuid.UUID, name: str
) -> ArtifactRead:
    """Stream the request body in as the artifact `name` (a path relative to the workspace);
    the same name again replaces it."""
    length = request.headers.get("content-length")
    return await artifacts.upload_artifact(
        ctx,
        worker.id,
        build_id,
        name,
        request.stream(),
        int(length) if length and length.isdigit() else None,
    )


@router.get("/{build_id}/artifacts", operation_id="list_artifacts")
async def list_artifacts(ctx: Ctx, _: AsViewer, build_id: uuid.UUID) -> ArtifactList:
    return await artifacts.list_artifacts(ctx, build_id)


@router.get(
    "/{build_id}/artifacts/{name:path}",
    operation_id="download_artifact",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"application/octet-stream": {}}},
        206: {
            "description": "the requested byte range",
            "content": {"application/octet-stream": {}},
        },
        416: _ERROR,
    },
)
async def download_artifact(
    ctx: Ctx, request: Request, _: AsViewer, build_id: uuid.UUID, name: str
) -> Response:
    """The artifact's bytes, streamed; honours one `Range: bytes=a-b | a- | -n`."""
    try:
        download = await artifacts.open_artifact(ctx, build_id, name, request.headers.get("range"))
    except artifacts.RangeNotSatisfiable as exc:
        return JSONResponse(
            error_body(exc.code, exc.message),
            status_code=416,
            headers={"Content-Range": f"bytes */{exc.size}", "Accept-Ranges": "bytes"},
        )
    artifact = download.artifact
    headers: dict[str, Any] = {
        "Content-Length": str(download.length),
        "Accept-Ranges": "bytes",
        "Content-Disposition": _attachment(artifact.name),
    }
    if artifact.sha256:
        headers["ETag"] = f'"{artifact.sha256}"'
    if download.partial:
        headers["Content-Range"] = (
            f"bytes {download.start}-{download.end - 1}/{artifact.size_bytes}"
        )
    return StreamingResponse(
        download.body,
        status_code=206 if download.partial else 200,
        headers=headers,
        media_type=artifact.content_type or artifacts.DEFAULT_CONTENT_TYPE,
    )


def _attachment(name: str) -> str:
    filename = name.rsplit("/", 1)[-1]
    fallback = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in filename
    )
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"
