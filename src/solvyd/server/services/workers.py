"""Workers: registration (upsert by name), heartbeats, listing, drain and removal."""

import hmac
import uuid
from collections.abc import Sequence
from datetime import timedelta

import sqlalchemy as sa

from solvyd.protocol import (
    PROTOCOL_VERSION,
    Capabilities,
    Heartbeat,
    HeartbeatReply,
    WorkerRegistered,
    WorkerRegistration,
)
from solvyd.server.auth.worker_tokens import WorkerIdentity
from solvyd.server.db import dialects, queries
from solvyd.server.db.models import Build, Job, Worker
from solvyd.server.events import BUILDS, QUEUE, WORKER_TOKENS, WORKERS
from solvyd.server.services import agent_tokens, audit
from solvyd.server.services.agent_tokens import Grant
from solvyd.server.services.audit import Actor
from solvyd.server.services.builds.lifecycle import retry_or_fail, unassign
from solvyd.server.services.builds.retry import retry_policy
from solvyd.server.services.context import ServerContext
from solvyd.server.services.errors import Conflict, Forbidden, NotFound, Unauthorized
from solvyd.shared.clock import utcnow
from solvyd.shared.ids import new_token, token_digest

# A claim answered this long ago whose build the agent does not list was never received.
STALE_CLAIM_SECONDS = 30.0
WORKER_TOKEN_PREFIX = "svw_"  # noqa: S105 - a prefix, not a secret
# Executors that run every step in a container of the step's image.
CONTAINER_EXECUTORS = frozenset({"docker", "kubernetes"})


def claimable_labels(worker: Worker) -> list[str]:
    """The labels the worker may claim builds for: its own, within its token's grant (a row
    changed by hand, or by an older server, cannot widen what the token allowed)."""
    if worker.granted_labels is None:
        return list(worker.labels)
    granted = set(worker.granted_labels)
    return [label for label in worker.labels if label in granted]


def runs_steps_without_image(capabilities: Capabilities) -> bool:
    """What the agent says; an agent too old to say is judged by its executors, as it behaved:
    a container executor alone needs every step to name its image."""
    if capabilities.runs_steps_without_image is not None:
        return capabilities.runs_steps_without_image
    executors = set(capabilities.executors)
    return not executors or not executors <= CONTAINER_EXECUTORS


def _same_token(worker: Worker, presented: str | None) -> bool:
    return presented is not None and hmac.compare_digest(token_digest(presented), worker.token_hash)


async def register_worker(
    ctx: ServerContext, body: WorkerRegistration, grant: Grant, worker_token: str | None = None
) -> WorkerRegistered:
    """Register a worker and give it a fresh token. A name already registered is taken over
    only with that worker's current token (`worker_token`: the agent restarted); anyone else
    gets Conflict, and an admin who wants the name back removes the worker first. Labels the
    registration token does not grant are Forbidden.

    An agent registers once per process start, so whatever the previous incarnation of the
    same name still held is lost: requeued if it has retries left, else ended `error`.
    """
    labels = sorted(set(body.capabilities.labels))
    if refused := grant.refused(labels):
        raise Forbidden(
            f"this registration token does not grant the labels {', '.join(refused)}; "
            f"it grants {_listed(grant.labels)}"
        )
    token = new_token(WORKER_TOKEN_PREFIX)
    now = utcnow()
    requeued = False
    async with ctx.db.transaction() as session:
        worker = await session.scalar(
            sa.select(Worker).where(Worker.name == body.name).with_for_update()
        )
        # A new worker's token is new everywhere; an existing one's replaces a token that
        # servers may have verified.
        rotated = worker is not None
        if worker is None:
            worker = Worker(id=uuid.uuid4(), name=body.name, registered_at=now)
            session.add(worker)
        elif not _same_token(worker, worker_token):
            raise Conflict(
                f"a worker named {body.name!r} is already registered; registering under its "
                "name needs that worker's own token (the agent keeps it in its state "
                "directory), or an admin removes the worker first (`solvyd workers rm`)"
            )
        else:
            for build in await queries.worker_builds(session, worker.id, queries.ACTIVE_STATUSES):
                job = await session.get(Job, build.job_id)
                await retry_or_fail(session, build, retry_policy(ctx, job), "worker restarted")
                requeued = True
        worker.hostname = body.hostname
        worker.ip = body.ip
        worker.labels = labels
        worker.granted_labels = None if grant.labels is None else sorted(grant.labels)
        worker.executors = list(body.capabilities.executors)
        worker.runs_steps_without_image = runs_steps_without_image(body.capabilities)
        worker.concurrency = body.capabilities.concurrency
        worker.plugins = [plugin.model_dump(mode="json") for plugin in body.capabilities.plugins]
        worker.version = body.version
        worker.token_hash = token_digest(token)
        # A drain is the operator's decision: it outlives the agent's restarts until resumed.
        worker.status = "draining" if worker.status == "draining" else "online"
        worker.current_builds = 0
        worker.last_heartbeat = now
        worker.registered_at = now
        await session.flush()
    if rotated:
        ctx.events.notify(WORKER_TOKENS)
    ctx.events.notify(WORKERS)
    if requeued:
        ctx.events.notify(QUEUE)
        ctx.events.notify(BUILDS)
    return WorkerRegistered(
        id=worker.id,
        name=worker.name,
        registered_at=now,
        token=token,
        heartbeat_interval_seconds=ctx.settings.heartbeat_interval_seconds,
        protocol_version=PROTOCOL_VERSION,
    )


