"""Every list the UI and the CLI page through reads one page from an index range, whatever the
table's size: the statements the API runs for each page are replayed under EXPLAIN on a
PostgreSQL database with a history in it, and a sequential scan of a history table, or a sort
of all its matching rows, fails.

The history (tens of thousands of builds, audit events and deliveries) is inserted with SQL and
analysed, so the planner chooses as it would on a big database: on a nearly empty table it
rightly prefers to read the whole table."""

import json
import uuid
from collections.abc import Iterator
from typing import Any

import asyncpg
import httpx
import pytest
import sqlalchemy as sa

from tests.integration.api_helpers import API, Headers, admin_headers

# The history tables: a page of any of them must not read the whole table.
HISTORY = {"builds", "audit_events", "webhook_deliveries", "webhook_delivery_jobs", "deployments"}
BUILDS = 40_000
JOBS = 20
EVENTS = 20_000
DELIVERIES = 20_000
# The largest page any list answers.
MAX_PAGE = 500

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


async def _seed(database_url: str) -> dict[str, Any]:
    """Jobs, a worker, builds of many branches and statuses one every 26 s going back from
    now, audit events, deliveries (each for one job), an environment with deployments."""
    connection = await asyncpg.connect(database_url.replace("+asyncpg", ""))
    try:
        worker = uuid.uuid4()
        await connection.execute(
            "INSERT INTO workers (id, name, hostname, ip, labels, executors, concurrency,"
            " version, token_hash, status, health_status, current_builds, registered_at,"
            " last_heartbeat) VALUES ($1, 'w', '', '', '[]', '[]', 1, '', $2, 'online',"
            " 'healthy', 0, now(), now())",
            worker,
            uuid.uuid4().hex,
        )
        await connection.execute(
            "INSERT INTO jobs (id, name, description, labels, env, max_retries,"
            " next_build_number, created_at, updated_at)"
            " SELECT gen_random_uuid(), 'job-' || j, '', '[]', '{}', 0, $1 + 1, now(), now()"
            " FROM generate_series(1, $2) AS j",
            BUILDS // JOBS,
            JOBS,
        )
        await connection.execute(
            """
            INSERT INTO builds (id, job_id, number, status, branch, trigger, event, env,
                                labels, spec, attempt, queued_at, started_at, completed_at,
                                duration_seconds, worker_id, log_bytes, log_truncated)
            SELECT gen_random_uuid(), jobs.id, (i / $2) + 1,
                   (ARRAY['success', 'success', 'success', 'failure', 'error',
                          'cancelled'])[i % 6 + 1],
                   (ARRAY['main', 'main', 'release', 'feature-' || (i % 97)])[i % 4 + 1],
                   'push', 'push', '{}', '[]', '{}', 1,
                   now() - make_interval(secs => 26 * ($1 - i)),
                   now() - make_interval(secs => 26 * ($1 - i) - 2),
                   now() - make_interval(secs => 26 * ($1 - i) - 20),
                   18.0, CASE WHEN i % 50 = 0 THEN $3::uuid END, 0, false
            FROM generate_series(0, $1 - 1) AS i
            JOIN jobs ON jobs.name = 'job-' || (i % $2 + 1)
            """,
            BUILDS,
            JOBS,
            worker,
        )
        await connection.execute(
            "INSERT INTO audit_events (at, actor_name, action, target, outcome, details)"
            " SELECT now() - make_interval(secs => $1 - i),"
            " (ARRAY['admin', 'alice', 'bob'])[i % 3 + 1],"
            " (ARRAY['job.update', 'build.trigger', 'build.cancel', 'auth.login'])[i % 4 + 1],"
            " 'job:x', 'success', '{}' FROM generate_series(1, $1) AS i",
            EVENTS,
        )
        await connection.execute(
            "INSERT INTO webhook_deliveries (id, forge, event, received_at, outcome,"
            " status_code, job_ids, build_ids, ignored, headers, body, body_truncated)"
            " SELECT gen_random_uuid(), 'github', 'push', now() - make_interval(secs => $1 - i),"
            " 'accepted', 202, '[]', '[]', '[]', '{}', '', false"
            " FROM generate_series(1, $1) AS i",
            DELIVERIES,
        )
        await connection.execute(
            "INSERT INTO webhook_delivery_jobs (delivery_id, job_id, received_at)"
            " SELECT d.id, (SELECT id FROM jobs ORDER BY name LIMIT 1 OFFSET"
            " (abs(hashtext(d.id::text)) % $1)), d.received_at FROM webhook_deliveries d",
            JOBS,
        )
        environment = uuid.uuid4()
        await connection.execute(
            "INSERT INTO environments (id, name, created_at, updated_at)"
            " VALUES ($1, 'production', now(), now())",
            environment,
        )
        await connection.execute(
            "INSERT INTO deployments (id, environment_id, number, kind, status, version,"
            " rollback_policy, rollout_timeout_seconds, approval_required, created_at, log,"
            " finished_at) SELECT gen_random_uuid(), $1, n, 'deploy', 'succeeded',"
            " 'v' || n, 'manual', 600, false, now() - make_interval(secs => 5000 - n), '[]',"
            " now() - make_interval(secs => 5000 - n) FROM generate_series(1, 5000) AS n",
            environment,
        )
        await connection.execute("ANALYZE")
        job = await connection.fetchval("SELECT id FROM jobs ORDER BY name LIMIT 1")
        return {"worker": worker, "job": job}
    finally:
        await connection.close()


