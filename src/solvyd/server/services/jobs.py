"""Jobs: create, read, change, delete. A job's pipeline is validated before it is stored."""

import uuid
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from solvyd.pipeline.config import PipelineConfig, PipelineError, parse_pipeline
from solvyd.server.auth.secret_box import SecretBox, SecretBoxError
from solvyd.server.db.models import Job
from solvyd.server.events import BUILDS
from solvyd.server.plugins import server_plugins
from solvyd.server.schemas.jobs import OWNER_REPO_FORGES, JobCreate, JobUpdate
from solvyd.server.services import audit
from solvyd.server.services.audit import Actor
from solvyd.server.services.commit_statuses.forges import repository_from_scm_url
from solvyd.server.services.context import ServerContext
from solvyd.server.services.errors import Conflict, InvalidInput, NotFound
from solvyd.server.services.notifications.rules import check_rule_secrets
from solvyd.shared.clock import utcnow

DEFAULT_PIPELINE_PATH = ".solvyd.yml"


def pipeline_text(pipeline: str | dict[str, Any] | None) -> str | None:
    if pipeline is None or isinstance(pipeline, str):
        return pipeline
    return yaml.safe_dump(pipeline, sort_keys=False)


def load_job_pipeline(job: Job) -> PipelineConfig | None:
    """The job's own pipeline, or None when it lives in the repository."""
    if job.pipeline is not None:
        return parse_pipeline(job.pipeline, filename=f"job {job.name}")
    if job.build_config is not None:
        return parse_pipeline(job.build_config, filename=f"job {job.name} build_config")
    return None


def _stored_retention(retention: dict[str, Any] | None) -> dict[str, Any] | None:
    """The fields a job's retention sets, nothing else; None when it sets none, so that an
    empty policy reads as what it is: the server's."""
    if not retention:
        return None
    stored = {key: value for key, value in retention.items() if value is not None}
    if isinstance(stored.get("pull_requests"), dict):
        stored["pull_requests"] = _stored_retention(stored["pull_requests"])
        if stored["pull_requests"] is None:
            del stored["pull_requests"]
    return stored or None


def _validate(job: Job) -> None:
    if job.pipeline is None and job.build_config is None and not job.scm_url:
        raise InvalidInput("a job needs a pipeline, a build_config or an scm_url")
    if job.pipeline is None and job.build_config is None and job.pipeline_path is None:
        job.pipeline_path = DEFAULT_PIPELINE_PATH
    try:
        load_job_pipeline(job)
    except PipelineError as exc:
        raise InvalidInput(str(exc), details=[e.as_dict() for e in exc.errors]) from exc
    _validate_forge(job)
    job.retention = _stored_retention(job.retention)


def _validate_forge(job: Job) -> None:
    """The forge's repository is given or read from the job's scm_url (the schema checked the
    rest); unset fields are not stored."""
    if not job.forge:
        job.forge = None
        return
    forge = {key: value for key, value in job.forge.items() if value is not None}
    forges = server_plugins().forges()
    provider = forges.get(forge["type"])
    if provider is None:
        raise InvalidInput(
            f"forge.type {forge['type']!r} is no installed forge: use one of "
            f"{', '.join(sorted(forges))}"
        )
    if provider.default_api_url is None and not forge.get("api_url"):
        raise InvalidInput(f"a {provider.name} forge needs its api_url (it has no public default)")
    repository = forge.get("repository") or repository_from_scm_url(job.scm_url)
    if not repository:
        raise InvalidInput(
            "forge.repository is not set and cannot be read from the job's scm_url: "
            "set it (owner/repo)"
        )
    if forge["type"] in OWNER_REPO_FORGES and repository.count("/") != 1:
        raise InvalidInput(
            f"the {forge['type']} repository {repository!r} read from the scm_url is not "
            "owner/repo: set forge.repository"
        )
    job.forge = forge


def webhook_secret_binding(job_id: uuid.UUID) -> str:
    """What a job's sealed webhook secret is bound to: no secret's binding (`<job>/<NAME>`)
    can be this one, so neither ciphertext opens in the other's place."""
    return f"{job_id}/#webhook"


