"""Reading builds: one with its steps, or a filtered page (keyset pagination, newest first)."""

import base64
import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from solvyd.protocol import BuildStatus
from solvyd.server.db import queries
from solvyd.server.db.models import (
    Build,
    BuildStep,
    CommitStatusReport,
    Job,
    NotificationDelivery,
    User,
)
from solvyd.server.schemas.builds import BuildList, BuildRead
from solvyd.server.services.builds.approve import WAITING_FOR_APPROVAL
from solvyd.server.services.builds.step_graph import step_dependencies
from solvyd.server.services.context import ServerContext
from solvyd.server.services.errors import InvalidInput, NotFound
from solvyd.shared.clock import utcnow

NO_WORKER_RUNS_STEPS_WITHOUT_IMAGE = (
    "no online worker can run steps without an image (a local agent, or a docker agent "
    "started with --default-image)"
)


# A row by column name, as `_rows` reads them (`Row._asdict` would list the names again per
# row, and `Row` looks a name up on each attribute read).
Row = dict[str, Any]


def _encode_cursor(build: Row) -> str:
    raw = f"{build['queued_at'].isoformat()}|{build['id']}"
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        queued_at, build_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        return datetime.fromisoformat(queued_at), uuid.UUID(build_id)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput("cursor is not one this server handed out") from exc


# A build's answer is read as plain rows of the columns it shows (by their BuildRead names),
# not as ORM entities: a page then costs neither the identity map nor the decoding of JSON it
# never shows (`env`, and `spec` wherever the agent reported the step graph), and each build
# is validated once, from one dict.
_approver = aliased(User)
_BUILD_COLUMNS = (
    Build.id,
    Build.job_id,
    Job.name.label("job_name"),
    Build.number,
    Build.status,
    Build.exit_code,
    Build.error_message,
    Build.queued_at,
    Build.started_at,
    Build.completed_at,
    Build.duration_seconds,
    Build.worker_id,
    Build.branch,
    Build.commit_sha,
    Build.trigger,
    Build.event,
    Build.tag,
    Build.pull_request,
    Build.commit_message,
    Build.commit_author,
    Build.awaiting_approval,
    _approver.username.label("approved_by_username"),
    Build.approved_at,
    Build.attempt,
    Build.labels,
    Build.retry_of,
    Build.not_before,
    # Not shown, but deciding what else the answer holds.
    Job.max_concurrent_builds,
    Build.reports_status,
    Build.notifies,
    Build.needs_step_without_image,
    Build.step_graph,
    # The planned spec only draws the step graph of a build without a reported one: a NULL,
    # or a JSON null where a new attempt cleared it (`_specs_of` reads any other kind).
    sa.case(
        (
            sa.or_(Build.step_graph.is_(None), sa.cast(Build.step_graph, sa.Text) == "null"),
            Build.spec,
        )
    ).label("spec"),
)


_BUILDS = (
    sa.select(*_BUILD_COLUMNS)
    .outerjoin(Job, Job.id == Build.job_id)
    .outerjoin(_approver, _approver.id == Build.approved_by)
)


_STEPS = (
    sa.select(
        BuildStep.build_id,
        BuildStep.name,
        BuildStep.position,
        BuildStep.status,
        BuildStep.exit_code,
        BuildStep.error_message,
        BuildStep.started_at,
        BuildStep.completed_at,
    )
    .where(BuildStep.build_id.in_(sa.bindparam("build_ids", expanding=True)))
    .order_by(BuildStep.build_id, BuildStep.position)
)


def _rows(result: sa.Result[Any]) -> list[Row]:
    keys = tuple(result.keys())
    return [dict(zip(keys, row, strict=True)) for row in result]


async def _rows_by_build(
    session: AsyncSession, query: sa.Executable, build_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[Row]]:
    """The rows `query` (of the `build_ids` bind parameter) finds for the builds, by build, in
    its order; no query for no builds."""
    if not build_ids:
        return {}
    by_build: dict[uuid.UUID, list[Row]] = {}
    for row in _rows(await session.execute(query, {"build_ids": build_ids})):
        by_build.setdefault(row["build_id"], []).append(row)
    return by_build


async def _to_read_models(session: AsyncSession, builds: list[Row]) -> list[BuildRead]:
    """Each build's answer: its row with its steps and what else it shows, validated once."""
    if not builds:
        return []
    steps = await _rows_by_build(session, _STEPS, [build["id"] for build in builds])
    specs = await _specs_of(session, [build for build in builds if build["id"] in steps])
    reasons = await _waiting_reasons(session, builds)
    # Only the builds that report commit statuses, or whose jobs had notification rules:
    # mostly none on a page, so mostly no query.
    reports = await _rows_by_build(
        session, _STATUS_REPORTS, [build["id"] for build in builds if build["reports_status"]]
    )
    notifications = await _rows_by_build(
        session, _NOTIFICATIONS, [build["id"] for build in builds if build["notifies"]]
    )
    answers = []
    for build in builds:
        build_id = build["id"]
        spec = specs[build_id] if build_id in specs else build["spec"]
        build["steps"] = _with_dependencies(steps.get(build_id, []), spec, build["step_graph"])
        build["waiting_reason"] = reasons.get(build_id)
        build["status_reports"] = reports.get(build_id, [])
        build["notifications"] = notifications.get(build_id, [])
        answers.append(BuildRead.model_validate(build))
    return answers


