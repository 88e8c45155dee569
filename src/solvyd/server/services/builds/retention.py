"""Build retention: finished builds past their job's limits are removed with everything they
own, in small batches, by every server process in the background (background.py).

A finished build goes once it breaks any limit that is set for its kind (Jenkins' "discard
old builds"): it finished more than `days` ago, or it is older than the newest `max_builds`
finished builds of its job and kind. The two kinds are branch builds and pull-request builds
(`event` "pull_request"; a retry replays its build's event). Never removed: queued and running
builds, a build any deployment refers to (an environment's current version is a
deployment's), the newest finished build of each kind of each job, and the build the job's
badge shows (the newest finished one of its default branch, not a tag's: badges.py), so a
job's page and badge keep its last result whatever the limits.

A run computes each job's and kind's limits once (builds finishing meanwhile only move them
up). A batch reads the next `retention_batch_size` removable builds of one job by number after
the last batch's (keyset on the unique (job_id, number) index), deletes their log rows a
chunk of LOG_ROWS_PER_TRANSACTION at a time, each chunk its own transaction, then in one short
transaction locks the builds with SKIP LOCKED (two servers never take the same builds), writes
the store keys of their artifacts and archived logs to `store_deletions` and deletes them
(their steps, artifacts' rows, commit statuses and notifications go by ON DELETE CASCADE).
Between write transactions retention pauses (on SQLite at least as long as the last one took)
so the API's writers get the database. After the commit the
objects are deleted from the store and their rows with them; a failed delete is tried again
in the next round, so nothing is left behind in the store even if the server dies between.
"""

import asyncio
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from solvyd.protocol import BuildStatus
from solvyd.server.db.models import Artifact, Build, BuildLog, Deployment, Job, StoreDeletion
from solvyd.server.db.session import after_commit
from solvyd.server.events import BUILDS
from solvyd.server.metrics.registry import BuildsRemoved
from solvyd.server.schemas.jobs import UNLIMITED
from solvyd.server.schemas.retention import (
    RetentionCounts,
    RetentionJobCount,
    RetentionLimitsRead,
    RetentionPolicy,
    RetentionPreview,
)
from solvyd.server.services import audit
from solvyd.server.services.audit import SYSTEM
from solvyd.server.services.badges import shown_on_badge
from solvyd.server.services.builds.log_archive import archive_key
from solvyd.server.services.builds.origin import PULL_REQUEST
from solvyd.server.services.context import ServerContext
from solvyd.server.services.errors import NotFound
from solvyd.server.settings import ServerSettings

log = structlog.get_logger(__name__)

BRANCH = "branch"
PULL_REQUESTS = "pull_requests"
KINDS = (BRANCH, PULL_REQUESTS)
FINISHED_STATUSES = [status.value for status in BuildStatus if status.finished]
# The audit record names at most this many jobs (the counts cover all of them).
AUDITED_JOBS = 50
# A batch's log rows are deleted this many at a time, each chunk a short transaction.
LOG_ROWS_PER_TRANSACTION = 5000
# A store deletion round stops after this many failed deletes in a row (the store is down).
STORE_FAILURES_IN_A_ROW = 10
# On SQLite, the least pause between two write transactions (see _pause).
SQLITE_PAUSE_SECONDS = 0.05


@dataclass(frozen=True)
class Limits:
    """One kind's limits; None: that limit is not set (never removes)."""

    days: float | None = None
    max_builds: int | None = None

    @property
    def any(self) -> bool:
        return self.days is not None or self.max_builds is not None


@dataclass
class Tally:
    builds: int = 0
    artifacts: int = 0
    artifact_bytes: int = 0
    archived_logs: int = 0

    def add(self, other: "Tally") -> None:
        self.builds += other.builds
        self.artifacts += other.artifacts
        self.artifact_bytes += other.artifact_bytes
        self.archived_logs += other.archived_logs


