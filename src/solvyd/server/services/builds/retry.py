"""Retry: automatic retries of infrastructure errors (with backoff) and manual retries of
finished builds (a new build linked to the old one)."""

import uuid
from dataclasses import fields

import sqlalchemy as sa

from solvyd.protocol import BuildStatus
from solvyd.server.db import queries
from solvyd.server.db.models import Build, Job
from solvyd.server.events import BUILDS, QUEUE
from solvyd.server.schemas.builds import TriggerRequest
from solvyd.server.services import audit
from solvyd.server.services.audit import Actor
from solvyd.server.services.builds.approve import approve
from solvyd.server.services.builds.lifecycle import RetryPolicy
from solvyd.server.services.builds.origin import BuildOrigin, PullRequestInfo
from solvyd.server.services.builds.trigger import queue_build
from solvyd.server.services.context import ServerContext
from solvyd.server.services.errors import Conflict, NotFound
from solvyd.shared.clock import utcnow


def retry_policy(ctx: ServerContext, job: Job | None) -> RetryPolicy:
    return RetryPolicy(
        max_retries=job.max_retries if job else 0,
        backoff_seconds=ctx.settings.retry_backoff_seconds,
        max_backoff_seconds=ctx.settings.retry_backoff_max_seconds,
    )


async def release_due_retries(ctx: ServerContext) -> int:
    """Retries whose backoff has passed become claimable now; waiting agents are woken."""
    async with ctx.db.transaction() as session:
        result = await session.execute(
            sa.update(Build)
            .where(Build.status == BuildStatus.QUEUED, Build.not_before <= utcnow())
            .values(not_before=None)
        )
    released = int(getattr(result, "rowcount", 0) or 0)
    if released:
        ctx.events.notify(QUEUE)
        ctx.events.notify(BUILDS)  # no longer waiting for their backoff
    return released


async def retry_build(ctx: ServerContext, build_id: uuid.UUID, actor: Actor) -> Build:
    """A new build of the same job, branch, commit and trigger variables as a finished one,
    planned for the same event (a retry of a push runs the push's steps) with the same tag,
    pull request and commit message and author; its trigger is `retry`.

    Its steps are planned from the job's pipeline as it is now (a repository pipeline is read
    at the same commit, so it is the same one). A fork's build that its job has wait for an
    approval is approved by the retrier if its original was approved: only a developer or an
    admin may retry, the same people who may approve, and asking for a retry is choosing to run
    that code again. One whose original never was (cancelled while it waited, or queued before
    the job asked for approvals) waits for an approval of its own: a retry is no way around
    the review."""
    async with ctx.db.transaction() as session:
        # Locked: retention skips a locked build (SKIP LOCKED), or has removed it and the
        # retry answers 404, never an insert whose retry_of meets a deleted build.
        old = await queries.get_build(session, build_id, lock=True)
        if old is None:
            raise NotFound(f"build {build_id} not found")
        if not BuildStatus(old.status).finished:
            raise Conflict(f"build {build_id} has not finished ({old.status}); cancel it first")
        # Built without the schema's checks: a value stored before they existed is refused by
        # queue_build as invalid input, not as a crash.
        body = TriggerRequest.model_construct(
            branch=old.branch, commit_sha=old.commit_sha, env=dict(old.env)
        )
        queued = await queue_build(
            session,
            old.job_id,
            body,
            triggered_by=actor.user_id,
            trigger="retry",
            retry_of=old.id,
            # The same fork's code again: it stays kept from the secrets.
            from_fork=old.from_fork,
            origin=origin_of(old),
        )
        build = queued.build
        if old.needs_step_without_image and build.spec.get("pipeline_path"):
            # The same commit's repository plan, which a worker already found needs a worker
            # that runs steps without an image: no such worker need claim it and hand it back.
            build.needs_step_without_image = True
        approved = build.awaiting_approval and old.approved_at is not None
        if approved:
            approve(build, actor)
        audit.record(
            session,
            actor,
            "build.retry",
            f"build:{build.id}",
            job=queued.job.name,
            number=build.number,
            retry_of=str(old.id),
            retry_of_number=old.number,
            # A fork's build of a job with fork_approval, whose original was approved: the
            # retry approves it.
            approved=approved,
        )
    queued.wake(ctx.events)
    return build


def origin_of(build: Build) -> BuildOrigin:
    """What started `build`, as stored: a retry replays it."""
    pull_request = None
    if build.pull_request is not None:
        known = {f.name for f in fields(PullRequestInfo)}
        pull_request = PullRequestInfo(
            **{key: value for key, value in build.pull_request.items() if key in known}
        )
    return BuildOrigin(
        event=build.event,
        tag=build.tag,
        pull_request=pull_request,
        commit_message=build.commit_message,
        commit_author=build.commit_author,
    )
