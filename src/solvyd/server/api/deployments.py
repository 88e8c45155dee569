"""Environments and deployments: for users (read, approve, reject, roll back; admins protect
an environment) and for the agent that runs a deploy step (register, wait, report)."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, status

from solvyd.protocol import DeploymentOutcome, DeploymentRequest, DeploymentState
from solvyd.protocol.messages import ENVIRONMENT_NAME_PATTERN, DeploymentStatus
from solvyd.server.api.deps import AsAdmin, AsDeveloper, AsViewer, ClientIp, Ctx, CurrentWorker
from solvyd.server.api.long_poll import unless_disconnected
from solvyd.server.schemas.deployments import (
    DeploymentDetail,
    DeploymentList,
    EnvironmentDetail,
    EnvironmentList,
    EnvironmentRead,
    EnvironmentUpdate,
    RejectRequest,
    RollbackRequest,
)
from solvyd.server.services.audit import Actor
from solvyd.server.services.deployments import agent, approvals, create, environments, read
from solvyd.server.services.deployments import rollback as rollbacks

router = APIRouter(tags=["deployments"])

EnvironmentName = Annotated[
    str, Path(min_length=1, max_length=63, pattern=ENVIRONMENT_NAME_PATTERN)
]


@router.get("/environments", operation_id="list_environments")
async def list_environments(ctx: Ctx, _: AsViewer) -> EnvironmentList:
    """Every environment, with what runs there (its latest successful deployment), the
    deployment running now and how many wait."""
    return await read.list_environments(ctx)


@router.get("/environments/{name}", operation_id="get_environment")
async def get_environment(
    ctx: Ctx,
    _: AsViewer,
    name: EnvironmentName,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> EnvironmentDetail:
    """The environment and its deployments, newest first, paged by `cursor`."""
    return await read.get_environment_detail(ctx, name, cursor=cursor, limit=limit)


@router.put("/environments/{name}", operation_id="update_environment")
async def update_environment(
    ctx: Ctx, user: AsAdmin, ip: ClientIp, name: EnvironmentName, body: EnvironmentUpdate
) -> EnvironmentRead:
    """Protect an environment (every deployment to it waits for a developer's approval) or
    stop protecting it; made if it does not exist yet."""
    await environments.update_environment(
        ctx, name, approval_required=body.approval_required, actor=Actor.of(user, ip)
    )
    detail = await read.get_environment_detail(ctx, name, cursor=None, limit=1)
    return EnvironmentRead.model_validate(detail.model_dump())


@router.post(
    "/environments/{name}/rollback",
    status_code=status.HTTP_201_CREATED,
    operation_id="rollback_environment",
)
async def rollback_environment(
    ctx: Ctx,
    user: AsDeveloper,
    ip: ClientIp,
    name: EnvironmentName,
    body: RollbackRequest | None = None,
) -> DeploymentDetail:
    """Redeploy the version of the successful deployment before the current one (or of
    `deployment_id`, one of the environment's successful deployments) as a new deployment
    (kind `rollback`). 409 when there is none, or when it or the current one was deployed by
    a script step (only the server's own Kubernetes rollouts can be redone)."""
    chosen = body.deployment_id if body is not None else None
    new_id = await rollbacks.rollback_environment(ctx, name, Actor.of(user, ip), chosen)
    return await read.get_deployment(ctx, new_id)


@router.get("/builds/{build_id}/deployments", operation_id="list_build_deployments")
async def list_build_deployments(ctx: Ctx, _: AsViewer, build_id: uuid.UUID) -> DeploymentList:
    """The build's deployments, and the rollbacks that replaced them."""
    return await read.build_deployments(ctx, build_id)


@router.get("/deployments/{deployment_id}", operation_id="get_deployment")
async def get_deployment(ctx: Ctx, _: AsViewer, deployment_id: uuid.UUID) -> DeploymentDetail:
    return await read.get_deployment(ctx, deployment_id)


@router.post("/deployments/{deployment_id}/approve", operation_id="approve_deployment")
async def approve_deployment(
    ctx: Ctx, user: AsDeveloper, ip: ClientIp, deployment_id: uuid.UUID
) -> DeploymentDetail:
    """Let a deployment that waits for approval go (it then waits for its environment).
    409 if it does not wait for an approval."""
    await approvals.approve_deployment(ctx, deployment_id, Actor.of(user, ip))
    return await read.get_deployment(ctx, deployment_id)


@router.post("/deployments/{deployment_id}/reject", operation_id="reject_deployment")
async def reject_deployment(
    ctx: Ctx,
    user: AsDeveloper,
    ip: ClientIp,
    deployment_id: uuid.UUID,
    body: RejectRequest | None = None,
) -> DeploymentDetail:
    """Refuse a deployment that waits for approval: it ends `rejected`, and its step fails."""
    reason = body.reason if body is not None else None
    await approvals.reject_deployment(ctx, deployment_id, Actor.of(user, ip), reason)
    return await read.get_deployment(ctx, deployment_id)


# -- the agent's verbs (protocol/messages.py) ----------------------------------------------


@router.post("/builds/{build_id}/deployments", operation_id="register_step_deployment")
async def register_step_deployment(
    ctx: Ctx, worker: CurrentWorker, build_id: uuid.UUID, body: DeploymentRequest
) -> DeploymentState:
    return await create.register_step_deployment(ctx, worker.id, build_id, body)


@router.get("/deployments/{deployment_id}/state", operation_id="wait_for_deployment")
async def wait_for_deployment(
    ctx: Ctx,
    request: Request,
    worker: CurrentWorker,
    deployment_id: uuid.UUID,
    status: DeploymentStatus | None = None,
    after_line: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
    wait: Annotated[float, Query(ge=0, le=60)] = 30,
) -> DeploymentState:
    state = await unless_disconnected(
        request,
        agent.wait_for_change(
            ctx, worker.id, deployment_id, status=status, after_line=after_line, wait=wait
        ),
    )
    if state is None:  # the agent hung up; nobody reads this
        return await agent.wait_for_change(
            ctx, worker.id, deployment_id, status=None, after_line=after_line, wait=0
        )
    return state


@router.put("/deployments/{deployment_id}/outcome", operation_id="report_deployment_outcome")
async def report_deployment_outcome(
    ctx: Ctx, worker: CurrentWorker, deployment_id: uuid.UUID, body: DeploymentOutcome
) -> DeploymentState:
    return await agent.report_outcome(ctx, worker.id, deployment_id, body)


@router.post("/deployments/{deployment_id}/step-stopped", operation_id="deployment_step_stopped")
async def deployment_step_stopped(
    ctx: Ctx, worker: CurrentWorker, deployment_id: uuid.UUID
) -> DeploymentState:
    """The deploy step stopped early: a waiting deployment is cancelled, a running script
    deploy fails; a server's rollout runs on to its end."""
    return await agent.step_stopped(ctx, worker.id, deployment_id)