@dataclass
class Summary:
    """What a run removed, or what it would remove now (the dry run)."""

    kinds: dict[str, Tally] = field(default_factory=lambda: {kind: Tally() for kind in KINDS})
    # Builds per job that has any: (id, name) -> count.
    jobs: dict[tuple[uuid.UUID, str], int] = field(default_factory=dict)

    @property
    def total(self) -> Tally:
        total = Tally()
        for tally in self.kinds.values():
            total.add(tally)
        return total

    def count(self, job: tuple[uuid.UUID, str], kind: str, tally: Tally) -> None:
        self.kinds[kind].add(tally)
        if tally.builds:
            self.jobs[job] = self.jobs.get(job, 0) + tally.builds


def server_limits(settings: ServerSettings) -> dict[str, Limits]:
    """The server's own limits per kind (0 in a setting: not set); pull-request builds follow
    the branch builds' limits where their own are not set."""
    return effective_limits(settings, None)


def _pick(own: Any, fallback: Any) -> Any:
    if own is None:
        return fallback
    return None if own == UNLIMITED else own


def effective_limits(
    settings: ServerSettings, retention: dict[str, Any] | None
) -> dict[str, Limits]:
    """A job's limits per kind: each field the job sets (a number, or "unlimited") replaces
    the server's. For pull-request builds: the job's `pull_requests` field, else the server's
    pull-request setting, else what holds for the job's branch builds."""
    own = retention or {}
    own_pulls = own.get("pull_requests") or {}
    branch = Limits(
        _pick(own.get("days"), settings.build_retention_days or None),
        _pick(own.get("max_builds"), settings.build_retention_max_builds or None),
    )
    pulls = Limits(
        _pick(own_pulls.get("days"), settings.pr_build_retention_days or branch.days),
        _pick(
            own_pulls.get("max_builds"), settings.pr_build_retention_max_builds or branch.max_builds
        ),
    )
    return {BRANCH: branch, PULL_REQUESTS: pulls}


def _of_kind(kind: str) -> sa.ColumnElement[bool]:
    return Build.event == PULL_REQUEST if kind == PULL_REQUESTS else Build.event != PULL_REQUEST


async def _removable(
    session: AsyncSession,
    job_id: uuid.UUID,
    job_branch: str | None,
    kind: str,
    limits: Limits,
    now: datetime,
) -> sa.ColumnElement[bool] | None:
    """The condition a build of the job and kind meets when retention removes it now; None
    when none can be removed."""
    if not limits.any:
        return None
    finished = sa.and_(Build.job_id == job_id, Build.status.in_(FINISHED_STATUSES), _of_kind(kind))
    newest = await session.scalar(sa.select(sa.func.max(Build.number)).where(finished))
    if newest is None:
        return None
    breaks: list[sa.ColumnElement[bool]] = []
    if limits.max_builds is not None:
        # The oldest build that is still among the newest N: everything before it goes.
        oldest_kept = await session.scalar(
            sa.select(Build.number)
            .where(finished)
            .order_by(Build.number.desc())
            .offset(limits.max_builds - 1)
            .limit(1)
        )
        if oldest_kept is not None:
            breaks.append(Build.number < oldest_kept)
    if limits.days is not None:
        cutoff = now - timedelta(days=limits.days)
        # A finished build without an end time (an imported row) counts from its queueing.
        breaks.append(
            sa.or_(
                Build.completed_at < cutoff,
                sa.and_(Build.completed_at.is_(None), Build.queued_at < cutoff),
            )
        )
    if not breaks:
        return None
    deployed = sa.exists().where(Deployment.build_id == Build.id)
    condition = sa.and_(finished, Build.number < newest, sa.or_(*breaks), ~deployed)
    # The badge's build may be older than the newest of its kind (tags and other branches
    # finished after it): it stays too, or the badge would read "unknown".
    on_badge = await session.scalar(
        sa.select(sa.func.max(Build.number)).where(shown_on_badge(job_id, job_branch))
    )
    if on_badge is not None:
        condition = sa.and_(condition, Build.number != on_badge)
    return condition


