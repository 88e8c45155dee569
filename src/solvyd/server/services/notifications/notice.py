"""A build as a `BuildNotice`: its facts at the moment of the event, the first failed step's
last log lines, and every text masked with the values of the job's (and the global) secrets,
the ones its spec hides too, so that no notification carries a secret the log would not."""

import dataclasses
import re
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from solvyd.protocol import BuildStatus, StepStatus
from solvyd.server.db.models import Build, BuildLog, BuildStep, Job
from solvyd.server.notify.base import BuildNotice, NoticeEvent, PullRequestNotice
from solvyd.server.services import secrets
from solvyd.server.services.context import ServerContext
from solvyd.shared.redaction import Masker

LOG_TAIL_LINES = 30
# A log line longer than this is cut in a message.
MAX_LINE_CHARS = 500
# Colours and cursor moves: noise in an email or a Slack message.
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")


async def job_masker(ctx: ServerContext, session: AsyncSession, build: Build, job: Job) -> Masker:
    """Every secret value the job's builds may see, and what its spec says to hide."""
    values = await secrets.secret_values(session, secrets.secret_box(ctx), job.id, None)
    mask = [str(value) for value in build.spec.get("mask") or ()] if build.spec else []
    return Masker(sorted({*values.values(), *mask}))


async def build_notice(
    ctx: ServerContext,
    session: AsyncSession,
    build: Build,
    job: Job,
    event: NoticeEvent,
    outcome: str,
    masker: Masker,
) -> BuildNotice:
    started = event == "build.started"
    failed_step, raw_tail = (None, ()) if started else await _failed_step_tail(session, build)
    # Masked before it is cut, so that no cut leaves a piece of a secret behind.
    tail = tuple(_cut(masker(line)) for line in raw_tail)
    public_url = ctx.settings.public_url
    pull = build.pull_request or None
    notice = BuildNotice(
        event=event,
        outcome=outcome,
        job_id=str(job.id),
        job_name=job.name,
        build_id=str(build.id),
        number=build.number,
        # A start told late (a retry, a slow receiver) still tells the start.
        status=BuildStatus.RUNNING.value if started else str(build.status),
        trigger=build.trigger,
        branch=build.branch,
        tag=build.tag,
        commit_sha=build.commit_sha,
        commit_message=build.commit_message,
        commit_author=build.commit_author,
        pull_request=_pull_request(pull) if isinstance(pull, dict) else None,
        queued_at=build.queued_at,
        started_at=build.started_at,
        completed_at=None if started else build.completed_at,
        duration_seconds=None if started else build.duration_seconds,
        error_message=None if started else build.error_message,
        url=f"{public_url.rstrip('/')}/builds/{build.id}" if public_url else None,
        failed_step=failed_step,
        log_tail=tail,
    )
    return mask_notice(notice, masker)


def mask_notice(notice: BuildNotice, masker: Masker) -> BuildNotice:
    """`notice` with every text masked (the ids and times hold none)."""
    if not masker:
        return notice
    changes: dict[str, Any] = {}
    for field in dataclasses.fields(notice):
        value = getattr(notice, field.name)
        if isinstance(value, str) and field.name not in ("event", "outcome", "build_id", "job_id"):
            changes[field.name] = masker(value)
    changes["log_tail"] = tuple(masker(line) for line in notice.log_tail)
    if notice.pull_request is not None:
        pull = notice.pull_request
        changes["pull_request"] = dataclasses.replace(
            pull,
            title=masker(pull.title) if pull.title else pull.title,
            source_branch=masker(pull.source_branch) if pull.source_branch else None,
            target_branch=masker(pull.target_branch) if pull.target_branch else None,
        )
    return dataclasses.replace(notice, **changes)


def _pull_request(pull: dict[str, Any]) -> PullRequestNotice | None:
    try:
        return PullRequestNotice(
            number=int(pull["number"]),
            title=pull.get("title"),
            source_branch=pull.get("source_branch"),
            target_branch=pull.get("target_branch"),
            from_fork=bool(pull.get("from_fork")),
        )
    except (KeyError, TypeError, ValueError):
        return None


async def _failed_step_tail(
    session: AsyncSession, build: Build
) -> tuple[str | None, tuple[str, ...]]:
    """The step that failed first (by when it ended, then by its place) and its last lines."""
    if build.status not in (BuildStatus.FAILURE, BuildStatus.ERROR):
        return None, ()
    step = await session.scalar(
        sa.select(BuildStep.name)
        .where(
            BuildStep.build_id == build.id,
            BuildStep.status.in_([StepStatus.FAILURE, StepStatus.ERROR]),
        )
        .order_by(BuildStep.completed_at.is_(None), BuildStep.completed_at, BuildStep.position)
        .limit(1)
    )
    if step is None:
        return None, ()
    return step, await _last_lines(session, build.id, step)


async def _last_lines(session: AsyncSession, build_id: uuid.UUID, step: str) -> tuple[str, ...]:
    # Every batch holds at least one line: the last 30 batches hold the last 30 lines.
    batches = await session.scalars(
        sa.select(BuildLog.lines)
        .where(BuildLog.build_id == build_id, BuildLog.step == step)
        .order_by(BuildLog.seq.desc())
        .limit(LOG_TAIL_LINES)
    )
    lines: list[str] = []
    for batch in batches:
        texts = [str(line.get("text", "")) for line in batch if isinstance(line, dict)]
        lines[:0] = texts
        if len(lines) >= LOG_TAIL_LINES:
            break
    return tuple(
        _ANSI.sub("", line).replace("\x00", "").rstrip("\r\n") for line in lines[-LOG_TAIL_LINES:]
    )


def _cut(line: str) -> str:
    return line if len(line) <= MAX_LINE_CHARS else line[: MAX_LINE_CHARS - 1] + "…"
