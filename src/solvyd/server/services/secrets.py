"""Secrets: admins set, list and delete them; builds read them (`services/builds/secrets.py`).

A secret is global (any job's builds may ask for it) or a job's own, and either may be
protected: given only to builds of branches matching one of its globs, never to a build of a
pull request or a fork (GitLab's protected variables).

A value is sealed (`auth/secret_box.py`) before it reaches the database and opened only to hand
it to the worker running a build that asks for it, or to mask it in a build's log. Nothing here
returns, logs or audits a value: answers and audit events carry names only.
"""

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from fnmatch import fnmatchcase

import sqlalchemy as sa
import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from solvyd.server.auth.roles import Role
from solvyd.server.auth.secret_box import SecretBox, SecretBoxError, binding
from solvyd.server.db.models import Build, Job, Secret, User
from solvyd.server.services import audit
from solvyd.server.services.context import ServerContext
from solvyd.server.services.errors import Conflict, NotFound
from solvyd.shared.clock import utcnow

log = structlog.get_logger(__name__)


def secret_box(ctx: ServerContext) -> SecretBox:
    return SecretBox(ctx.keys.encryption_key)


def audit_target(job_id: uuid.UUID | None, name: str) -> str:
    """`secret:<job id>/<name>`, or `secret:global/<name>`."""
    return f"secret:{binding(job_id, name)}"


def _in_scope(job_id: uuid.UUID | None) -> sa.ColumnElement[bool]:
    return Secret.job_id.is_(None) if job_id is None else Secret.job_id == job_id


async def _check_job(session: AsyncSession, job_id: uuid.UUID | None) -> None:
    if job_id is not None and await session.get(Job, job_id) is None:
        raise NotFound(f"job {job_id} not found")


async def set_secret(
    ctx: ServerContext,
    job_id: uuid.UUID | None,
    name: str,
    value: str,
    actor: audit.Actor,
    protected_branches: Collection[str] | None = None,
) -> tuple[Secret, bool]:
    """Create or replace the secret `name` of the job (None: global). True if created.
    `protected_branches` None keeps what the secret had (a new one: unprotected), so that
    replacing a value never silently lifts its protection."""
    branches = None if protected_branches is None else sorted(set(protected_branches))
    sealed = secret_box(ctx).seal(value, binding(job_id, name))
    try:
        async with ctx.db.transaction() as session:
            await _check_job(session, job_id)
            secret = await session.scalar(
                sa.select(Secret).where(_in_scope(job_id), Secret.name == name).with_for_update()
            )
            created = secret is None
            if secret is None:
                secret = Secret(
                    job_id=job_id,
                    name=name,
                    ciphertext=sealed,
                    created_by=actor.user_id,
                    protected_branches=branches or [],
                )
                session.add(secret)
            else:
                secret.ciphertext = sealed
                secret.updated_at = utcnow()
                if branches is not None:
                    secret.protected_branches = branches
            audit.record(
                session,
                actor,
                "secret.set",
                audit_target(job_id, name),
                created=created,
                protected_branches=list(secret.protected_branches),
            )
    except IntegrityError as exc:
        # Two requests created the same name at once; the other one won.
        raise Conflict(f"secret {name} was just created by another request; try again") from exc
    return secret, created


async def list_secrets(ctx: ServerContext, job_id: uuid.UUID | None) -> list[Secret]:
    """The job's own secrets (None: the global ones), by name."""
    async with ctx.db.transaction() as session:
        await _check_job(session, job_id)
        rows = await session.scalars(
            sa.select(Secret).where(_in_scope(job_id)).order_by(Secret.name)
        )
        return list(rows)


async def delete_secret(
    ctx: ServerContext, job_id: uuid.UUID | None, name: str, actor: audit.Actor
) -> None:
    async with ctx.db.transaction() as session:
        await _check_job(session, job_id)
        secret = await session.scalar(
            sa.select(Secret).where(_in_scope(job_id), Secret.name == name)
        )
        if secret is None:
            where = f"job {job_id}" if job_id else "global scope"
            raise NotFound(f"secret {name} not found in {where}")
        await session.delete(secret)
        audit.record(session, actor, "secret.delete", audit_target(job_id, name))


