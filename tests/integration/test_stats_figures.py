"""GET /stats computes its figures in the database: they equal what Python's `statistics`
gives for the same builds. The builds are rows inserted with chosen statuses, times (to the
microsecond, about UTC midnights and the window's start) and durations, since a real build's
times are the clock's; the expected figures are computed here from those rows. PostgreSQL
runs in a time zone far from UTC, as a server set up with its machine's zone may."""

import asyncio
import statistics
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any

import asyncpg
import httpx
import pytest

from solvyd.server.db.models import Build
from solvyd.server.services.stats import window_start
from solvyd.server.settings import ServerSettings
from solvyd.shared.clock import utcnow
from tests.integration.api_helpers import API, Headers, admin_headers, create_job

ENDED = {"success", "failure", "error"}
# PostgreSQL's percentile_cont interpolates as lo + (hi - lo) * fraction, Python as
# (lo * (100 - d) + hi * d) / 100: equal but for the last bits.
CLOSE = {"rel": 1e-12, "abs": 1e-12}


async def _set_time_zone(database_url: str, zone: str) -> None:
    connection = await asyncpg.connect(database_url)
    try:
        name = await connection.fetchval("SELECT current_database()")
        await connection.execute(f"ALTER DATABASE \"{name}\" SET timezone TO '{zone}'")
    finally:
        await connection.close()


@pytest.fixture
def settings(settings: ServerSettings, database_url: str) -> ServerSettings:
    """The server's settings, its PostgreSQL at UTC+14, where 23:30 UTC is tomorrow."""
    if database_url.startswith("postgresql"):
        asyncio.run(_set_time_zone(database_url, "Pacific/Kiritimati"))
    return settings


@dataclass(frozen=True)
class Row:
    job: str
    number: int
    status: str
    queued_at: datetime
    # Seconds from queued to started; None: not started.
    waited: float | None = None
    duration: float | None = None

    @property
    def started_at(self) -> datetime | None:
        return None if self.waited is None else self.queued_at + timedelta(seconds=self.waited)


def _rows(first_day: date) -> list[Row]:
    start = datetime.combine(first_day, time.min, tzinfo=UTC)
    day = timedelta(days=1)
    tick = timedelta(microseconds=1)
    half_hour = timedelta(minutes=30)
    east = timezone(timedelta(hours=5))
    return [
        # Three ended builds with durations: an odd count, its median the middle one.
        Row("odd", 1, "success", start, 1.25, 12.5),  # the window's first instant
        Row("odd", 2, "failure", start + 2 * day - tick, 0.000001, 3.0),
        Row("odd", 3, "error", start + 2 * day, 30.5, 40.25),
        Row("odd", 4, "cancelled", start + 3 * day, 4.75, 1000.0),
        Row("odd", 5, "running", start + 3 * day + timedelta(hours=5), 0.333333),
        Row("odd", 6, "queued", start + 4 * day),
        Row("odd", 7, "success", start - tick, 1.0, 99999.0),  # just before the window
        # Four with durations, an even count; one success without a duration.
        Row("even", 1, "success", start + day, 2.0, 1.5),
        Row("even", 2, "failure", start + day + timedelta(hours=23), 7.125, 10.25),
        Row("even", 3, "success", start + 3 * day, -2.0, 7.0),  # a skewed clock: waited 0
        Row("even", 4, "error", start + 4 * day, 0.5, 2.0),
        Row("even", 5, "success", start + 4 * day + timedelta(hours=1), 3.0),
        # The newest by number, though queued before #5.
        Row("even", 6, "cancelled", start + 4 * day, 0.25),
        # One duration; its build queued at 23:30 UTC, 04:30 the next day on a UTC+5 clock.
        Row("single", 1, "failure", (start + 5 * day - half_hour).astimezone(east), 60.0, 8.0),
        # Builds, none ended with a duration.
        Row("undecided", 1, "cancelled", start + 2 * day + timedelta(hours=12)),
        # Waited over a day (for an approval, say).
        Row("undecided", 2, "running", start + 2 * day + timedelta(hours=13), 90061.000007),
        Row("undecided", 3, "queued", start + 6 * day + timedelta(microseconds=500)),
        # Only builds before the window: none counted, the newest still its last.
        Row("former", 1, "success", start - 3 * day, 9.0, 50.0),
        Row("former", 2, "failure", start - 2 * day, 11.0, 70.0),
    ]


async def _insert(client: httpx.AsyncClient, job_ids: dict[str, str], rows: list[Row]) -> None:
    ctx = client.app.state.ctx  # type: ignore[attr-defined]
    async with ctx.db.transaction() as session:
        session.add_all(
            Build(
                job_id=uuid.UUID(job_ids[row.job]),
                number=row.number,
                status=row.status,
                queued_at=row.queued_at,
                started_at=row.started_at,
                duration_seconds=row.duration,
            )
            for row in rows
        )