_STATUS_REPORTS = (
    sa.select(
        CommitStatusReport.build_id,
        CommitStatusReport.forge,
        CommitStatusReport.context,
        CommitStatusReport.state,
        CommitStatusReport.status,
        CommitStatusReport.attempts,
        CommitStatusReport.last_error,
        CommitStatusReport.response_status,
        CommitStatusReport.response_body,
        CommitStatusReport.updated_at,
    )
    .where(CommitStatusReport.build_id.in_(sa.bindparam("build_ids", expanding=True)))
    .order_by(CommitStatusReport.context)
)


_NOTIFICATIONS = (
    sa.select(
        NotificationDelivery.build_id,
        NotificationDelivery.id,
        NotificationDelivery.rule_index.label("rule"),
        NotificationDelivery.type,
        NotificationDelivery.target,
        NotificationDelivery.event,
        NotificationDelivery.outcome,
        NotificationDelivery.status,
        NotificationDelivery.attempts,
        NotificationDelivery.last_error,
        NotificationDelivery.created_at,
        NotificationDelivery.sent_at,
    )
    .where(NotificationDelivery.build_id.in_(sa.bindparam("build_ids", expanding=True)))
    .order_by(NotificationDelivery.created_at, NotificationDelivery.rule_index)
)


async def _specs_of(session: AsyncSession, builds: list[Row]) -> dict[uuid.UUID, dict[str, Any]]:
    """The planned specs that the page's query left out although the step graph needs them:
    of builds whose reported graph is empty in another way than the query knows (none
    the server writes)."""
    ids = [build["id"] for build in builds if build["spec"] is None and not build["step_graph"]]
    if not ids:
        return {}
    rows = await session.execute(sa.select(Build.id, Build.spec).where(Build.id.in_(ids)))
    return {row.id: row.spec for row in rows}


def _with_dependencies(
    steps: list[Row], spec: dict[str, Any], reported: list[dict[str, Any]] | None
) -> list[Row]:
    graph = step_dependencies(spec, [step["name"] for step in steps], reported)
    for step in steps:
        step["depends_on"] = graph[step["name"]]
    return steps


async def _waiting_reasons(session: AsyncSession, builds: list[Row]) -> dict[uuid.UUID, str]:
    """For queued builds no worker holds: what keeps them waiting, besides busy workers."""
    waiting = [b for b in builds if b["status"] == BuildStatus.QUEUED and b["worker_id"] is None]
    if not waiting:
        return {}
    online = [
        (set(labels), runs_steps_without_image)
        for labels, runs_steps_without_image in await queries.online_worker_capabilities(session)
    ]
    now = utcnow()
    reasons: dict[uuid.UUID, str] = {}
    for build in waiting:
        able = [runs for labels, runs in online if set(build["labels"]) <= labels]
        if build["awaiting_approval"]:
            reasons[build["id"]] = WAITING_FOR_APPROVAL
        elif not able:
            labels = build["labels"]
            reasons[build["id"]] = (
                f"no online worker has the labels {', '.join(labels)}"
                if labels
                else "no worker is online"
            )
        elif build["needs_step_without_image"] and not any(able):
            reasons[build["id"]] = NO_WORKER_RUNS_STEPS_WITHOUT_IMAGE
        elif (not_before := build["not_before"]) is not None and not_before > now:
            reasons[build["id"]] = (
                f"attempt {build['attempt']} waits until {not_before.isoformat()} (backoff)"
            )
        elif (limit := build["max_concurrent_builds"]) is not None:
            held = await queries.count_job_builds_holding_a_worker(session, build["job_id"])
            if held >= limit:
                reasons[build["id"]] = f"the job's limit of {limit} concurrent builds is reached"
    return reasons


async def get_build(ctx: ServerContext, build_id: uuid.UUID) -> BuildRead:
    async with ctx.db.read() as session:
        builds = _rows(await session.execute(_BUILDS.where(Build.id == build_id)))
        if not builds:
            raise NotFound(f"build {build_id} not found")
        return (await _to_read_models(session, builds))[0]


async def list_builds(
    ctx: ServerContext,
    *,
    job_id: uuid.UUID | None = None,
    status: str | None = None,
    branch: str | None = None,
    worker_id: uuid.UUID | None = None,
    number: int | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> BuildList:
    query = _BUILDS.order_by(Build.queued_at.desc(), Build.id.desc()).limit(limit + 1)
    if job_id is not None:
        query = query.where(Build.job_id == job_id)
    if status is not None:
        query = query.where(Build.status == status)
    if branch is not None:
        query = query.where(Build.branch == branch)
    if worker_id is not None:
        query = query.where(Build.worker_id == worker_id)
    if number is not None:
        query = query.where(Build.number == number)
    if cursor is not None:
        queued_at, last_id = _decode_cursor(cursor)
        query = query.where(
            sa.or_(
                Build.queued_at < queued_at,
                sa.and_(Build.queued_at == queued_at, Build.id < last_id),
            )
        )
    async with ctx.db.read() as session:
        builds = _rows(await session.execute(query))
        page, more = builds[:limit], len(builds) > limit
        items = await _to_read_models(session, page)
    return BuildList(items=items, next_cursor=_encode_cursor(page[-1]) if more else None)