def protected_build(build: Build, patterns: Collection[str]) -> bool:
    """Whether `build` is on a branch of `patterns`, and its code is not a pull request's, a
    fork's or a tag's, whatever branch it names (a retry keeps its original's event; a tag
    build stored before tags had no branch names the job's)."""
    if (
        build.from_fork
        or {"pull_request", "tag"} & {build.trigger, build.event}
        or build.tag is not None
        or not build.branch
    ):
        return False
    return any(fnmatchcase(build.branch, pattern) for pattern in patterns)


@dataclass(frozen=True)
class Recipient:
    """The build a fetch is for, and whether admins alone shaped it (see
    `services/builds/secrets.py`): only then may it have a protected secret."""

    build: Build
    admins_only: bool


async def secret_values(
    session: AsyncSession,
    box: SecretBox,
    job_id: uuid.UUID,
    names: Collection[str] | None,
    for_build: Recipient | None = None,
) -> dict[str, str]:
    """The values a build of `job_id` may read, by name: of `names`, or of every secret when
    None. The job's own secret of a name wins over the global one. A value that does not
    decrypt (the server key changed, or the row was tampered with) is left out, and so is the
    global one of that name: the job meant its own. With `for_build`, a protected secret is
    left out unless admins alone shaped that build and it is on one of its branches
    (`protected_build`), and again the global one of a job's withheld name with it. Without,
    every value is given (to mask them)."""
    query = sa.select(Secret).where(sa.or_(Secret.job_id == job_id, Secret.job_id.is_(None)))
    if names is not None:
        if not names:
            return {}
        query = query.where(Secret.name.in_(sorted(set(names))))
    rows = sorted(await session.scalars(query), key=lambda row: row.job_id is not None)
    values: dict[str, str] = {}
    for row in rows:  # global ones first; a job's own replaces them
        if (
            for_build is not None
            and row.protected_branches
            and not (
                for_build.admins_only and protected_build(for_build.build, row.protected_branches)
            )
        ):
            values.pop(row.name, None)
            continue
        try:
            values[row.name] = box.open(row.ciphertext, binding(row.job_id, row.name))
        except SecretBoxError as exc:
            values.pop(row.name, None)
            log.error(
                "a stored secret cannot be read",
                secret=binding(row.job_id, row.name),
                error=str(exc),
            )
    return values


async def global_secret_value(session: AsyncSession, box: SecretBox, name: str) -> str | None:
    """The value of the global secret `name` (one no job owns), for the server's own use; None
    when there is none or it does not decrypt (logged as in `secret_values`)."""
    row = await session.scalar(
        sa.select(Secret).where(Secret.job_id.is_(None), Secret.name == name)
    )
    if row is None:
        return None
    try:
        return box.open(row.ciphertext, binding(None, name))
    except SecretBoxError as exc:
        log.error("a stored secret cannot be read", secret=binding(None, name), error=str(exc))
        return None


async def is_active_admin(session: AsyncSession, user_id: uuid.UUID | None) -> bool:
    """Whether `user_id` names an admin who is not disabled."""
    user = await session.get(User, user_id) if user_id is not None else None
    return user is not None and not user.disabled and user.role == Role.ADMIN


async def values_for_job_call(
    ctx: ServerContext, session: AsyncSession, job: Job, build: Build, names: Collection[str]
) -> tuple[dict[str, str], bool]:
    """The values of `names` (the job's own, else global) for a call the server makes for the
    job's build (a commit status, a notification), and whether an admin changed the job last.
    Whoever last changed the job chose where the values go (an API URL, a notification's
    target), so a protected secret is given only when that was an admin; otherwise it is left
    out, whatever the build's branch."""
    admin_changed = await is_active_admin(session, job.changed_by)
    recipient = None if admin_changed else Recipient(build, admins_only=False)
    values = await secret_values(session, secret_box(ctx), job.id, names, recipient)
    return values, admin_changed
