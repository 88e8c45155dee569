"""GET /stats: builds and workers now, and for a window of days how builds ended, per job and
per day, and how long they waited in the queue. The builds are driven through the API by a
worker as an agent would; only "days ago" and "silent for long" are made by moving a time back
in the database."""

import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from solvyd.server.db.models import Build, Worker
from solvyd.server.services.builds.reap import reap_lost_workers
from tests.integration.api_helpers import (
    API,
    Headers,
    admin_headers,
    assert_error,
    claim_build,
    create_job,
    register_worker,
    set_status,
    trigger,
    user_headers,
)
from tests.integration.api_helpers import Worker as ApiWorker


@pytest.fixture
async def admin(client: httpx.AsyncClient) -> Headers:
    return await admin_headers(client)


def _at(build: dict[str, Any], seconds: float) -> str:
    """`seconds` after the build was queued."""
    return (datetime.fromisoformat(build["queued_at"]) + timedelta(seconds=seconds)).isoformat()


async def _run(
    client: httpx.AsyncClient,
    admin: Headers,
    worker: ApiWorker,
    job: dict[str, Any],
    queued_for: float,
    final: dict[str, Any] | None,
) -> dict[str, Any]:
    """Trigger a build of `job`; `worker` claims it, starts it `queued_for` seconds after it
    was queued, and reports `final` (None: it goes on running)."""
    build = await trigger(client, admin, job["id"])
    assert (await claim_build(client, worker))["build_id"] == build["id"]
    started = await set_status(
        client, worker, build["id"], "running", started_at=_at(build, queued_for)
    )
    assert started.status_code == 200, started.text
    if final is not None:
        ended = await set_status(client, worker, build["id"], **final)
        assert ended.status_code == 200, ended.text
    return build


