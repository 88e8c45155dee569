"""Reading environments and deployments for the API."""

import base64
import binascii
import uuid

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from solvyd.server.db import queries
from solvyd.server.db.models import Deployment, Environment
from solvyd.server.schemas.deployments import (
    BoundTargetRead,
    CurrentDeployment,
    DeploymentDetail,
    DeploymentList,
    DeploymentRead,
    EnvironmentDetail,
    EnvironmentList,
    EnvironmentRead,
    KubernetesTargetRead,
)
from solvyd.server.services.context import ServerContext
from solvyd.server.services.deployments import queue
from solvyd.server.services.deployments.environments import bound_targets, get_environment
from solvyd.server.services.deployments.rollback import current_deployment
from solvyd.server.services.errors import InvalidInput, NotFound


def _read(
    deployment: Deployment, environment: str, reasons: dict[uuid.UUID, str]
) -> DeploymentRead:
    return DeploymentRead(
        id=deployment.id,
        environment=environment,
        number=deployment.number,
        kind=deployment.kind,
        status=deployment.status,
        waiting_reason=reasons.get(deployment.id),
        version=deployment.version,
        target=KubernetesTargetRead.model_validate(deployment.target)
        if deployment.target is not None
        else None,
        job_id=deployment.job_id,
        job_name=deployment.job_name,
        build_id=deployment.build_id,
        build_number=deployment.build_number,
        commit_sha=deployment.commit_sha,
        step=deployment.step,
        attempt=deployment.attempt,
        approval_required=deployment.approval_required,
        rollback=deployment.rollback_policy,
        rolled_back_from=deployment.rolled_back_from,
        rolled_back_by=deployment.rolled_back_by,
        requested_by=deployment.requested_by_name,
        approved_by=deployment.approved_by_name,
        approved_at=deployment.approved_at,
        created_at=deployment.created_at,
        queued_at=deployment.queued_at,
        started_at=deployment.started_at,
        finished_at=deployment.finished_at,
        message=deployment.message,
    )


async def _reads(session: AsyncSession, deployments: list[Deployment]) -> list[DeploymentRead]:
    reasons = await queue.waiting_reasons(session, deployments)
    ids = {d.environment_id for d in deployments}
    names: dict[uuid.UUID, str] = {}
    if ids:
        rows = await session.execute(
            sa.select(Environment.id, Environment.name).where(Environment.id.in_(ids))
        )
        names = {row.id: row.name for row in rows}
    return [_read(d, names.get(d.environment_id, ""), reasons) for d in deployments]


async def _environment_read(session: AsyncSession, environment: Environment) -> EnvironmentRead:
    current = await current_deployment(session, environment.id)
    running = await session.scalar(
        sa.select(Deployment).where(
            Deployment.environment_id == environment.id, Deployment.status == queue.RUNNING
        )
    )
    waiting = await session.scalar(
        sa.select(sa.func.count())
        .select_from(Deployment)
        .where(Deployment.environment_id == environment.id, Deployment.status.in_(queue.WAITING))
    )
    return EnvironmentRead(
        name=environment.name,
        approval_required=environment.approval_required,
        created_at=environment.created_at,
        current=CurrentDeployment(
            deployment_id=current.id,
            number=current.number,
            version=current.version,
            job_name=current.job_name,
            build_id=current.build_id,
            build_number=current.build_number,
            commit_sha=current.commit_sha,
            since=current.finished_at,
            deployed_by=current.requested_by_name,
            approved_by=current.approved_by_name,
            kind=current.kind,
        )
        if current is not None
        else None,
        running=(await _reads(session, [running]))[0] if running is not None else None,
        waiting=int(waiting or 0),
        targets=[
            BoundTargetRead(namespace=namespace, deployment=deployment)
            for namespace, deployment in await bound_targets(session, environment.id)
        ],
    )


async def list_environments(ctx: ServerContext) -> EnvironmentList:
    async with ctx.db.read() as session:
        environments = list(
            await session.scalars(sa.select(Environment).order_by(Environment.name))
        )
        return EnvironmentList(items=[await _environment_read(session, e) for e in environments])


def _encode_cursor(number: int) -> str:
    return base64.urlsafe_b64encode(f"n{number}".encode()).decode()


def _decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
        if not text.startswith("n") or not text[1:].isdecimal():
            raise ValueError(text)
        return int(text[1:])
    except (ValueError, binascii.Error, UnicodeError) as exc:
        raise InvalidInput("cursor is not one this server handed out") from exc


async def get_environment_detail(
    ctx: ServerContext, name: str, *, cursor: str | None, limit: int
) -> EnvironmentDetail:
    before = _decode_cursor(cursor) if cursor is not None else None
    async with ctx.db.read() as session:
        environment = await get_environment(session, name)
        if environment is None:
            raise NotFound(f"environment '{name}' not found")
        query = (
            sa.select(Deployment)
            .where(Deployment.environment_id == environment.id)
            .order_by(Deployment.number.desc())
            .limit(limit + 1)
        )
        if before is not None:
            query = query.where(Deployment.number < before)
        page = list(await session.scalars(query))
        more = len(page) > limit
        page = page[:limit]
        summary = await _environment_read(session, environment)
        history = await _reads(session, page)
    return EnvironmentDetail(
        **summary.model_dump(),
        history=history,
        next_cursor=_encode_cursor(page[-1].number) if more else None,
    )


async def get_deployment(ctx: ServerContext, deployment_id: uuid.UUID) -> DeploymentDetail:
    async with ctx.db.read() as session:
        deployment = await session.get(Deployment, deployment_id)
        if deployment is None:
            raise NotFound(f"deployment {deployment_id} not found")
        read = (await _reads(session, [deployment]))[0]
        return DeploymentDetail(**read.model_dump(), log=list(deployment.log or []))


async def build_deployments(ctx: ServerContext, build_id: uuid.UUID) -> DeploymentList:
    """The build's deployments (every attempt's), and the rollbacks that replaced them."""
    async with ctx.db.read() as session:
        own = list(
            await session.scalars(
                sa.select(Deployment)
                .where(Deployment.build_id == build_id, Deployment.kind == "deploy")
                .order_by(Deployment.created_at, Deployment.number)
            )
        )
        rollbacks = []
        if own:
            rollbacks = list(
                await session.scalars(
                    sa.select(Deployment)
                    .where(Deployment.rolled_back_from.in_([d.id for d in own]))
                    .order_by(Deployment.created_at, Deployment.number)
                )
            )
        if not own and await queries.get_build(session, build_id) is None:
            raise NotFound(f"build {build_id} not found")
        return DeploymentList(items=await _reads(session, [*own, *rollbacks]))