async def _tally(session: AsyncSession, build_ids: sa.Select[Any] | list[uuid.UUID]) -> Tally:
    """What the builds hold besides their rows: artifacts (and their bytes), archived logs."""
    artifacts, size = (
        await session.execute(
            sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(Artifact.size_bytes), 0)).where(
                Artifact.build_id.in_(build_ids)
            )
        )
    ).one()
    archived = await session.scalar(
        sa.select(sa.func.count()).where(
            Build.id.in_(build_ids), Build.log_archive_key.is_not(None)
        )
    )
    return Tally(0, int(artifacts), int(size), int(archived or 0))


async def _jobs(
    ctx: ServerContext, job_id: uuid.UUID | None
) -> list[tuple[uuid.UUID, str, str | None, Any]]:
    query = sa.select(Job.id, Job.name, Job.branch, Job.retention).order_by(Job.name)
    if job_id is not None:
        query = query.where(Job.id == job_id)
    async with ctx.db.read() as session:
        rows = [
            (row.id, row.name, row.branch, row.retention) for row in await session.execute(query)
        ]
    if job_id is not None and not rows:
        raise NotFound(f"job {job_id} not found")
    return rows


async def preview(ctx: ServerContext, now: datetime, job_id: uuid.UUID | None = None) -> Summary:
    """The dry run: what a run would remove now (of one job, or of all), removing nothing."""
    summary = Summary()
    for found_id, name, branch, retention in await _jobs(ctx, job_id):
        for kind, limits in effective_limits(ctx.settings, retention).items():
            async with ctx.db.read() as session:
                removable = await _removable(session, found_id, branch, kind, limits, now)
                if removable is None:
                    continue
                ids = sa.select(Build.id).where(removable)
                builds = await session.scalar(sa.select(sa.func.count()).where(removable))
                tally = await _tally(session, ids)
            tally.builds = int(builds or 0)
            summary.count((found_id, name), kind, tally)
    return summary


async def _remove_batch(
    ctx: ServerContext, kind: str, removable: sa.ColumnElement[bool], after: int
) -> tuple[Tally, int | None]:
    """Remove one batch of the builds that meet `removable`, the next ones by number after
    `after`; answers what went and the number to go on after (None: no more)."""
    batch = ctx.settings.retention_batch_size
    # Keyset paging on the (job_id, number) index: each batch reads its own rows only.
    async with ctx.db.read() as session:
        rows = (
            await session.execute(
                sa.select(Build.id, Build.number)
                .where(removable, Build.number > after)
                .order_by(Build.number)
                .limit(batch)
            )
        ).all()
        if not rows:
            return Tally(), None
        picked = [row.id for row in rows]
        # Before their log rows go: afterwards a log being archived could not be told.
        archiving = set(await _being_archived(ctx, session, picked))
    await _delete_log_rows(ctx, removable, picked)
    started = time.monotonic()
    async with ctx.db.transaction() as session:
        # SKIP LOCKED: builds another server is removing (or anyone holds, as a retry does)
        # are left to it. (SQLite drops the clause; its transactions are serialised anyway.)
        ids = list(
            await session.scalars(
                sa.select(Build.id)
                .where(Build.id.in_(picked), removable)
                .with_for_update(skip_locked=True, of=Build)
            )
        )
        tally = Tally()
        if ids:
            tally = await _tally(session, ids)
            tally.builds = len(ids)
            keys = list(
                await session.scalars(
                    sa.select(Artifact.storage_key).where(Artifact.build_id.in_(ids))
                )
            )
            keys += [
                key
                for key in await session.scalars(
                    sa.select(Build.log_archive_key).where(
                        Build.id.in_(ids), Build.log_archive_key.is_not(None)
                    )
                )
                if key is not None
            ]
            keys += [archive_key(build_id) for build_id in ids if build_id in archiving]
            if keys:
                await session.execute(sa.insert(StoreDeletion), [{"key": key} for key in keys])
            await session.execute(
                sa.delete(Build)
                .where(Build.id.in_(ids))
                .execution_options(synchronize_session=False)
            )
            after_commit(session, BuildsRemoved(kind, len(ids)))
    await _pause(ctx, time.monotonic() - started)
    return tally, rows[-1].number if len(rows) == batch else None