async def reissue_token(ctx: ServerContext, name: str) -> str | None:
    """A new token for the worker `name` (None: there is none), for the server's own
    embedded agent (`solvyd up`), which needs no proof of its name and may have no saved
    token (a data directory from before tokens were saved)."""
    token = new_token(WORKER_TOKEN_PREFIX)
    async with ctx.db.transaction() as session:
        worker = await session.scalar(
            sa.select(Worker).where(Worker.name == name).with_for_update()
        )
        if worker is None:
            return None
        worker.token_hash = token_digest(token)
    ctx.events.notify(WORKER_TOKENS)
    return token


def _listed(labels: Sequence[str] | frozenset[str] | None) -> str:
    if labels is None:
        return "any label"
    return ", ".join(sorted(labels)) if labels else "no label"


async def check_registration_token(ctx: ServerContext, token: str) -> Grant:
    """What `token` grants, if it may register agents: the server's SOLVYD_AGENT_TOKEN or a
    registration token an admin made and did not revoke; else Unauthorized."""
    grant = await agent_tokens.accepts(ctx, token)
    if grant is None:
        raise Unauthorized("invalid agent registration token")
    return grant


async def worker_from_token(ctx: ServerContext, token: str) -> WorkerIdentity:
    """Who `token` stands for: from the tokens this server verified lately, else from the
    database (a wrong token always asks it: only tokens it vouched for are remembered)."""
    digest = token_digest(token)
    verified = ctx.worker_tokens
    if (known := verified.get(digest)) is not None:
        return known
    ticket = verified.ticket()
    # A read: on SQLite, a lookup (a wrong token's too) takes no write lock from the reports.
    async with ctx.db.read() as session:
        row = (
            await session.execute(
                sa.select(Worker.id, Worker.name).where(Worker.token_hash == digest)
            )
        ).one_or_none()
    if row is None:
        raise Unauthorized("invalid worker token: the worker was removed or registered anew")
    identity = WorkerIdentity(id=row.id, name=row.name)
    verified.put(digest, identity, ticket)
    return identity