def _set_webhook_secret(ctx: ServerContext, job: Job, secret: str | None) -> None:
    job.webhook_secret_ciphertext = (
        None
        if secret is None
        else SecretBox(ctx.keys.encryption_key).seal(secret, webhook_secret_binding(job.id))
    )


def open_webhook_secret(ctx: ServerContext, job: Job) -> str | None:
    """The job's webhook secret in clear, to verify a delivery; None when it has none (or it
    was sealed under another server key: such a job can verify nothing)."""
    if job.webhook_secret_ciphertext is None:
        return None
    try:
        return SecretBox(ctx.keys.encryption_key).open(
            job.webhook_secret_ciphertext, webhook_secret_binding(job.id)
        )
    except SecretBoxError:
        return None


async def create_job(ctx: ServerContext, body: JobCreate, actor: Actor) -> Job:
    fields = body.model_dump(exclude={"pipeline", "webhook_secret"})
    job = Job(
        **fields,
        id=uuid.uuid4(),
        pipeline=pipeline_text(body.pipeline),
        created_by=actor.user_id,
        changed_by=actor.user_id,
    )
    _set_webhook_secret(ctx, job, body.webhook_secret)
    if job.schedules:
        job.schedules_since = utcnow()
    _validate(job)
    try:
        async with ctx.db.transaction() as session:
            session.add(job)
            await session.flush()
            audit.record(session, actor, "job.create", _target(job), name=job.name)
    except IntegrityError as exc:
        raise Conflict(f"a job named {body.name!r} already exists") from exc
    return job


async def list_jobs(ctx: ServerContext, name: str | None = None) -> list[Job]:
    query = select(Job).order_by(Job.name)
    if name is not None:
        query = query.where(Job.name == name)
    async with ctx.db.transaction() as session:
        return list(await session.scalars(query))


async def get_job(ctx: ServerContext, job_id: uuid.UUID) -> Job:
    async with ctx.db.transaction() as session:
        job = await session.get(Job, job_id)
    if job is None:
        raise NotFound(f"job {job_id} not found")
    return job


async def update_job(ctx: ServerContext, job_id: uuid.UUID, body: JobUpdate, actor: Actor) -> Job:
    changes = body.model_dump(exclude_unset=True)
    async with ctx.db.transaction() as session:
        job = await session.get(Job, job_id)
        if job is None:
            raise NotFound(f"job {job_id} not found")
        changed = sorted(changes)
        if "webhook_secret" in changes:
            _set_webhook_secret(ctx, job, changes.pop("webhook_secret"))
        for field, value in changes.items():
            if value is None and not Job.__table__.c[field].nullable:
                raise InvalidInput(f"{field} cannot be null")
            if field == "schedules" and value != job.schedules:
                # A new or changed schedule counts from now: no burst of past due times.
                job.schedules_since = utcnow()
            setattr(job, field, pipeline_text(value) if field == "pipeline" else value)
        if "pipeline" in changes and job.pipeline is not None:
            job.build_config = None
        _validate(job)
        if "notifications" in changes:
            await check_rule_secrets(session, job)
        # Even a change of nothing: an admin's empty update vouches for the job as it is.
        job.changed_by = actor.user_id
        # Which fields, never their values: env and pipelines may hold what nobody should read
        # in an audit log.
        audit.record(
            session,
            actor,
            "job.update",
            _target(job),
            name=job.name,
            fields=changed,
        )
    return job


async def delete_job(ctx: ServerContext, job_id: uuid.UUID, actor: Actor) -> None:
    async with ctx.db.transaction() as session:
        job = await session.get(Job, job_id)
        if job is None:
            raise NotFound(f"job {job_id} not found")
        await session.delete(job)
        audit.record(session, actor, "job.delete", _target(job), name=job.name)
    ctx.events.notify(BUILDS)  # its builds went with it


def _target(job: Job) -> str:
    return f"job:{job.id}"
