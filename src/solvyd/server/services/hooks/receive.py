"""POST /hooks/{forge}: verify a delivery, queue what it starts, log it.

The jobs a delivery concerns are those whose `scm_url` names the payload's repository
(`scm.repository_key`). Each one's own webhook secret must verify the request: a job without
one never builds from a webhook. When none verifies, the answer is 401 and nothing is created
(the delivery is logged as rejected, listed under the repository's jobs). All builds of a
delivery are queued in one transaction, with the delivery's log row, and agents are woken after
it commits.
"""

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa
import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from solvyd.server.db.models import Build, Job, WebhookDelivery
from solvyd.server.plugins import server_plugins
from solvyd.server.schemas.builds import TriggerRequest
from solvyd.server.schemas.hooks import HookAnswer, HookBuild, HookIgnored
from solvyd.server.scm import ForgeEvent, ForgeProvider, PayloadError, repository_key
from solvyd.server.services.builds.trigger import QueuedBuild, queue_build
from solvyd.server.services.context import ServerContext
from solvyd.server.services.errors import InvalidInput, NotFound, ServiceError, Unauthorized
from solvyd.server.services.hooks import filters
from solvyd.server.services.hooks.log import Delivery, add_row
from solvyd.server.services.jobs import open_webhook_secret

log = structlog.get_logger(__name__)

NOT_VERIFIED = (
    "no job of this repository has a webhook secret that verifies the request's signature"
)


class BadPayload(ServiceError):
    status_code = 400
    code = "bad_payload"


@dataclass
class HookResult:
    """The answer and its status: 202, or 200 for a ping."""

    answer: HookAnswer
    status_code: int = 202


@dataclass
class _Outcome:
    queued: list[QueuedBuild] = field(default_factory=list)
    ignored: list[HookIgnored] = field(default_factory=list)


async def receive(
    ctx: ServerContext, forge_name: str, headers: Mapping[str, str], body: bytes
) -> HookResult:
    forges = server_plugins().forges()
    forge = forges.get(forge_name)
    if forge is None:
        raise NotFound(f"no forge named {forge_name!r}: use one of {', '.join(sorted(forges))}")
    delivery = Delivery.of(forge, headers, body)
    try:
        events = forge.parse(headers, body)
    except PayloadError as exc:
        await _log_only(ctx, delivery, "rejected", 400, str(exc))
        raise BadPayload(str(exc)) from None
    except Exception as exc:
        # A plugin's parser that breaks its contract: the request is refused, not a 500.
        log.error("forge parser failed", forge=forge.name, error=type(exc).__name__)
        problem = f"the {forge.name} forge could not read the request ({type(exc).__name__})"
        await _log_only(ctx, delivery, "rejected", 400, problem)
        raise BadPayload(problem) from None
    if all(event.kind == "ping" for event in events):
        await _log_only(ctx, delivery, "ignored", 200, "a ping: nothing to build")
        return HookResult(HookAnswer(delivery_id=delivery.delivery_id, builds=[], ignored=[]), 200)

    async with ctx.db.transaction() as session:
        jobs = await _jobs_of(session, events)
        verified, refused = _verify(ctx, forge, jobs, headers, body)
    if not verified:
        details = "".join(f"; job {job_id}: {why}" for job_id, why in refused)
        reason = f"{NOT_VERIFIED} ({len(jobs)} job(s) of the repository{details})"
        # Listed under the repository's jobs (not as verified by them): their owners see in
        # the job's Deliveries tab that the forge's deliveries fail, and why.
        await _log_only(ctx, delivery, "rejected", 401, reason, [job.id for job in jobs])
        log.warning(
            "webhook refused: no secret verifies it",
            forge=forge.name,
            delivery=delivery.delivery_id,
            jobs=len(jobs),
        )
        raise Unauthorized(NOT_VERIFIED)

    job_ids = [job.id for job in verified]
    try:
        async with ctx.db.transaction() as session:
            first = await _first_delivery(session, delivery, job_ids)
            if first is not None:
                duplicate = HookResult(await answer_of(session, first))
            else:
                outcome = await queue_events(session, job_ids, events)
                result = record(session, delivery, job_ids, outcome)
    except IntegrityError:
        # The same delivery, verified and recorded by a concurrent request: answer its builds.
        async with ctx.db.transaction() as session:
            first = await _first_delivery(session, delivery, job_ids)
            if first is None:
                raise
            duplicate = HookResult(await answer_of(session, first))
    if first is not None:
        _count(ctx, forge.name, "duplicate")
        return duplicate
    _count(ctx, forge.name, "accepted" if outcome.queued else "ignored")
    for queued in outcome.queued:
        queued.wake(ctx.events)
    return result


def _count(ctx: ServerContext, forge: str, result: str) -> None:
    ctx.metrics.webhook_deliveries.labels(forge, result).inc()


