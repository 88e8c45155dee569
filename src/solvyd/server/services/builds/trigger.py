"""Trigger: plan the job's pipeline into a build, queue it, wake waiting agents."""

import uuid

import sqlalchemy as sa

from solvyd.pipeline.config import PipelineError
from solvyd.pipeline.plan import BuildContext, plan_job
from solvyd.server.db.models import Build, BuildStep, Job
from solvyd.server.events import QUEUE
from solvyd.server.schemas.builds import TriggerRequest
from solvyd.server.services.context import ServerContext
from solvyd.server.services.errors import InvalidInput, NotFound
from solvyd.server.services.jobs import load_job_pipeline


async def trigger_build(
    ctx: ServerContext,
    job_id: uuid.UUID,
    body: TriggerRequest,
    *,
    triggered_by: uuid.UUID | None = None,
    trigger: str = "manual",
) -> Build:
    async with ctx.db.transaction() as session:
        # The row lock serialises build numbers per job on PostgreSQL.
        job = await session.scalar(sa.select(Job).where(Job.id == job_id).with_for_update())
        if job is None:
            raise NotFound(f"job {job_id} not found")
        try:
            config = load_job_pipeline(job)
        except PipelineError as exc:
            raise InvalidInput(str(exc), details=[e.as_dict() for e in exc.errors]) from exc
        if config is None:
            raise InvalidInput(
                f"job {job.name!r} reads its pipeline from {job.pipeline_path} in the repository;"
                " give the job a pipeline or build_config until repository pipelines are supported"
            )
        number = job.next_build_number
        job.next_build_number = number + 1
        build = Build(
            id=uuid.uuid4(),
            job_id=job.id,
            number=number,
            status="queued",
            branch=body.branch or job.branch,
            commit_sha=body.commit_sha,
            trigger=trigger,
            triggered_by=triggered_by,
            env=body.env,
            labels=sorted(set(job.labels)),
        )
        spec = plan_job(
            config,
            BuildContext(
                build_id=build.id,
                build_number=number,
                job_id=job.id,
                job_name=job.name,
                scm_url=job.scm_url,
                branch=build.branch,
                commit_sha=build.commit_sha,
                job_env=dict(job.env),
                trigger_env=dict(body.env),
                labels=build.labels,
                timeout_seconds=job.timeout_seconds,
            ),
        )
        build.spec = spec.model_dump(mode="json")
        session.add(build)
        await session.flush()
        session.add_all(
            BuildStep(build_id=build.id, position=position, name=step.name)
            for position, step in enumerate(spec.steps)
        )
    ctx.events.notify(QUEUE)
    return build