async def _delete_log_rows(
    ctx: ServerContext, removable: sa.ColumnElement[bool], build_ids: list[uuid.UUID]
) -> None:
    """Delete the builds' log rows (those still removable) a chunk at a time, each chunk its
    own transaction: a batch of builds may hold millions of them, which one transaction
    deleting the builds by cascade would take all at once."""
    still_removable = sa.select(Build.id).where(Build.id.in_(build_ids), removable)
    while True:
        started = time.monotonic()
        async with ctx.db.transaction() as session:
            chunk = (
                sa.select(BuildLog.id)
                .where(BuildLog.build_id.in_(still_removable))
                .limit(LOG_ROWS_PER_TRANSACTION)
            )
            result = await session.execute(
                sa.delete(BuildLog)
                .where(BuildLog.id.in_(chunk.scalar_subquery()))
                .execution_options(synchronize_session=False)
            )
        deleted = int(getattr(result, "rowcount", 0) or 0)
        if deleted == 0:
            return
        await _pause(ctx, time.monotonic() - started)
        if deleted < LOG_ROWS_PER_TRANSACTION:
            return


async def _pause(ctx: ServerContext, took: float) -> None:
    """Between two of retention's write transactions. SQLite has one writer at a time and its
    busy handler polls with sleeps of up to 100 ms: without a real pause the next batch would
    take the lock before a waiting API request's poll comes round, and agents' reports would
    wait into busy_timeout. PostgreSQL locks rows, not the database: a yield is enough there."""
    if ctx.db.dialect == "sqlite":
        await asyncio.sleep(max(took, SQLITE_PAUSE_SECONDS))
    else:
        await asyncio.sleep(0.01)


async def _being_archived(
    ctx: ServerContext, session: AsyncSession, ids: list[uuid.UUID]
) -> list[uuid.UUID]:
    """Of the builds, those whose log the log archiver may be writing to the store now (log
    rows, not yet archived): it writes the object before it points the build at it, so a build
    removed in between would leave the object behind. Not narrowed to the builds due for it by
    their end time, which the archiver reads at its own moment: deleting a key that was never
    written is no error."""
    if ctx.settings.log_retention_days <= 0:
        return []
    return list(
        await session.scalars(
            sa.select(Build.id).where(
                Build.id.in_(ids),
                Build.log_archive_key.is_(None),
                sa.exists().where(BuildLog.build_id == Build.id),
            )
        )
    )


async def delete_stored_objects(ctx: ServerContext) -> int:
    """Delete the objects of removed builds from the artifact store, and their rows once
    gone; answers how many went. A delete that fails keeps its row for the next round; after
    STORE_FAILURES_IN_A_ROW failures in a row the store is taken to be down and the round
    stops, rather than try (and log) every pending object."""
    batch = ctx.settings.retention_batch_size
    deleted, after = 0, 0
    failed, in_a_row = 0, 0
    last_error = ""
    try:
        while in_a_row < STORE_FAILURES_IN_A_ROW:
            async with ctx.db.transaction() as session:
                rows = (
                    await session.execute(
                        sa.select(StoreDeletion.id, StoreDeletion.key)
                        .where(StoreDeletion.id > after)
                        .order_by(StoreDeletion.id)
                        .limit(batch)
                    )
                ).all()
            if not rows:
                return deleted
            done: list[int] = []
            for row in rows:
                after = row.id
                try:
                    # Deleting what is already gone (another server was quicker) is no error.
                    await ctx.artifacts.delete(row.key)
                except Exception as exc:
                    failed += 1
                    in_a_row += 1
                    last_error = f"{row.key}: {type(exc).__name__}: {exc}"
                    if in_a_row >= STORE_FAILURES_IN_A_ROW:
                        break
                    continue
                in_a_row = 0
                done.append(row.id)
            if done:
                async with ctx.db.transaction() as session:
                    await session.execute(
                        sa.delete(StoreDeletion).where(StoreDeletion.id.in_(done))
                    )
            deleted += len(done)
            if len(rows) < batch:
                return deleted
        return deleted
    finally:
        if failed:
            # Once per round, however many failed.
            log.warning(
                "deleting removed builds' objects failed; tried again next round",
                failed=failed,
                stopped=in_a_row >= STORE_FAILURES_IN_A_ROW,
                last_error=last_error,
            )