async def _stats(client: httpx.AsyncClient, headers: Headers, days: int) -> dict[str, Any]:
    response = await client.get(f"{API}/stats", headers=headers, params={"days": days})
    assert response.status_code == 200, response.text
    return dict(response.json())


def _percentile(values: list[float], pct: int) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1]


async def test_figures_equal_the_arithmetic_of_statistics(client: httpx.AsyncClient) -> None:
    admin = await admin_headers(client)
    days = 7
    first_day = window_start(utcnow(), days)
    job_ids = {
        name: (await create_job(client, admin, name))["id"]
        for name in ("odd", "even", "single", "undecided", "former", "idle")
    }
    rows = _rows(first_day)
    await _insert(client, job_ids, rows)

    stats = await _stats(client, admin, days)
    if stats["daily"][0]["date"] != first_day.isoformat():
        pytest.skip("UTC midnight passed during the test")  # the window moved under it

    since = datetime.combine(first_day, time.min, tzinfo=UTC)
    window = [row for row in rows if row.queued_at >= since]
    waited = [max(0.0, row.waited) for row in window if row.waited is not None]
    assert len(waited) > 2
    assert stats["queue_seconds_p50"] == pytest.approx(_percentile(waited, 50), **CLOSE)
    assert stats["queue_seconds_p95"] == pytest.approx(_percentile(waited, 95), **CLOSE)

    assert [job["job_name"] for job in stats["jobs"]] == sorted(job_ids)
    for job in stats["jobs"]:
        name = job["job_name"]
        mine = [row for row in window if row.job == name]
        ended = [row for row in mine if row.status in ENDED]
        durations = [row.duration for row in ended if row.duration is not None]
        succeeded = sum(row.status == "success" for row in mine)
        newest = max(
            (row for row in rows if row.job == name), key=lambda row: row.number, default=None
        )
        assert job["job_id"] == job_ids[name]
        assert (job["builds"], job["succeeded"], job["failed"]) == (
            len(mine),
            succeeded,
            len(ended) - succeeded,
        ), name
        assert job["success_rate"] == (succeeded / len(ended) if ended else None), name
        if durations:
            assert job["median_duration_seconds"] == pytest.approx(
                statistics.median(durations), **CLOSE
            ), name
        else:
            assert job["median_duration_seconds"] is None, name
        assert job["last_status"] == (newest.status if newest else None), name
        assert (job["last_build_id"] is None) == (newest is None), name
    # The cases the rows were chosen for.
    counts = {
        job["job_name"]: sum(
            row.duration is not None and row.status in ENDED
            for row in window
            if row.job == job["job_name"]
        )
        for job in stats["jobs"]
    }
    assert counts == {"odd": 3, "even": 4, "single": 1, "undecided": 0, "former": 0, "idle": 0}

    expected_days: dict[date, Counter[str]] = {
        first_day + timedelta(days=offset): Counter() for offset in range(days)
    }
    for row in window:
        kind = {"success": "success", "failure": "failure", "error": "failure"}
        expected_days[row.queued_at.astimezone(UTC).date()][kind.get(row.status, "other")] += 1
    assert stats["daily"] == [
        {
            "date": day.isoformat(),
            "success": counted["success"],
            "failure": counted["failure"],
            "other": counted["other"],
        }
        for day, counted in expected_days.items()
    ]
    assert any(not counted for counted in expected_days.values())  # a day without builds


async def test_one_started_build_is_every_percentile(client: httpx.AsyncClient) -> None:
    """Its one wait is every percentile; started before it was queued (a worker's clock
    behind the server's), it waited no time."""
    admin = await admin_headers(client)
    job = await create_job(client, admin, "solo")
    today = window_start(utcnow(), 1)
    midnight = datetime.combine(today, time.min, tzinfo=UTC)
    await _insert(
        client,
        {"solo": job["id"]},
        [
            Row("solo", 1, "success", midnight, -0.75, 30.0),
            Row("solo", 2, "queued", midnight + timedelta(microseconds=1)),
            # Queued yesterday, started today: not in the window.
            Row("solo", 3, "success", midnight - timedelta(hours=1), 7200.0, 60.0),
        ],
    )
    stats = await _stats(client, admin, 1)
    if stats["daily"][0]["date"] != today.isoformat():
        pytest.skip("UTC midnight passed during the test")
    assert (stats["queue_seconds_p50"], stats["queue_seconds_p95"]) == (0.0, 0.0)
    [solo] = stats["jobs"]
    assert (solo["builds"], solo["median_duration_seconds"]) == (2, 30.0)
