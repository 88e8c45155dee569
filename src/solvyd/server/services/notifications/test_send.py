"""A test of a job's notification rules: a notice sent now, synchronously, to each rule (or
the one asked for) through the same notifiers and secrets as a build's, and each answer
returned. No rows: nothing is retried, and the builds show nothing of it.

The notice is of the job's latest build, as it stands (its start while it runs); a job whose
latest build is still queued, or that has none, gets a made-up one, numbered 0, triggered by
"test", whose commit message says that no build ran."""

import asyncio
import dataclasses
import uuid

import httpx
import sqlalchemy as sa

from solvyd.protocol import BuildStatus
from solvyd.server.db.models import Build, Job
from solvyd.server.notify.registry import notifier_for
from solvyd.server.schemas.notifications import NotificationTestResult
from solvyd.server.services import audit
from solvyd.server.services.audit import Actor
from solvyd.server.services.context import ServerContext
from solvyd.server.services.errors import InvalidInput, NotFound
from solvyd.server.services.notifications.delivery import attempt, rule_secrets, smtp_password
from solvyd.server.services.notifications.notice import build_notice, job_masker
from solvyd.server.services.notifications.outbox import describe_target, outcome_of
from solvyd.shared.clock import utcnow

TEST_MESSAGE = "A test notification from Solvyd: no build ran."


def _made_up_build(job: Job) -> Build:
    now = utcnow()
    return Build(
        id=uuid.uuid4(),
        job_id=job.id,
        number=0,
        status=BuildStatus.SUCCESS.value,
        branch=job.branch,
        commit_sha=None,
        trigger="test",
        event="test",
        tag=None,
        pull_request=None,
        commit_message=TEST_MESSAGE,
        commit_author=None,
        from_fork=False,
        spec={},
        queued_at=now,
        started_at=now,
        completed_at=now,
        duration_seconds=0.0,
        error_message=None,
    )


async def send_test_notifications(
    ctx: ServerContext, job_id: uuid.UUID, rule: int | None, actor: Actor
) -> list[NotificationTestResult]:
    async with ctx.db.transaction() as session:
        job = await session.get(Job, job_id)
        if job is None:
            raise NotFound(f"job {job_id} not found")
        rules = list(enumerate(job.notifications or []))
        if rule is not None:
            if rule >= len(rules):
                raise InvalidInput(f"rule: the job has {len(rules)} notification rules")
            rules = [rules[rule]]
        build = await session.scalar(
            sa.select(Build).where(Build.job_id == job.id).order_by(Build.number.desc()).limit(1)
        )
        if build is not None and build.status == BuildStatus.QUEUED:
            build = None  # neither started nor ended: nothing to tell of it yet
        made_up = build is None
        if build is None:
            build = _made_up_build(job)
        status = BuildStatus(build.status)
        finished = status.finished or made_up
        outcome = await outcome_of(session, build) if finished and not made_up else "success"
        if not finished:
            outcome = "started"
        masker = await job_masker(ctx, session, build, job)
        notice = await build_notice(
            ctx,
            session,
            build,
            job,
            "build.finished" if finished else "build.started",
            outcome,
            masker,
        )
        if made_up:
            notice = dataclasses.replace(notice, url=None)
        planned = []
        for index, item in rules:
            kind = str(item.get("type"))
            notifier = notifier_for(kind)
            values = (
                await rule_secrets(ctx, session, notifier, item, build, job)
                if notifier is not None
                else {}
            )
            password = await smtp_password(ctx, session, notifier)
            planned.append((index, item, kind, notifier, values, password))
        audit.record(
            session,
            actor,
            "job.notifications.test",
            f"job:{job.id}",
            name=job.name,
            rules=[index for index, *_ in planned],
        )
    async with httpx.AsyncClient(follow_redirects=False) as http:
        attempts = await asyncio.gather(
            *(
                attempt(
                    ctx.settings,
                    http,
                    notifier,
                    kind,
                    notice,
                    item,
                    values,
                    f"test-{uuid.uuid4()}",
                    masker,
                    password,
                )
                for _, item, kind, notifier, values, password in planned
            )
        )
    return [
        NotificationTestResult(
            rule=index,
            type=kind,
            target=describe_target(item),
            ok=result.verdict == "sent",
            error=result.error if result.verdict != "sent" else None,
        )
        for (index, item, kind, _, _, _), result in zip(planned, attempts, strict=True)
    ]