async def _jobs_of(session: AsyncSession, events: Sequence[ForgeEvent]) -> list[Job]:
    keys = {repository_key(url) for event in events for url in event.repository_urls} - {None}
    if not keys:
        return []
    candidates = await session.scalars(
        sa.select(Job).where(Job.scm_url.is_not(None)).order_by(Job.name)
    )
    return [job for job in candidates if repository_key(job.scm_url) in keys]


def _verify(
    ctx: ServerContext,
    forge: ForgeProvider,
    jobs: Sequence[Job],
    headers: Mapping[str, str],
    body: bytes,
) -> tuple[list[Job], list[tuple[uuid.UUID, str]]]:
    """The jobs whose secret verifies the request, and why each other one does not."""
    verified: list[Job] = []
    refused: list[tuple[uuid.UUID, str]] = []
    for job in jobs:
        secret = open_webhook_secret(ctx, job)
        if secret is None:
            refused.append((job.id, "the job has no webhook secret"))
        elif forge.verify(headers, body, secret):
            verified.append(job)
        else:
            refused.append((job.id, "the signature does not verify with the job's secret"))
    return verified, refused


async def queue_events(
    session: AsyncSession, job_ids: Sequence[uuid.UUID], events: Sequence[ForgeEvent]
) -> _Outcome:
    """Queue a build per job and event the job's filters let through, in the caller's
    transaction. A job whose pipeline cannot be planned is ignored with the reason."""
    outcome = _Outcome()
    for job_id in job_ids:
        job = await session.get(Job, job_id)
        if job is None:
            continue
        reasons = []
        for event in events:
            reason = filters.refusal(job, event)
            if reason is None:
                reason = await _queue(session, job, event, outcome)
            if reason is not None:
                reasons.append(reason)
        if reasons and not any(q.job.id == job.id for q in outcome.queued):
            outcome.ignored.append(HookIgnored(job_id=job.id, reason="; ".join(reasons)))
    return outcome


async def _queue(
    session: AsyncSession, job: Job, event: ForgeEvent, outcome: _Outcome
) -> str | None:
    origin = event.origin()
    request = TriggerRequest(branch=event.branch, commit_sha=event.commit_sha)
    try:
        # A savepoint: a plan refused for one job leaves the others' builds standing.
        async with session.begin_nested():
            queued = await queue_build(
                session,
                job.id,
                request,
                triggered_by=None,
                trigger=origin.event,
                origin=origin,
            )
    except InvalidInput as exc:
        return f"the build cannot be planned: {exc.message}"
    outcome.queued.append(queued)
    return None


def record(
    session: AsyncSession, delivery: Delivery, job_ids: list[uuid.UUID], outcome: _Outcome
) -> HookResult:
    builds = [
        HookBuild(id=q.build.id, job_id=q.job.id, number=q.build.number) for q in outcome.queued
    ]
    reason = None if builds else "; ".join(i.reason for i in outcome.ignored) or None
    row = delivery.row(
        outcome="accepted" if builds else "ignored",
        status_code=202,
        reason=reason,
        verified=True,
        job_ids=job_ids,
        build_ids=[b.id for b in builds],
        ignored=[i.model_dump(mode="json") for i in outcome.ignored],
    )
    add_row(session, row, job_ids)
    answer = HookAnswer(delivery_id=delivery.delivery_id, builds=builds, ignored=outcome.ignored)
    return HookResult(answer)


async def _first_delivery(
    session: AsyncSession, delivery: Delivery, job_ids: Sequence[uuid.UUID]
) -> WebhookDelivery | None:
    key = delivery.dedup_key(job_ids)
    if key is None:
        return None
    return await session.scalar(sa.select(WebhookDelivery).where(WebhookDelivery.dedup_key == key))


async def answer_of(session: AsyncSession, row: WebhookDelivery) -> HookAnswer:
    """What a delivery answered: its builds (those still there) and its ignored jobs."""
    ids = [uuid.UUID(b) for b in row.build_ids]
    builds = list(await session.scalars(sa.select(Build).where(Build.id.in_(ids)))) if ids else []
    order = {build_id: i for i, build_id in enumerate(ids)}
    builds.sort(key=lambda b: order[b.id])
    return HookAnswer(
        delivery_id=row.delivery_id,
        builds=[HookBuild(id=b.id, job_id=b.job_id, number=b.number) for b in builds],
        ignored=[HookIgnored.model_validate(i) for i in row.ignored],
    )


async def _log_only(
    ctx: ServerContext,
    delivery: Delivery,
    outcome: str,
    status_code: int,
    reason: str,
    listed_under: Sequence[uuid.UUID] = (),
) -> None:
    async with ctx.db.transaction() as session:
        add_row(
            session,
            delivery.row(outcome=outcome, status_code=status_code, reason=reason, verified=False),
            listed_under,
        )
    _count(ctx, delivery.forge.name, outcome)
