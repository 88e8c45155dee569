import uuid

from fastapi import APIRouter, Response, status

from solvyd.server.api.deps import AsAdmin, AsDeveloper, AsViewer, ClientIp, Ctx
from solvyd.server.schemas.builds import BuildRead, TriggerRequest
from solvyd.server.schemas.jobs import JobCreate, JobList, JobRead, JobUpdate
from solvyd.server.schemas.notifications import NotificationTestAnswer, NotificationTestRequest
from solvyd.server.services import jobs
from solvyd.server.services.audit import Actor
from solvyd.server.services.builds import read, trigger
from solvyd.server.services.notifications.test_send import send_test_notifications

router = APIRouter(prefix="/jobs", tags=["jobs"])


@router.post("", status_code=status.HTTP_201_CREATED, operation_id="create_job")
async def create_job(ctx: Ctx, user: AsDeveloper, ip: ClientIp, body: JobCreate) -> JobRead:
    return JobRead.model_validate(await jobs.create_job(ctx, body, Actor.of(user, ip)))


@router.get("", operation_id="list_jobs")
async def list_jobs(ctx: Ctx, _: AsViewer, name: str | None = None) -> JobList:
    return JobList(items=[JobRead.model_validate(j) for j in await jobs.list_jobs(ctx, name)])


@router.get("/{job_id}", operation_id="get_job")
async def get_job(ctx: Ctx, _: AsViewer, job_id: uuid.UUID) -> JobRead:
    return JobRead.model_validate(await jobs.get_job(ctx, job_id))


@router.patch("/{job_id}", operation_id="update_job")
async def update_job(
    ctx: Ctx, user: AsDeveloper, ip: ClientIp, job_id: uuid.UUID, body: JobUpdate
) -> JobRead:
    return JobRead.model_validate(await jobs.update_job(ctx, job_id, body, Actor.of(user, ip)))


@router.delete("/{job_id}", status_code=status.HTTP_204_NO_CONTENT, operation_id="delete_job")
async def delete_job(ctx: Ctx, user: AsAdmin, ip: ClientIp, job_id: uuid.UUID) -> Response:
    await jobs.delete_job(ctx, job_id, Actor.of(user, ip))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{job_id}/trigger", status_code=status.HTTP_201_CREATED, operation_id="trigger_job")
async def trigger_job(
    ctx: Ctx,
    user: AsDeveloper,
    ip: ClientIp,
    job_id: uuid.UUID,
    body: TriggerRequest | None = None,
) -> BuildRead:
    actor = Actor.of(user, ip)
    build = await trigger.trigger_build(ctx, job_id, body or TriggerRequest(), actor=actor)
    return await read.get_build(ctx, build.id)


@router.post("/{job_id}/notifications/test", operation_id="test_job_notifications")
async def test_job_notifications(
    ctx: Ctx,
    user: AsDeveloper,
    ip: ClientIp,
    job_id: uuid.UUID,
    body: NotificationTestRequest | None = None,
) -> NotificationTestAnswer:
    """Send a test notification to each of the job's rules (or `rule`) now, and say how each
    went. Synchronous; nothing is recorded on any build."""
    rule = body.rule if body is not None else None
    results = await send_test_notifications(ctx, job_id, rule, Actor.of(user, ip))
    return NotificationTestAnswer(results=results)
