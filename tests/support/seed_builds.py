"""A long history at once: many finished builds (with their steps), audit events and webhook
deliveries inserted with SQL, for the benchmark of the read paths at scale
(bench/api_scale.py) and the browser tests of the pages over them (tests/ui/test_at_scale.py).

The rows are written in one statement per table (PostgreSQL's `generate_series`, SQLite's
recursive CTE), about a second per 100,000 builds, where the API would take hours. The shape
is a busy team's: `JOBS` jobs, one build every `SPACING_SECONDS` going back from `now`, the
newest few still queued or running, mostly `main` and some feature branches, mostly success,
two workers (offline: no reaper or dispatcher touches the seed while it is read). Everything
derived from a build's index is a hash of it, so the mix is the same in every seed and window.

The schema is migrated first (the server's own migrations); the database must be otherwise
empty. The benchmark imports this module (putting the repository on sys.path) rather than the
tests importing bench/, whose modules only run as scripts with bench/ on sys.path.
"""

import asyncio
import json
import sqlite3
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from solvyd.server.db.migrate import upgrade_to_head
from solvyd.server.db.session import create_database

JOBS = 20
SPACING_SECONDS = 26
# The newest builds: the first QUEUED wait (no worker yet), the next RUNNING run.
QUEUED = 3
RUNNING = 5
STEPS = ("build", "test")
WORKERS = ("worker-1", "worker-2")
# One audit event per this many builds; one webhook delivery per build of the deliveries'
# retention window (30 days by default: older ones would be pruned while a benchmark reads).
BUILDS_PER_AUDIT_EVENT = 10
DELIVERY_DAYS = 29
# A delivery's body, shorter than most (a push payload is a few kilobytes of JSON).
DELIVERY_BODY = json.dumps({"ref": "refs/heads/main", "commits": [{"message": "x" * 200}] * 3})

# Per build index i (0 the newest): two multiplicative hashes in 0..99, spread over any run
# of consecutive indexes (and over any one job's builds: i, i + JOBS, ...).
_HASH = "((({i}) * 2654435761) % 4294967296 / 42949673)"
_HASH2 = "((({i}) * 2246822519) % 4294967296 / 42949673)"


def _outcome(i: str) -> str:
    """The status of build `i`: 85% success, 10% failure, 3% error, 2% cancelled."""
    h = _HASH.format(i=i)
    return (
        f"CASE WHEN {i} < {QUEUED} THEN 'queued' WHEN {i} < {QUEUED + RUNNING} THEN 'running' "
        f"WHEN {h} < 85 THEN 'success' WHEN {h} < 95 THEN 'failure' "
        f"WHEN {h} < 98 THEN 'error' ELSE 'cancelled' END"
    )


def _branch(i: str) -> str:
    """70% `main`; else one of four feature branches of its day (about 3,300 builds)."""
    h = _HASH2.format(i=i)
    return f"CASE WHEN {h} < 70 THEN 'main' ELSE 'feature/' || ({i} / 3300 * 4 + {h} % 4) END"


def _trigger(i: str) -> str:
    return f"CASE WHEN {_HASH2.format(i=i)} % 10 = 9 THEN 'manual' ELSE 'push' END"


# Seconds in the queue and running, small enough that every build older than the running ones
# has finished by `now`.
def _wait(i: str) -> str:
    return f"(1 + {i} % 7)"


def _duration(i: str) -> str:
    return f"(20 + ({i} * 48271) % 160)"


