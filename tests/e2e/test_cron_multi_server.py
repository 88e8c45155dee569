"""Cron exactly once: two real `solvyd server` processes on one PostgreSQL database both run
the schedule loop; a schedule due every minute starts one build per minute between them.

Both loops sleep until the soonest due time, so both wake at the minute boundary and race for
it: the unique schedule_runs row decides. The test waits for one boundary (at most a minute)."""

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.e2e.helpers import UserApi, one_step
from tests.support.processes import Process, start_server

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.parametrize("database_url", ["postgresql"], indirect=True),
    pytest.mark.timeout(180),
]

# Each server looks for changed schedules this often; it sleeps to the due time anyway.
FAST_LOOP = {"SOLVYD_SCHEDULE_INTERVAL_SECONDS": "0.5"}


@pytest.fixture
def apis(database_url: str, tmp_path: Path, log_dir: Path) -> Iterator[list[UserApi]]:
    started: list[Process] = []
    apis: list[UserApi] = []
    try:
        for name in ("a", "b"):
            server = start_server(database_url, tmp_path / name, log_dir, **FAST_LOOP)
            started.append(server.process)
            apis.append(UserApi(server))
        yield apis
    finally:
        for api in apis:
            api.http.close()
        for process in reversed(started):
            process.stop()


def _cron_builds(api: UserApi, job_id: str) -> list[dict[str, object]]:
    response = api.http.get("/builds", params={"job_id": job_id, "limit": 200})
    response.raise_for_status()
    builds = response.json()["items"]
    assert all(build["trigger"] == "cron" for build in builds), builds
    return list(builds)


def test_each_due_time_starts_one_build_across_two_servers(apis: list[UserApi]) -> None:
    api_a, api_b = apis
    job = api_a.create_job(
        f"cron-{uuid.uuid4().hex[:8]}",
        one_step("echo tick"),
        schedules=[{"cron": "* * * * *"}],
    )
    next_run = datetime.fromisoformat(str(job["next_run_at"]))
    # Server B reads the same schedule and the same next run time from the database.
    assert api_b.http.get(f"/jobs/{job['id']}").json()["next_run_at"] == job["next_run_at"]
    assert _cron_builds(api_a, job["id"]) == []

    # Past the due time and a few rounds of both loops.
    time.sleep(max(0.0, (next_run - datetime.now(UTC)).total_seconds()) + 4)
    builds = _cron_builds(api_b, job["id"])
    assert len(builds) == 1, builds
    assert builds[0]["status"] == "queued"  # no agent here: it waits
    # More rounds of both servers before the next due time start nothing more.
    time.sleep(2)
    assert len(_cron_builds(api_a, job["id"])) == 1
    after = api_a.http.get(f"/jobs/{job['id']}").json()
    assert datetime.fromisoformat(after["next_run_at"]) > next_run