async def remove_old_builds(ctx: ServerContext, now: datetime) -> Summary:
    """One run: every job's builds past its limits, batch by batch, then their objects in the
    store; one audit record if anything went. A run that fails part way still records, tells
    the UI of and deletes the objects of what its committed batches removed."""
    summary = Summary()
    try:
        for job_id, name, branch, retention in await _jobs(ctx, None):
            for kind, limits in effective_limits(ctx.settings, retention).items():
                if not limits.any:
                    continue
                # The limits once per run: builds finishing meanwhile only move them up, so
                # the ones computed now never remove a build they would keep later.
                async with ctx.db.read() as session:
                    removable = await _removable(session, job_id, branch, kind, limits, now)
                after: int | None = 0
                while removable is not None and after is not None:
                    tally, after = await _remove_batch(ctx, kind, removable, after)
                    summary.count((job_id, name), kind, tally)
    finally:
        if summary.total.builds:
            ctx.events.notify(BUILDS)
            async with ctx.db.transaction() as session:
                audit.record(session, SYSTEM, "builds.retention", None, **audit_details(summary))
        await delete_stored_objects(ctx)
    return summary


def audit_details(summary: Summary) -> dict[str, Any]:
    total = summary.total
    jobs = sorted(summary.jobs.items(), key=lambda item: item[0][1])
    return {
        "builds": total.builds,
        "artifacts": total.artifacts,
        "artifact_bytes": total.artifact_bytes,
        "archived_logs": total.archived_logs,
        "branch_builds": summary.kinds[BRANCH].builds,
        "pull_request_builds": summary.kinds[PULL_REQUESTS].builds,
        "jobs": {name: count for (_, name), count in jobs[:AUDITED_JOBS]},
        "more_jobs": max(0, len(jobs) - AUDITED_JOBS),
    }


def _policy(settings: ServerSettings, limits: dict[str, Limits]) -> RetentionPolicy:
    return RetentionPolicy(
        branch=RetentionLimitsRead(**asdict(limits[BRANCH])),
        pull_requests=RetentionLimitsRead(**asdict(limits[PULL_REQUESTS])),
        interval_seconds=settings.retention_interval_seconds,
        batch_size=settings.retention_batch_size,
    )


def server_policy(ctx: ServerContext) -> RetentionPolicy:
    return _policy(ctx.settings, server_limits(ctx.settings))


async def preview_answer(
    ctx: ServerContext, now: datetime, job_id: uuid.UUID | None
) -> RetentionPreview:
    """The dry run as the API answers it, with the limits it applied (the job's, if one)."""
    if job_id is None:
        limits = server_limits(ctx.settings)
    else:
        async with ctx.db.read() as session:
            job = await session.get(Job, job_id)
        if job is None:
            raise NotFound(f"job {job_id} not found")
        limits = effective_limits(ctx.settings, job.retention)
    summary = await preview(ctx, now, job_id)
    return RetentionPreview(
        policy=_policy(ctx.settings, limits),
        branch=RetentionCounts(**asdict(summary.kinds[BRANCH])),
        pull_requests=RetentionCounts(**asdict(summary.kinds[PULL_REQUESTS])),
        total=RetentionCounts(**asdict(summary.total)),
        jobs=[
            RetentionJobCount(job_id=found_id, name=name, builds=count)
            for (found_id, name), count in sorted(summary.jobs.items(), key=lambda i: i[0][1])
        ],
    )