@dataclass(frozen=True)
class Seeded:
    builds: int
    now: datetime
    # The jobs in seeding order (build i is job i % JOBS's), by id and name.
    job_ids: list[uuid.UUID]
    job_names: list[str]
    worker_ids: list[uuid.UUID]
    audit_events: int
    deliveries: int

    def builds_within(self, days: float) -> int:
        return min(self.builds, int(days * 86400 // SPACING_SECONDS) + 1)


def _plan(builds: int, now: datetime | None) -> Seeded:
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    deliveries = min(builds, DELIVERY_DAYS * 86400 // SPACING_SECONDS)
    return Seeded(
        builds=builds,
        now=now,
        job_ids=[uuid.uuid4() for _ in range(JOBS)],
        job_names=[f"service-{n:02d}" for n in range(1, JOBS + 1)],
        worker_ids=[uuid.uuid4() for _ in WORKERS],
        audit_events=builds // BUILDS_PER_AUDIT_EVENT,
        deliveries=deliveries,
    )


def _pipeline(name: str) -> str:
    return "steps:\n" + "".join(f"  - name: {s}\n    commands: [make {s}]\n" for s in STEPS)


def _job_count(seeded: Seeded, position: int) -> int:
    """How many builds job `position` gets (build i is job i % JOBS's)."""
    return len(range(position, seeded.builds, JOBS))


async def seed(database_url: str, builds: int, now: datetime | None = None) -> Seeded:
    """Migrate the empty database at `database_url` and fill it; what was seeded."""
    database = create_database(database_url)
    try:
        await upgrade_to_head(database)
    finally:
        await database.dispose()
    seeded = _plan(builds, now)
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        assert url.database is not None
        await asyncio.to_thread(_seed_sqlite, url.database, seeded)
    else:
        await _seed_postgresql(url.set(drivername="postgresql").render_as_string(False), seeded)
    return seeded


# PostgreSQL


async def _seed_postgresql(url: str, seeded: Seeded) -> None:
    connection = await asyncpg.connect(url)
    try:
        async with connection.transaction():
            await _skip_foreign_key_checks(connection)
            indexes = await _drop_secondary_indexes(connection, "builds")
            await _pg_jobs_and_workers(connection, seeded)
            await connection.execute(_PG_BUILDS, seeded.now, seeded.builds)
            await connection.execute(_PG_STEPS)
            await connection.execute(_PG_AUDIT, seeded.now, seeded.audit_events)
            await connection.execute(_PG_DELIVERIES, seeded.now, seeded.deliveries, DELIVERY_BODY)
            await connection.execute(_PG_DELIVERY_JOBS)
            for definition in indexes:
                await connection.execute(definition)
        # Statistics for the planner, and the visibility map for index-only scans; without it
        # autovacuum would do this in the middle of whatever reads the seed next.
        for table in _SEEDED_TABLES:
            await connection.execute(f"VACUUM (ANALYZE) {table}")
    finally:
        await connection.close()


async def _skip_foreign_key_checks(connection: Any) -> None:
    """The rows are consistent by construction: checking each build's foreign keys one row at
    a time would be a quarter of the seeding. Only a superuser may; others check them."""
    try:
        async with connection.transaction():
            await connection.execute("SET LOCAL session_replication_role = replica")
    except asyncpg.InsufficientPrivilegeError:
        pass


async def _drop_secondary_indexes(connection: Any, table: str) -> list[str]:
    """Drop the indexes of `table` that no constraint owns; their definitions, to create them
    again once the rows are in (building an index from the rows is several times faster than
    inserting a million rows into it)."""
    rows = await connection.fetch(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = $1 AND NOT EXISTS"
        " (SELECT 1 FROM pg_constraint WHERE conname = indexname)",
        table,
    )
    for row in rows:
        await connection.execute(f'DROP INDEX "{row["indexname"]}"')
    return [row["indexdef"] for row in rows]


_SEEDED_TABLES = (
    "jobs",
    "workers",
    "builds",
    "build_steps",
    "audit_events",
    "webhook_deliveries",
    "webhook_delivery_jobs",
)


async def _pg_jobs_and_workers(connection: Any, seeded: Seeded) -> None:
    await connection.executemany(
        "INSERT INTO jobs (id, name, description, pipeline, labels, env, max_retries,"
        " next_build_number, created_at, updated_at)"
        " VALUES ($1, $2, '', $3, '[]', '{}', 0, $4, $5, $5)",
        [
            (job_id, name, _pipeline(name), _job_count(seeded, n) + 1, _oldest(seeded))
            for n, (job_id, name) in enumerate(zip(seeded.job_ids, seeded.job_names, strict=True))
        ],
    )
    await connection.executemany(
        "INSERT INTO workers (id, name, hostname, ip, labels, executors, concurrency, version,"
        " token_hash, status, health_status, current_builds, registered_at, last_heartbeat)"
        " VALUES ($1, $2, $2, '10.0.0.1', '[]', '[\"local\"]', 4, 'seed', $3, 'offline',"
        " 'healthy', 0, $4, $5)",
        [
            (worker_id, name, uuid.uuid4().hex, _oldest(seeded), seeded.now)
            for worker_id, name in zip(seeded.worker_ids, WORKERS, strict=True)
        ],
    )


def _oldest(seeded: Seeded) -> datetime:
    return seeded.now - timedelta(seconds=seeded.builds * SPACING_SECONDS + 60)


_PG_BUILDS = f"""
WITH numbered AS MATERIALIZED (
    SELECT i, j.id AS job_id, j.spec,
        ($1::timestamptz - make_interval(secs => i * {SPACING_SECONDS})) AS queued_at,
        {_outcome("i")} AS status, {_branch("i")} AS branch, {_trigger("i")} AS trigger,
        substr(md5(i::text) || md5((i + 1)::text), 1, 40) AS commit_sha,
        -- Build i is the job's (count - i / JOBS)th: numbers go up with time.
        ((($2::bigint - 1 - i % {JOBS}) / {JOBS}) - i / {JOBS} + 1)::int AS number,
        w.id AS worker,
        make_interval(secs => {_wait("i")}) AS waited,
        {_duration("i")} AS duration
    FROM generate_series(0::bigint, $2::bigint - 1) AS i
    JOIN (
        SELECT id, row_number() OVER (ORDER BY name) - 1 AS position,
            json_build_object('job_id', id, 'job_name', name, 'steps', json_build_array(
                json_build_object('name', 'build', 'commands', json_build_array('make build')),
                json_build_object('name', 'test', 'commands', json_build_array('make test')))
            ) AS spec
        FROM jobs
    ) AS j ON j.position = i % {JOBS}
    JOIN (SELECT id, row_number() OVER (ORDER BY name) - 1 AS position FROM workers) AS w
        ON w.position = i % {len(WORKERS)}
)
INSERT INTO builds (id, job_id, number, status, branch, commit_sha, trigger, event, env,
    labels, spec, worker_id, attempt, queued_at, claimed_at, started_at, completed_at,
    exit_code, error_message, duration_seconds, commit_message, commit_author)
SELECT gen_random_uuid(), job_id, number, status, branch, commit_sha, trigger, trigger,
    '{{}}', '[]', spec, CASE WHEN status <> 'queued' THEN worker END, 1, queued_at,
    CASE WHEN status <> 'queued' THEN queued_at + waited END,
    CASE WHEN status <> 'queued' THEN queued_at + waited END,
    CASE WHEN status NOT IN ('queued', 'running')
        THEN queued_at + waited + make_interval(secs => duration) END,
    CASE status WHEN 'success' THEN 0 WHEN 'failure' THEN 1 END,
    CASE status WHEN 'error' THEN 'worker lost' END,
    CASE WHEN status NOT IN ('queued', 'running') THEN duration END,
    'Change ' || i, 'dev-' || (i % 12) || ' <dev@example.com>'
FROM numbered
"""

# Each build's steps: `build` then `test`, ending the way the build ended.
_STEP_STATUS = """
    CASE WHEN b.status = 'queued' THEN 'pending'
        WHEN s.position = 0 THEN CASE b.status WHEN 'error' THEN 'error' ELSE 'success' END
        ELSE CASE b.status WHEN 'error' THEN 'skipped' ELSE b.status END END
"""
_STEP_EXIT_CODE = f"""
    CASE {_STEP_STATUS} WHEN 'success' THEN 0 WHEN 'failure' THEN 1 END
"""
_PG_STEPS = f"""
INSERT INTO build_steps (id, build_id, position, name, status, exit_code, started_at,
    completed_at)
SELECT gen_random_uuid(), b.id, s.position, s.name, {_STEP_STATUS}, {_STEP_EXIT_CODE},
    CASE WHEN s.position = 0 THEN b.started_at
        ELSE b.started_at + make_interval(secs => coalesce(b.duration_seconds, 0) / 2) END,
    CASE WHEN s.position = 0 AND b.started_at IS NOT NULL AND b.status <> 'error'
        THEN b.started_at + make_interval(secs => coalesce(b.duration_seconds, 10) / 2)
        ELSE b.completed_at END
FROM builds AS b
CROSS JOIN (VALUES (0, 'build'), (1, 'test')) AS s (position, name)
"""

_AUDIT_ACTIONS = ("build.trigger", "auth.login", "job.update", "build.cancel")
_PG_AUDIT = f"""
INSERT INTO audit_events (at, actor_name, ip, action, target, outcome, details)
SELECT $1::timestamptz - make_interval(secs => i * {SPACING_SECONDS * BUILDS_PER_AUDIT_EVENT}),
    'dev-' || (i % 12), '10.0.1.' || (i % 200),
    (ARRAY{list(_AUDIT_ACTIONS)})[i % {len(_AUDIT_ACTIONS)} + 1],
    'job:service-' || lpad((i % {JOBS} + 1)::text, 2, '0'), 'success', '{{}}'
-- Oldest first: the log pages by id, which must follow time.
FROM generate_series($2::bigint - 1, 0, -1) AS i
"""

_PG_DELIVERIES = f"""
INSERT INTO webhook_deliveries (id, forge, event, delivery_id, received_at, outcome,
    status_code, job_ids, build_ids, ignored, headers, body, body_truncated)
SELECT gen_random_uuid(), 'github', 'push', md5(i::text),
    $1::timestamptz - make_interval(secs => i * {SPACING_SECONDS} + 1), 'accepted', 202,
    json_build_array(j.id), '[]', '[]', '{{"X-GitHub-Event": "push"}}', $3, false
FROM generate_series(0::bigint, $2::bigint - 1) AS i
JOIN (SELECT id, row_number() OVER (ORDER BY name) - 1 AS position FROM jobs) AS j
    ON j.position = i % {JOBS}
"""
_PG_DELIVERY_JOBS = """
INSERT INTO webhook_delivery_jobs (delivery_id, job_id, received_at)
SELECT id, (job_ids ->> 0)::uuid, received_at FROM webhook_deliveries
"""


# SQLite: the same rows in the shapes SQLAlchemy stores there (UUIDs as 32 hex digits, times
# as UTC text with microseconds, booleans as 0/1).


def _seed_sqlite(path: str, seeded: Seeded) -> None:
    connection = sqlite3.connect(path)
    try:
        with connection:
            connection.executemany(
                "INSERT INTO jobs (id, name, description, pipeline, labels, env, max_retries,"
                " next_build_number, created_at, updated_at, priority, cancel_previous,"
                " secrets_for_forks, fork_approval, trigger_events, branches, paths, schedules,"
                " public_badge, notifications)"
                " VALUES (?, ?, '', ?, '[]', '{}', 0, ?, ?, ?, 0, 0, 0, 0,"
                " '[\"push\", \"tag\", \"pull_request\"]', '[]', '[]', '[]', 0, '[]')",
                [
                    (
                        job_id.hex,
                        name,
                        _pipeline(name),
                        _job_count(seeded, n) + 1,
                        _sqlite_time(_oldest(seeded)),
                        _sqlite_time(_oldest(seeded)),
                    )
                    for n, (job_id, name) in enumerate(
                        zip(seeded.job_ids, seeded.job_names, strict=True)
                    )
                ],
            )
            connection.executemany(
                "INSERT INTO workers (id, name, hostname, ip, labels, executors, concurrency,"
                " version, token_hash, status, health_status, current_builds, registered_at,"
                " last_heartbeat, runs_steps_without_image, plugins)"
                " VALUES (?, ?, ?, '10.0.0.1', '[]', '[\"local\"]', 4, 'seed', ?, 'offline',"
                " 'healthy', 0, ?, ?, 1, '[]')",
                [
                    (
                        worker_id.hex,
                        name,
                        name,
                        uuid.uuid4().hex,
                        _sqlite_time(_oldest(seeded)),
                        _sqlite_time(seeded.now),
                    )
                    for worker_id, name in zip(seeded.worker_ids, WORKERS, strict=True)
                ],
            )
            now = _sqlite_time(seeded.now)
            connection.execute(_SQLITE_BUILDS, {"now": now, "builds": seeded.builds})
            connection.execute(_SQLITE_STEPS)
            connection.execute(_SQLITE_AUDIT, {"now": now, "events": seeded.audit_events})
            connection.execute(
                _SQLITE_DELIVERIES,
                {"now": now, "deliveries": seeded.deliveries, "body": DELIVERY_BODY},
            )
            connection.execute(_SQLITE_DELIVERY_JOBS)
        connection.execute("ANALYZE")
    finally:
        connection.close()


def _sqlite_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _sqlite_plus(base: str, seconds: str) -> str:
    """The SQLite time `seconds` (an expression) after `base`, in SQLAlchemy's format."""
    return f"(strftime('%Y-%m-%d %H:%M:%S', {base}, ({seconds}) || ' seconds') || '.000000')"


_SQLITE_UUID = "lower(hex(randomblob(16)))"
_SQLITE_BUILDS = f"""
WITH RECURSIVE series (i) AS (
    SELECT 0 UNION ALL SELECT i + 1 FROM series WHERE i + 1 < :builds
),
jobs_in_order AS (
    SELECT id, row_number() OVER (ORDER BY name) - 1 AS position,
        json_object('job_id', id, 'job_name', name, 'steps', json_array(
            json_object('name', 'build', 'commands', json_array('make build')),
            json_object('name', 'test', 'commands', json_array('make test')))
        ) AS spec
    FROM jobs
),
workers_in_order AS (
    SELECT id, row_number() OVER (ORDER BY name) - 1 AS position FROM workers
),
numbered AS (
    SELECT i, j.id AS job_id, j.spec, w.id AS worker,
        {_sqlite_plus(":now", f"-i * {SPACING_SECONDS}")} AS queued_at,
        {_outcome("i")} AS status, {_branch("i")} AS branch, {_trigger("i")} AS trigger,
        lower(hex(randomblob(20))) AS commit_sha,
        ((:builds - 1 - i % {JOBS}) / {JOBS}) - i / {JOBS} + 1 AS number,
        {_wait("i")} AS waited, {_duration("i")} AS duration
    FROM series
    JOIN jobs_in_order AS j ON j.position = i % {JOBS}
    JOIN workers_in_order AS w ON w.position = i % {len(WORKERS)}

)
INSERT INTO builds (id, job_id, number, status, branch, commit_sha, trigger, event, env,
    labels, spec, worker_id, attempt, queued_at, claimed_at, started_at, completed_at,
    exit_code, error_message, duration_seconds, commit_message, commit_author, log_bytes,
    log_truncated, from_fork, needs_step_without_image, hand_backs, awaiting_approval,
    reports_status, notifies)
SELECT {_SQLITE_UUID}, job_id, number, status, branch, commit_sha, trigger, trigger, '{{}}',
    '[]', spec, CASE WHEN status <> 'queued' THEN worker END, 1, queued_at,
    CASE WHEN status <> 'queued' THEN {_sqlite_plus("queued_at", "waited")} END,
    CASE WHEN status <> 'queued' THEN {_sqlite_plus("queued_at", "waited")} END,
    CASE WHEN status NOT IN ('queued', 'running')
        THEN {_sqlite_plus("queued_at", "waited + duration")} END,
    CASE status WHEN 'success' THEN 0 WHEN 'failure' THEN 1 END,
    CASE status WHEN 'error' THEN 'worker lost' END,
    CASE WHEN status NOT IN ('queued', 'running') THEN CAST(duration AS REAL) END,
    'Change ' || i, 'dev-' || (i % 12) || ' <dev@example.com>', 0, 0, 0, 0, 0, 0, 0, 0
FROM numbered
"""

_SQLITE_STEPS = f"""
INSERT INTO build_steps (id, build_id, position, name, status, exit_code, started_at,
    completed_at)
SELECT {_SQLITE_UUID}, b.id, s.position, s.name, {_STEP_STATUS}, {_STEP_EXIT_CODE},
    CASE WHEN s.position = 0 OR b.started_at IS NULL THEN b.started_at
        ELSE {_sqlite_plus("b.started_at", "CAST(coalesce(b.duration_seconds, 0) / 2 AS INT)")}
        END,
    CASE WHEN s.position = 0 AND b.started_at IS NOT NULL AND b.status <> 'error'
        THEN {_sqlite_plus("b.started_at", "CAST(coalesce(b.duration_seconds, 10) / 2 AS INT)")}
        ELSE b.completed_at END
FROM builds AS b
CROSS JOIN (SELECT 0 AS position, 'build' AS name UNION ALL SELECT 1, 'test') AS s
"""

_SQLITE_ACTIONS = " ".join(f"WHEN {n} THEN '{action}'" for n, action in enumerate(_AUDIT_ACTIONS))
_SQLITE_AUDIT = f"""
WITH RECURSIVE series (i) AS (
    SELECT :events - 1 WHERE :events > 0 UNION ALL SELECT i - 1 FROM series WHERE i > 0
)
INSERT INTO audit_events (at, actor_name, ip, action, target, outcome, details)
SELECT {_sqlite_plus(":now", f"-i * {SPACING_SECONDS * BUILDS_PER_AUDIT_EVENT}")},
    'dev-' || (i % 12), '10.0.1.' || (i % 200),
    CASE i % {len(_AUDIT_ACTIONS)} {_SQLITE_ACTIONS} END,
    'job:service-' || printf('%02d', i % {JOBS} + 1), 'success', '{{}}'
FROM series
"""

_SQLITE_DELIVERIES = f"""
WITH RECURSIVE series (i) AS (
    SELECT 0 WHERE :deliveries > 0 UNION ALL SELECT i + 1 FROM series WHERE i + 1 < :deliveries
),
jobs_in_order AS (
    SELECT id, row_number() OVER (ORDER BY name) - 1 AS position FROM jobs
)
INSERT INTO webhook_deliveries (id, forge, event, delivery_id, received_at, outcome,
    status_code, job_ids, build_ids, ignored, headers, body, body_truncated)
SELECT {_SQLITE_UUID}, 'github', 'push', lower(hex(randomblob(16))),
    {_sqlite_plus(":now", f"-i * {SPACING_SECONDS} - 1")}, 'accepted', 202,
    json_array(substr(j.id, 1, 8) || '-' || substr(j.id, 9, 4) || '-' || substr(j.id, 13, 4)
        || '-' || substr(j.id, 17, 4) || '-' || substr(j.id, 21)),
    '[]', '[]', '{{"X-GitHub-Event": "push"}}', :body, 0
FROM series
JOIN jobs_in_order AS j ON j.position = i % {JOBS}
"""
_SQLITE_DELIVERY_JOBS = """
INSERT INTO webhook_delivery_jobs (delivery_id, job_id, received_at)
SELECT id, replace(json_extract(job_ids, '$[0]'), '-', ''), received_at FROM webhook_deliveries
"""
