"""Secrets: write-only values set by admins (per job or global), and their delivery to the
worker running a build. No answer here ever holds a value but the worker's own fetch."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from solvyd.protocol import SecretsReply, SecretsRequest
from solvyd.protocol.messages import ENV_NAME_PATTERN
from solvyd.server.api.deps import AsAdmin, ClientIp, Ctx, CurrentWorker
from solvyd.server.db.models import Secret
from solvyd.server.schemas.secrets import SecretList, SecretRead, SecretWrite
from solvyd.server.services import secrets
from solvyd.server.services.audit import Actor
from solvyd.server.services.builds.secrets import read_build_secrets

router = APIRouter(tags=["secrets"])

Name = Annotated[
    str,
    Path(
        min_length=1,
        max_length=200,
        pattern=ENV_NAME_PATTERN,
        description="an environment variable's name",
    ),
]


def _read(secret: Secret) -> SecretRead:
    return SecretRead(
        name=secret.name,
        scope="job" if secret.job_id else "global",
        job_id=secret.job_id,
        protected_branches=list(secret.protected_branches),
        created_at=secret.created_at,
        updated_at=secret.updated_at,
    )


async def _set(
    ctx: Ctx,
    ip: ClientIp,
    response: Response,
    user: AsAdmin,
    job_id: uuid.UUID | None,
    name: str,
    body: SecretWrite,
) -> SecretRead:
    secret, created = await secrets.set_secret(
        ctx, job_id, name, body.value, Actor.of(user, ip), body.protected_branches
    )
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return _read(secret)


@router.put(
    "/jobs/{job_id}/secrets/{name}",
    operation_id="set_job_secret",
    responses={201: {"model": SecretRead, "description": "created"}},
)
async def set_job_secret(
    ctx: Ctx,
    ip: ClientIp,
    response: Response,
    user: AsAdmin,
    job_id: uuid.UUID,
    name: Name,
    body: SecretWrite,
) -> SecretRead:
    """Create (201) or replace (200) the job's secret `name`. The value is write-only. With
    `protected_branches`, only builds of those branches (not of pull requests or forks) get
    it."""
    return await _set(ctx, ip, response, user, job_id, name, body)


@router.put(
    "/secrets/{name}",
    operation_id="set_global_secret",
    responses={201: {"model": SecretRead, "description": "created"}},
)
async def set_global_secret(
    ctx: Ctx, ip: ClientIp, response: Response, user: AsAdmin, name: Name, body: SecretWrite
) -> SecretRead:
    """Create (201) or replace (200) the global secret `name`, which every job's steps may ask
    for; a job's own secret of the same name wins."""
    return await _set(ctx, ip, response, user, None, name, body)


@router.get("/jobs/{job_id}/secrets", operation_id="list_job_secrets")
async def list_job_secrets(ctx: Ctx, _: AsAdmin, job_id: uuid.UUID) -> SecretList:
    """The job's own secrets: names and times, never values."""
    return SecretList(items=[_read(s) for s in await secrets.list_secrets(ctx, job_id)])


@router.get("/secrets", operation_id="list_global_secrets")
async def list_global_secrets(ctx: Ctx, _: AsAdmin) -> SecretList:
    """The global secrets: names and times, never values."""
    return SecretList(items=[_read(s) for s in await secrets.list_secrets(ctx, None)])


@router.delete(
    "/jobs/{job_id}/secrets/{name}",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="delete_job_secret",
)
async def delete_job_secret(
    ctx: Ctx, ip: ClientIp, user: AsAdmin, job_id: uuid.UUID, name: Name
) -> Response:
    await secrets.delete_secret(ctx, job_id, name, Actor.of(user, ip))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete(
    "/secrets/{name}", status_code=status.HTTP_204_NO_CONTENT, operation_id="delete_global_secret"
)
async def delete_global_secret(ctx: Ctx, ip: ClientIp, user: AsAdmin, name: Name) -> Response:
    await secrets.delete_secret(ctx, None, name, Actor.of(user, ip))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/builds/{build_id}/secrets", operation_id="read_build_secrets")
async def build_secrets(
    ctx: Ctx, ip: ClientIp, worker: CurrentWorker, build_id: uuid.UUID, body: SecretsRequest
) -> SecretsReply:
    """For the worker holding the build: the values of the secrets its steps ask for (the
    job's, else the global one), and the names that are not set. A build of a pull request
    from a fork gets none unless its job sets `secrets_for_forks` (`reason` says so). Like every
    API answer it carries `Cache-Control: no-store` (api/middleware.py)."""
    return await read_build_secrets(ctx, worker, build_id, body, ip)
