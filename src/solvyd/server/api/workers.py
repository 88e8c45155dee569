import uuid

from fastapi import APIRouter, Request, Response, status

from solvyd.protocol import (
    ClaimRequest,
    Heartbeat,
    HeartbeatReply,
    JobSpec,
    WorkerRegistered,
    WorkerRegistration,
)
from solvyd.server.api.deps import (
    AgentToken,
    AsAdmin,
    AsViewer,
    ClientIp,
    Ctx,
    PathWorker,
    PresentedWorkerToken,
)
from solvyd.server.api.long_poll import unless_disconnected
from solvyd.server.schemas.workers import AssignedBuild, AssignedBuildList, WorkerList, WorkerRead
from solvyd.server.services import jobs, workers
from solvyd.server.services.audit import Actor
from solvyd.server.services.builds import claim

router = APIRouter(prefix="/workers", tags=["workers"])


@router.post(
    "/register",
    operation_id="register_worker",
    responses={
        403: {"description": "a label the registration token does not grant"},
        409: {"description": "the name is taken and the worker's own token was not presented"},
    },
)
async def register_worker(
    ctx: Ctx, grant: AgentToken, worker_token: PresentedWorkerToken, body: WorkerRegistration
) -> WorkerRegistered:
    """Register a worker under `name`. A name already registered needs that worker's current
    token in `X-Solvyd-Worker-Token` (an agent registering again after a restart); otherwise
    409, and an admin frees the name by removing the worker (`DELETE /workers/{id}`)."""
    return await workers.register_worker(ctx, body, grant, worker_token)


@router.post("/{worker_id}/heartbeat", operation_id="worker_heartbeat")
async def heartbeat(
    ctx: Ctx, worker: PathWorker, worker_id: uuid.UUID, body: Heartbeat
) -> HeartbeatReply:
    return await workers.heartbeat(ctx, worker.id, body)


@router.post(
    "/{worker_id}/claim",
    operation_id="claim_build",
    response_model=JobSpec,
    responses={204: {"description": "no build arrived within `wait` seconds"}},
)
async def claim_build(
    ctx: Ctx,
    request: Request,
    worker: PathWorker,
    worker_id: uuid.UUID,
    body: ClaimRequest | None = None,
) -> JobSpec | Response:
    wait = (body or ClaimRequest()).wait
    spec = await unless_disconnected(request, claim.claim_next_build(ctx, worker.id, wait))
    if spec is None:
        return Response(status_code=status.HTTP_204_NO_CONTENT)
    return spec


@router.get("/{worker_id}/builds", operation_id="list_assigned_builds")
async def assigned_builds(ctx: Ctx, worker: PathWorker, worker_id: uuid.UUID) -> AssignedBuildList:
    builds = await claim.assigned_builds(ctx, worker.id)
    answer = []
    for build in builds:
        job = await jobs.get_job(ctx, build.job_id)
        answer.append(
            AssignedBuild(
                id=build.id,
                job_id=job.id,
                job_name=job.name,
                number=build.number,
                status=build.status,
                scm_url=job.scm_url,
                branch=build.branch,
                commit_sha=build.commit_sha,
                build_config=job.build_config,
                queued_at=build.queued_at,
                spec=claim.handed_out_spec(build).model_dump(mode="json"),
            )
        )
    return AssignedBuildList(builds=answer)


@router.get("", operation_id="list_workers")
async def list_workers(ctx: Ctx, _: AsViewer) -> WorkerList:
    return WorkerList(items=[WorkerRead.model_validate(w) for w in await workers.list_workers(ctx)])


@router.post("/{worker_id}/drain", operation_id="drain_worker")
async def drain_worker(ctx: Ctx, user: AsAdmin, ip: ClientIp, worker_id: uuid.UUID) -> WorkerRead:
    """Stop giving the worker new builds; the ones it runs finish."""
    worker = await workers.set_draining(ctx, worker_id, True, Actor.of(user, ip))
    return WorkerRead.model_validate(worker)


@router.post("/{worker_id}/resume", operation_id="resume_worker")
async def resume_worker(ctx: Ctx, user: AsAdmin, ip: ClientIp, worker_id: uuid.UUID) -> WorkerRead:
    """Undo a drain: the worker claims builds again."""
    worker = await workers.set_draining(ctx, worker_id, False, Actor.of(user, ip))
    return WorkerRead.model_validate(worker)


@router.delete("/{worker_id}", status_code=status.HTTP_204_NO_CONTENT, operation_id="remove_worker")
async def remove_worker(ctx: Ctx, user: AsAdmin, ip: ClientIp, worker_id: uuid.UUID) -> Response:
    """Forget the worker; its token stops working. A worker holding builds → 409: drain it and
    wait for them, or cancel them. The builds it ran before stay."""
    await workers.remove_worker(ctx, worker_id, Actor.of(user, ip))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
