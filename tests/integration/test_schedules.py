"""Job schedules: validation at the edge, and exactly one build per due time.

The schedule round (`start_due_schedules`) is driven directly with a chosen "now", so the
tests never wait for a clock. The chosen times are in the coming calendar year (`YEAR`), never
fixed dates: a schedule counts from when it was saved, on the real clock, so a "now" that the
real clock has passed would find nothing due. The schedules chosen come due only on the first
of a month, so the server's own background loop (running on the real clock in the same app)
finds nothing due meanwhile."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from solvyd.server.db.models import Build, Job, ScheduleRun
from solvyd.server.services.context import ServerContext
from solvyd.server.services.schedules import prune_schedule_runs, start_due_schedules
from tests.integration.api_helpers import (
    API,
    Headers,
    admin_headers,
    assert_error,
    create_job,
    get_build,
    unique,
)

MONTHLY = "0 3 1 * *"  # 03:00 on the first of each month
# Always ahead of the real clock, so ahead of when each test's schedules are saved.
YEAR = datetime.now(UTC).year + 1
NEW_YEAR = datetime(YEAR, 1, 1, 3, 0, tzinfo=UTC)


@pytest.fixture
async def admin(client: httpx.AsyncClient) -> Headers:
    return await admin_headers(client)


def _ctx(client: httpx.AsyncClient) -> ServerContext:
    ctx: ServerContext = client.app.state.ctx  # type: ignore[attr-defined]
    return ctx


async def _jobs_named(client: httpx.AsyncClient, admin: Headers, name: str) -> list[Any]:
    response = await client.get(f"{API}/jobs", headers=admin, params={"name": name})
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


async def _builds_of(client: httpx.AsyncClient, job_id: str) -> list[Build]:
    async with _ctx(client).db.transaction() as session:
        return list(
            await session.scalars(
                sa.select(Build).where(Build.job_id == uuid.UUID(job_id)).order_by(Build.number)
            )
        )


# --- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schedules", "words"),
    [
        ([{"cron": "61 * * * *"}], ["schedules.0.cron", "no valid cron expression"]),
        ([{"cron": "0 3 * *"}], ["schedules.0.cron", "five fields"]),
        ([{"cron": "0 0 3 * * *"}], ["schedules.0.cron", "five fields"]),  # seconds: refused
        ([{"cron": "0 0 31 2 *"}], ["schedules.0.cron", "never comes due"]),
        (
            [{"cron": MONTHLY}, {"cron": "0 3 * * *", "timezone": "Mars/Olympus_Mons"}],
            ["schedules.1.timezone", "unknown time zone"],
        ),
        ([{"cron": MONTHLY, "env": {"A": 1}}], ["schedules.0.env.A"]),
        ([{"cron": MONTHLY, "when": "never"}], ["schedules.0.when"]),
        ([{"cron": MONTHLY}, {"cron": MONTHLY}], ["schedules", "repeats schedule 0"]),
        ([{"cron": f"{minute} 3 * * *"} for minute in range(21)], ["schedules", "at most 20"]),
    ],
)
async def test_a_bad_schedule_is_refused_and_nothing_saved(
    client: httpx.AsyncClient, admin: Headers, schedules: list[Any], words: list[str]
) -> None:
    name = unique("sched")
    response = await client.post(
        f"{API}/jobs",
        headers=admin,
        json={
            "name": name,
            "pipeline": "steps:\n  - name: a\n    commands: [echo hi]\n",
            "schedules": schedules,
        },
    )
    message = assert_error(response, 422)
    for word in words:
        assert word in message, message
    assert await _jobs_named(client, admin, name) == []

    job = await create_job(client, admin, schedules=[{"cron": MONTHLY}])
    response = await client.patch(
        f"{API}/jobs/{job['id']}", headers=admin, json={"schedules": schedules}
    )
    assert_error(response, 422)
    (stored,) = await _jobs_named(client, admin, job["name"])
    assert [s["cron"] for s in stored["schedules"]] == [MONTHLY]


async def test_job_read_shows_each_schedules_next_run_and_the_soonest(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    job = await create_job(
        client,
        admin,
        schedules=[
            {"cron": "0 3 1 1 *"},  # 03:00 UTC on 1 January
            {"cron": "0 3 1 1 *", "timezone": "Europe/Berlin", "branch": "nightly"},
        ],
        public_badge=True,
    )
    assert job["public_badge"] is True
    utc, berlin = job["schedules"]
    # The next 1 January, on the real clock (in its first hours, this year's may be ahead).
    year = datetime.now(UTC).year
    if datetime.now(UTC) >= datetime(year, 1, 1, 2, 0, tzinfo=UTC):
        year += 1
    assert utc["timezone"] == "UTC"
    assert utc["next_run_at"] == f"{year}-01-01T03:00:00Z"
    assert berlin["next_run_at"] == f"{year}-01-01T02:00:00Z"  # CET is UTC+1 in winter
    assert berlin["branch"] == "nightly"
    assert job["next_run_at"] == f"{year}-01-01T02:00:00Z"

    cleared = await client.patch(f"{API}/jobs/{job['id']}", headers=admin, json={"schedules": []})
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["schedules"] == []
    assert cleared.json()["next_run_at"] is None
    refused = await client.patch(f"{API}/jobs/{job['id']}", headers=admin, json={"schedules": None})
    assert "schedules cannot be null" in assert_error(refused, 422)


# --- exactly once ----------------------------------------------------------------------------


async def test_a_due_schedule_starts_exactly_one_cron_build(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    job = await create_job(
        client,
        admin,
        branch="main",
        env={"FROM_JOB": "1"},
        schedules=[{"cron": MONTHLY, "branch": "nightly", "env": {"FROM_SCHEDULE": "2"}}],
    )
    ctx = _ctx(client)

    before = await start_due_schedules(ctx, NEW_YEAR - timedelta(seconds=1))
    assert before.started == []
    assert before.next_due_at == NEW_YEAR

    first = await start_due_schedules(ctx, NEW_YEAR)
    assert len(first.started) == 1
    assert first.next_due_at == datetime(YEAR, 2, 1, 3, 0, tzinfo=UTC)
    build = await get_build(client, admin, str(first.started[0]))
    assert build["status"] == "queued"
    assert build["branch"] == "nightly"
    (row,) = await _builds_of(client, job["id"])
    assert row.trigger == "cron"
    assert row.triggered_by is None
    assert row.spec is not None
    assert row.spec["event"] == "cron"
    assert row.spec["env"]["FROM_JOB"] == "1"
    assert row.spec["env"]["FROM_SCHEDULE"] == "2"

    # Later rounds at or after the same due time start nothing more.
    for later in (NEW_YEAR, NEW_YEAR + timedelta(seconds=30), NEW_YEAR + timedelta(days=3)):
        assert (await start_due_schedules(ctx, later)).started == []
    assert len(await _builds_of(client, job["id"])) == 1
    async with ctx.db.transaction() as session:
        (run,) = await session.scalars(sa.select(ScheduleRun))
    assert run.due_at == NEW_YEAR
    assert str(run.build_id) == build["id"]
    assert run.error is None


async def test_rounds_at_once_start_one_build(client: httpx.AsyncClient, admin: Headers) -> None:
    """Two rounds racing (as two server processes do) start one build between them."""
    job = await create_job(client, admin, schedules=[{"cron": MONTHLY}])
    ctx = _ctx(client)
    rounds = await asyncio.gather(*(start_due_schedules(ctx, NEW_YEAR) for _ in range(4)))
    assert sum(len(r.started) for r in rounds) == 1
    assert len(await _builds_of(client, job["id"])) == 1


async def test_after_downtime_only_the_latest_missed_due_time_starts(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    job = await create_job(client, admin, schedules=[{"cron": MONTHLY}])
    ctx = _ctx(client)
    # Down from now until mid-May of next year: five due times missed (January to May).
    back = datetime(YEAR, 5, 14, 12, 0, tzinfo=UTC)
    assert len((await start_due_schedules(ctx, back)).started) == 1
    assert (await start_due_schedules(ctx, back)).started == []
    async with ctx.db.transaction() as session:
        (run,) = await session.scalars(sa.select(ScheduleRun))
    assert run.due_at == datetime(YEAR, 5, 1, 3, 0, tzinfo=UTC)
    # The next due time after that is a new one: one more build.
    june = datetime(YEAR, 6, 1, 3, 0, 5, tzinfo=UTC)
    assert len((await start_due_schedules(ctx, june)).started) == 1
    assert len(await _builds_of(client, job["id"])) == 2


async def test_a_schedule_in_a_time_zone_comes_due_at_its_local_time(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    job = await create_job(
        client, admin, schedules=[{"cron": MONTHLY, "timezone": "Europe/Berlin"}]
    )
    ctx = _ctx(client)
    assert (await start_due_schedules(ctx, datetime(YEAR, 1, 1, 1, 59, tzinfo=UTC))).started == []
    assert (
        len((await start_due_schedules(ctx, datetime(YEAR, 1, 1, 2, 0, tzinfo=UTC))).started) == 1
    )
    # In summer Berlin is UTC+2.
    july = await start_due_schedules(ctx, datetime(YEAR, 7, 1, 1, 0, tzinfo=UTC))
    assert len(july.started) == 1
    assert len(await _builds_of(client, job["id"])) == 2


async def test_a_changed_schedule_starts_from_the_change(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    """A new or changed schedule never starts the due times before it was set."""
    job = await create_job(client, admin, schedules=[{"cron": MONTHLY}])
    ctx = _ctx(client)
    assert len((await start_due_schedules(ctx, NEW_YEAR)).started) == 1
    # A schedule set now, due every minute: its due times up to the moment it was saved (the
    # last one under a minute before) start nothing. Judged at that moment, not a later read
    # of the clock, which a minute's turn may already have passed.
    changed = await client.patch(
        f"{API}/jobs/{job['id']}", headers=admin, json={"schedules": [{"cron": "* * * * *"}]}
    )
    assert changed.status_code == 200, changed.text
    async with ctx.db.transaction() as session:
        saved_at = await session.scalar(
            sa.select(Job.schedules_since).where(Job.id == uuid.UUID(job["id"]))
        )
    assert saved_at is not None
    assert (await start_due_schedules(ctx, saved_at)).started == []


async def test_a_pipeline_that_fails_to_plan_is_recorded_once(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    # A step named like the repository's checkout plans into an error, at trigger time.
    job = await create_job(
        client,
        admin,
        scm_url="https://git.example/team/app.git",
        pipeline="steps:\n  - name: checkout\n    commands: [echo hi]\n",
        schedules=[{"cron": MONTHLY}],
    )
    ctx = _ctx(client)
    assert (await start_due_schedules(ctx, NEW_YEAR)).started == []
    assert (await start_due_schedules(ctx, NEW_YEAR + timedelta(seconds=15))).started == []
    async with ctx.db.transaction() as session:
        (run,) = await session.scalars(sa.select(ScheduleRun))
    assert run.build_id is None
    assert run.error is not None and "checkout" in run.error
    assert await _builds_of(client, job["id"]) == []


async def test_old_runs_are_pruned_but_each_schedules_newest_is_kept(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    job = await create_job(client, admin, schedules=[{"cron": MONTHLY}, {"cron": "0 4 1 1 *"}])
    ctx = _ctx(client)
    for month in (1, 2, 3):
        await start_due_schedules(ctx, datetime(YEAR, month, 1, 5, 0, tzinfo=UTC))
    assert len(await _builds_of(client, job["id"])) == 4  # three monthly, one yearly
    # In mid-May: January and February's monthly runs are older than 30 days and not the
    # newest; March's is the newest monthly one, January's the newest yearly one.
    may = datetime(YEAR, 5, 14, tzinfo=UTC)
    assert await prune_schedule_runs(ctx, may) == 2
    async with ctx.db.transaction() as session:
        kept = sorted(await session.scalars(sa.select(ScheduleRun.due_at)))
    assert kept == [datetime(YEAR, 1, 1, 4, 0, tzinfo=UTC), datetime(YEAR, 3, 1, 3, 0, tzinfo=UTC)]
    # Nothing handled is started again.
    assert (await start_due_schedules(ctx, datetime(YEAR, 3, 20, tzinfo=UTC))).started == []