class Statements:
    """The SQL the app sends while a block runs, as the driver receives it."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, Any]] = []

    def record(self, _conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        self.seen.append((statement, parameters))

    def take(self) -> list[tuple[str, Any]]:
        taken, self.seen = self.seen, []
        return taken


@pytest.fixture
def statements() -> Iterator[Statements]:
    recorder = Statements()
    sa.event.listen(sa.engine.Engine, "before_cursor_execute", recorder.record)
    yield recorder
    sa.event.remove(sa.engine.Engine, "before_cursor_execute", recorder.record)


def _scans(plan: dict[str, Any], under_sort: bool = False) -> Iterator[tuple[str, str, bool]]:
    """(node type, relation, whether it feeds a sort of more rows than a page) for every node
    of a plan: a sort of the one build a job's number names is no full read."""
    node_type = plan["Node Type"]
    yield node_type, plan.get("Relation Name", ""), under_sort and plan["Plan Rows"] > MAX_PAGE
    for child in plan.get("Plans", []):
        yield from _scans(child, under_sort or node_type in ("Sort", "Incremental Sort"))


async def _full_reads(database_url: str, statements: list[tuple[str, Any]]) -> list[str]:
    """Each statement that reads a history table whole, with the offending plan node."""
    problems = []
    connection = await asyncpg.connect(database_url.replace("+asyncpg", ""))
    try:
        for statement, parameters in statements:
            if not statement.lstrip().upper().startswith("SELECT"):
                continue
            explained = await connection.fetchval(
                f"EXPLAIN (FORMAT JSON) {statement}", *(parameters or ())
            )
            plan = json.loads(explained)[0]["Plan"]
            for node_type, relation, under_sort in _scans(plan):
                if relation not in HISTORY:
                    continue
                if node_type == "Seq Scan" or under_sort:
                    what = "a sort of" if under_sort else node_type
                    problems.append(f"{what} {relation} in\n{statement}")
    finally:
        await connection.close()
    return problems


async def _pages(http: httpx.AsyncClient, path: str, headers: Headers, pages: int) -> None:
    """Read `pages` pages of a list by its cursor."""
    params: dict[str, Any] = {}
    for _ in range(pages):
        response = await http.get(f"{API}{path}", params=params, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        cursor = body.get("next_cursor") or body.get("next_before_id")
        assert cursor is not None, f"{path} has fewer than {pages} pages"
        params = {"before_id": cursor} if "next_before_id" in body else {"cursor": cursor}


async def test_every_page_of_every_list_is_an_index_range(
    client: httpx.AsyncClient, database_url: str, statements: Statements
) -> None:
    seeded = await _seed(database_url)
    headers = await admin_headers(client)
    job, worker = seeded["job"], seeded["worker"]
    lists = {
        "builds": "/builds",
        "builds of a job": f"/builds?job_id={job}",
        "builds of a status": "/builds?status=failure",
        "builds of a branch": "/builds?branch=release",
        "builds of a worker": f"/builds?worker_id={worker}",
        "builds of a job's status": f"/builds?job_id={job}&status=failure",
        "audit log": "/audit",
        "audit log of an action": "/audit?action=build.cancel",
        "audit log of an actor": "/audit?actor=alice",
        "deliveries": "/hooks/deliveries",
        "deliveries of a job": f"/hooks/deliveries?job_id={job}",
        "an environment's deployments": "/environments/production",
    }
    problems = {}
    for name, path in lists.items():
        statements.take()
        await _pages(client, path, headers, pages=3)
        found = await _full_reads(database_url, statements.take())
        if found:
            problems[name] = found
    # The CLI's job#N.
    response = await client.get(
        f"{API}/builds", params={"job_id": str(job), "number": 7}, headers=headers
    )
    assert [build["number"] for build in response.json()["items"]] == [7]
    found = await _full_reads(database_url, statements.take())
    if found:
        problems["a job's build by number"] = found
    assert not problems, "\n\n".join(
        f"{name}:\n" + "\n".join(found) for name, found in problems.items()
    )
