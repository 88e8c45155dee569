"""Secrets for a running build: the worker that holds it asks for the values its steps name.

The values are never part of the build's spec (the UI, CLI and API show the spec's parts):
the agent asks here once the plan is known and before any step runs, and for the secret its
checkout uses (the job's `checkout_credentials`) before the checkout. The answer is the job's
secret of each name, else the global one; a protected secret only for a build of one of its
branches (else it answers as not set, so its existence is not told); a build of a pull request
from a fork gets none unless its job sets `secrets_for_forks`, and never a protected one.
Every request is audited (`secret.read`, names only).

Whoever changes a job or triggers a build decides what the build runs, so a protected secret
goes only to builds that admins alone shaped: the job was last created or changed by an admin
and the build was triggered (or retried) by an admin or by the server itself (a schedule).
Otherwise any developer could name the secret in the pipeline, or trigger a protected branch
at a commit of their own, and print it.
"""

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from solvyd.protocol import BuildStatus, SecretsReply, SecretsRequest
from solvyd.server.auth.worker_tokens import WorkerIdentity
from solvyd.server.db.models import Build, Job
from solvyd.server.services import audit, secrets
from solvyd.server.services.builds.access import build_held_by
from solvyd.server.services.context import ServerContext
from solvyd.server.services.errors import Conflict, Forbidden

FORK_REASON = (
    "secrets are not given to builds of pull requests from forks "
    "(the job's secrets_for_forks is off)"
)


async def shaped_by_admins_only(session: AsyncSession, job: Job, build: Build) -> bool:
    """The job was last changed by an admin, and the build triggered by one or the server.

    A retry replays its build's commit and variables, so every build back along the retry
    chain must pass too: an admin's retry of a developer's build runs the developer's choice."""
    if not await secrets.is_active_admin(session, job.changed_by):
        return False
    current: Build | None = build
    while current is not None:
        if current.triggered_by is not None and not await secrets.is_active_admin(
            session, current.triggered_by
        ):
            return False
        current = await session.get(Build, current.retry_of) if current.retry_of else None
    return True


def asked_for(spec: dict[str, Any]) -> set[str] | None:
    """The secret names the build may read: those its planned steps ask for and the one its
    checkout uses (`checkout_credentials`, left out of a fork's build by `queue_build` unless
    the job gives forks secrets); None when the steps are planned on the agent from the
    repository's pipeline file, which the server has not seen."""
    if spec.get("pipeline_path"):
        return None
    names = {name for step in spec.get("steps") or () for name in step.get("secrets") or ()}
    if spec.get("checkout_credentials"):
        names.add(spec["checkout_credentials"])
    return names


async def read_build_secrets(
    ctx: ServerContext,
    worker: WorkerIdentity,
    build_id: uuid.UUID,
    request: SecretsRequest,
    ip: str | None = None,
) -> SecretsReply:
    names = sorted(set(request.names))
    actor = audit.Actor(name=f"worker:{worker.name}", ip=ip)
    target = f"build:{build_id}"
    async with ctx.db.transaction() as session:
        build = await build_held_by(
            session, build_id, worker.id, lock=False, attempt=request.attempt
        )
        if BuildStatus(build.status).finished:
            raise Conflict(f"build {build_id} has finished")
        planned = asked_for(build.spec)
        if planned is not None and not set(names) <= planned:
            unasked = ", ".join(sorted(set(names) - planned))
            raise Forbidden(f"no step of this build asks for the secrets {unasked}")
        job = await session.get(Job, build.job_id)
        assert job is not None  # noqa: S101 - a build's job is deleted with it
        if build.from_fork and not job.secrets_for_forks:
            audit.record(
                session, actor, "secret.read", target, outcome="denied", names=names, reason="fork"
            )
            return SecretsReply(missing=names, reason=FORK_REASON)
        recipient = secrets.Recipient(build, await shaped_by_admins_only(session, job, build))
        values = await secrets.secret_values(
            session, secrets.secret_box(ctx), job.id, names, for_build=recipient
        )
        missing = [name for name in names if name not in values]
        audit.record(session, actor, "secret.read", target, names=sorted(values), missing=missing)
    return SecretsReply(values=values, missing=missing)