async def heartbeat(ctx: ServerContext, worker_id: uuid.UUID, body: Heartbeat) -> HeartbeatReply:
    async with ctx.db.transaction() as session:
        worker = await session.get(Worker, worker_id)
        if worker is None:
            # Removed since its token was checked.
            raise Unauthorized("invalid worker token: the worker was removed or registered anew")
        seen = (worker.status, worker.current_builds, worker.health_status)
        worker.last_heartbeat = utcnow()
        worker.current_builds = body.current_builds
        worker.health_status = body.health_status
        if worker.status == "offline":
            worker.status = "online"
        # Only what a viewer sees: not every heartbeat's new time.
        changed = seen != (worker.status, worker.current_builds, worker.health_status)
        stop: list[uuid.UUID] = []
        handed_back = False
        if body.build_ids:
            rows = await session.execute(
                sa.select(Build.id, Build.status, Build.worker_id).where(
                    Build.id.in_(body.build_ids)
                )
            )
            # Builds the worker still runs but that ended meanwhile, or were given to another
            # worker, must be stopped.
            known = {row.id: row for row in rows}
            # Stop builds that ended meanwhile, went to another worker, or no longer exist
            # (their job was deleted).
            stop = [
                build_id
                for build_id in body.build_ids
                if (row := known.get(build_id)) is None
                or row.status not in queries.ACTIVE_STATUSES
                or row.worker_id != worker.id
            ]
        waiting = await queries.worker_builds(session, worker.id, ("queued",))
        if "build_ids" in body.model_fields_set:
            # An agent that lists what it runs tells us which claims it never received (the
            # claim's answer was lost): hand those back once they are clearly stale.
            stale_before = utcnow() - timedelta(seconds=STALE_CLAIM_SECONDS)
            running = set(body.build_ids)
            for build in waiting:
                if build.id not in running and build.claimed_at and build.claimed_at < stale_before:
                    unassign(build)
                    handed_back = True
            waiting = [b for b in waiting if b.worker_id == worker.id]
        has_work = bool(waiting) or (
            worker.status == "online"
            and await dialects.count_claimable_builds(
                session,
                claimable_labels(worker),
                ctx.db.dialect,
                utcnow(),
                runs_steps_without_image=worker.runs_steps_without_image,
            )
            > 0
        )
    if changed:
        ctx.events.notify(WORKERS)
    if handed_back:
        ctx.events.notify(QUEUE)
        ctx.events.notify(BUILDS)
    return HeartbeatReply(has_work=has_work, cancelled_builds=stop)


async def set_draining(
    ctx: ServerContext, worker_id: uuid.UUID, draining: bool, actor: Actor
) -> Worker:
    """Drain: the worker claims nothing new and its running builds finish. Resume undoes it.
    The drain outlives the agent's restarts; an offline worker cannot be drained."""
    async with ctx.db.transaction() as session:
        worker = await session.get(Worker, worker_id, with_for_update=True)
        if worker is None:
            raise NotFound(f"worker {worker_id} not found")
        if draining:
            if worker.status == "offline":
                raise Conflict(f"worker {worker.name!r} is offline")
            worker.status = "draining"
        elif worker.status == "draining":
            worker.status = "online"
        action = "worker.drain" if draining else "worker.resume"
        audit.record(session, actor, action, f"worker:{worker.id}", name=worker.name)
    ctx.events.notify(WORKERS)
    if not draining:
        ctx.events.notify(QUEUE)  # its long-polling claims may take work again
    return worker


async def remove_worker(ctx: ServerContext, worker_id: uuid.UUID, actor: Actor) -> None:
    """Forget a worker: its token stops working. Refused while it holds builds (claimed or
    running), which would otherwise be orphaned; the builds it ran before stay, with no
    worker. An agent still running under the name can register again."""
    async with ctx.db.transaction() as session:
        # The row lock orders this after a claim in progress (claims lock the worker too).
        worker = await session.get(Worker, worker_id, with_for_update=True)
        if worker is None:
            raise NotFound(f"worker {worker_id} not found")
        held = await queries.count_worker_active_builds(session, worker.id)
        if held:
            raise Conflict(
                f"worker {worker.name!r} has {held} build{'' if held == 1 else 's'}; "
                "drain it and wait, or cancel them"
            )
        await session.delete(worker)
        audit.record(session, actor, "worker.remove", f"worker:{worker.id}", name=worker.name)
    ctx.events.notify(WORKER_TOKENS)
    ctx.events.notify(WORKERS)


async def list_workers(ctx: ServerContext) -> list[Worker]:
    async with ctx.db.transaction() as session:
        return list(await session.scalars(sa.select(Worker).order_by(Worker.name)))