async def _stats(client: httpx.AsyncClient, headers: Headers, **params: Any) -> dict[str, Any]:
    response = await client.get(f"{API}/stats", headers=headers, params=params)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_stats_count_builds_workers_outcomes_and_queue_times(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    ctx = client.app.state.ctx  # type: ignore[attr-defined]
    alpha = await create_job(client, admin, "alpha")
    beta = await create_job(client, admin, "beta")
    gamma = await create_job(client, admin, "gamma")
    # No worker has this label: its build stays queued.
    delta = await create_job(client, admin, "delta", labels=["nowhere"])
    runner = await register_worker(client, "runner")

    a1 = await _run(client, admin, runner, alpha, 2, {"status": "success", "duration_seconds": 10})
    await _run(
        client,
        admin,
        runner,
        alpha,
        4,
        {"status": "failure", "exit_code": 1, "duration_seconds": 30},
    )
    a3 = await trigger(client, admin, alpha["id"])
    assert (await client.post(f"{API}/builds/{a3['id']}/cancel", headers=admin)).status_code == 200
    b1 = await _run(
        client,
        admin,
        runner,
        beta,
        8,
        {"status": "error", "error_message": "executor failed", "duration_seconds": 5},
    )
    a4 = await _run(client, admin, runner, alpha, 6, None)
    d1 = await trigger(client, admin, delta["id"])
    # Queued ten days ago, and cancelled.
    g1 = await trigger(client, admin, gamma["id"])
    assert (await client.post(f"{API}/builds/{g1['id']}/cancel", headers=admin)).status_code == 200
    ten_days_ago = datetime.fromisoformat(g1["queued_at"]) - timedelta(days=10)
    async with ctx.db.transaction() as session:
        await session.execute(
            sa.update(Build).where(Build.id == uuid.UUID(g1["id"])).values(queued_at=ten_days_ago)
        )

    beat = await client.post(
        f"{API}/workers/{runner.id}/heartbeat", headers=runner.headers, json={"current_builds": 1}
    )
    assert beat.status_code == 200, beat.text
    drained = await register_worker(client, "drained")
    assert (
        await client.post(f"{API}/workers/{drained.id}/drain", headers=admin)
    ).status_code == 200
    await register_worker(client, "idle")
    lost = await register_worker(client, "lost")
    async with ctx.db.transaction() as session:
        await session.execute(
            sa.update(Worker)
            .where(Worker.id == uuid.UUID(lost.id))
            .values(last_heartbeat=ten_days_ago)
        )
    await reap_lost_workers(ctx)

    viewer = await user_headers(client, admin, "viewer")
    stats = await _stats(client, viewer)
    assert stats["days"] == 7
    assert (stats["builds_running"], stats["builds_queued"]) == (1, 1)
    workers = {key: stats[f"workers_{key}"] for key in ("online", "busy", "draining", "offline")}
    assert workers == {"online": 2, "busy": 1, "draining": 1, "offline": 1}
    # Queued 2, 4, 8 and 6 s before they started.
    assert stats["queue_seconds_p50"] == pytest.approx(5.0, abs=0.01)
    assert stats["queue_seconds_p95"] == pytest.approx(7.7, abs=0.01)

    jobs = {job["job_name"]: job for job in stats["jobs"]}
    assert [job["job_name"] for job in stats["jobs"]] == ["alpha", "beta", "delta", "gamma"]
    assert jobs["alpha"] == {
        "job_id": alpha["id"],
        "job_name": "alpha",
        "builds": 4,
        "succeeded": 1,
        "failed": 1,
        "success_rate": 0.5,
        "median_duration_seconds": 20.0,
        "last_status": "running",
        "last_build_id": a4["id"],
    }
    assert {key: jobs["beta"][key] for key in ("builds", "succeeded", "failed")} == {
        "builds": 1,
        "succeeded": 0,
        "failed": 1,
    }
    assert (jobs["beta"]["success_rate"], jobs["beta"]["median_duration_seconds"]) == (0.0, 5.0)
    assert (jobs["beta"]["last_status"], jobs["beta"]["last_build_id"]) == ("error", b1["id"])
    assert (jobs["delta"]["builds"], jobs["delta"]["success_rate"]) == (1, None)
    assert (jobs["delta"]["last_status"], jobs["delta"]["last_build_id"]) == ("queued", d1["id"])
    # Its one build is older than the window: none counted, but it is still the last one.
    assert jobs["gamma"]["builds"] == 0
    assert jobs["gamma"]["success_rate"] is None
    assert jobs["gamma"]["median_duration_seconds"] is None
    assert (jobs["gamma"]["last_status"], jobs["gamma"]["last_build_id"]) == ("cancelled", g1["id"])

    daily = stats["daily"]
    dates = [datetime.fromisoformat(day["date"]).date() for day in daily]
    assert len(daily) == 7
    assert dates == sorted(dates) and (dates[-1] - dates[0]).days == 6
    today = datetime.fromisoformat(a1["queued_at"]).date()
    totals = {key: sum(day[key] for day in daily) for key in ("success", "failure", "other")}
    # success a1; failure a2 and b1 (error); other a3 (cancelled), a4 (running), d1 (queued).
    assert totals == {"success": 1, "failure": 2, "other": 3}
    assert today in dates

    month = await _stats(client, viewer, days=30)
    assert len(month["daily"]) == 30
    [old_day] = [day for day in month["daily"] if day["date"] == ten_days_ago.date().isoformat()]
    assert old_day == {
        "date": ten_days_ago.date().isoformat(),
        "success": 0,
        "failure": 0,
        "other": 1,
    }
    assert {job["job_name"]: job["builds"] for job in month["jobs"]}["gamma"] == 1


async def test_stats_of_an_empty_server_and_the_window_bounds(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    job = await create_job(client, admin)
    stats = await _stats(client, admin, days=1)
    assert stats["days"] == 1
    assert (stats["queue_seconds_p50"], stats["queue_seconds_p95"]) == (None, None)
    assert stats["jobs"] == [
        {
            "job_id": job["id"],
            "job_name": job["name"],
            "builds": 0,
            "succeeded": 0,
            "failed": 0,
            "success_rate": None,
            "median_duration_seconds": None,
            "last_status": None,
            "last_build_id": None,
        }
    ]
    [day] = stats["daily"]
    assert (day["success"], day["failure"], day["other"]) == (0, 0, 0)
    assert (await _stats(client, admin, days=90))["days"] == 90
    for days in (0, 91, "x"):
        assert_error(await client.get(f"{API}/stats", headers=admin, params={"days": days}), 422)
    assert_error(await client.get(f"{API}/stats"), 401)
