"""Webhooks from forges (no user token: the request's signature is its credential, checked
against the secrets of the jobs of its repository), and the admins' delivery log."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from solvyd.server.api.deps import AsAdmin, ClientIp, Ctx, Public
from solvyd.server.api.middleware import OWN_BODY_LIMIT, RequestTooLarge
from solvyd.server.schemas.hooks import DeliveryList, DeliveryRead, HookAnswer
from solvyd.server.services.audit import Actor
from solvyd.server.services.hooks import deliveries, receive

router = APIRouter(prefix="/hooks", tags=["hooks"])

_ERROR = {"description": 'the error shape: {"error": {"code", "message"}}'}


@router.post(
    "/{forge}",
    dependencies=[Public],
    operation_id="receive_webhook",
    status_code=202,
    responses={
        200: {"model": HookAnswer, "description": "a ping: nothing is built"},
        400: _ERROR,
        401: _ERROR,
        404: _ERROR,
        413: _ERROR,
    },
    openapi_extra={
        # Read here under its own limit: forges send up to 25 MiB.
        OWN_BODY_LIMIT: "SOLVYD_MAX_WEBHOOK_BYTES",
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object"}}},
        },
    },
)
async def receive_webhook(ctx: Ctx, request: Request, forge: str) -> JSONResponse:
    """A forge's webhook (`forge`: github, gitlab, gitea, bitbucket): 202 with the builds it
    queued and the jobs that ignored it; a ping 200; 401 when no job's secret verifies it."""
    limit = ctx.settings.max_webhook_bytes
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise RequestTooLarge(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestTooLarge(limit)
        chunks.append(chunk)
    result = await receive.receive(ctx, forge, request.headers, b"".join(chunks))
    return JSONResponse(result.answer.model_dump(mode="json"), status_code=result.status_code)


@router.get("/deliveries", operation_id="list_webhook_deliveries")
async def list_deliveries(
    ctx: Ctx,
    _: AsAdmin,
    job_id: uuid.UUID | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> DeliveryList:
    """The webhook deliveries of the last `SOLVYD_WEBHOOK_RETENTION_DAYS`, newest first."""
    return await deliveries.list_deliveries(ctx, job_id=job_id, cursor=cursor, limit=limit)


@router.get("/deliveries/{delivery_id}", operation_id="get_webhook_delivery")
async def get_delivery(ctx: Ctx, _: AsAdmin, delivery_id: uuid.UUID) -> DeliveryRead:
    return await deliveries.get_delivery(ctx, delivery_id)


@router.post(
    "/deliveries/{delivery_id}/replay",
    operation_id="replay_webhook_delivery",
    status_code=202,
    responses={409: _ERROR},
)
async def replay_delivery(
    ctx: Ctx, user: AsAdmin, ip: ClientIp, delivery_id: uuid.UUID
) -> HookAnswer:
    """Queue again what a verified delivery starts, under the jobs' filters as they are now."""
    result = await deliveries.replay(ctx, delivery_id, Actor.of(user, ip))
    return result.answer
