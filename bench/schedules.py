"""One scheduler round's cost with many jobs: how long `start_due_schedules` takes, and how long
it holds the event loop (which also serves claims and live logs), on PostgreSQL.

The server runs in this process (create_app, lifespan), so a 1 ms ticker task sees every stall
of the loop. The database holds `--plain` jobs without schedules and `--scheduled` jobs with two
each (one in a time zone); none is due, so the round reads and computes but starts nothing,
which is what nearly every round does. Prints one JSON line on stdout: the median round and the
longest stall of the loop over `--rounds` rounds.
Usage: python bench/schedules.py [--plain 5000] [--scheduled 500] [--rounds 5]
"""

import argparse
import asyncio
import json
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from common import drop_pg_database, make_pg_database
from solvyd.server.app import create_app
from solvyd.server.db.models import Job
from solvyd.server.services.schedules import start_due_schedules
from solvyd.server.settings import ServerSettings

# Due on 1 January only: a round finds nothing to start.
SCHEDULES = [{"cron": "0 3 1 1 *"}, {"cron": "0 4 1 1 *", "timezone": "Europe/Berlin"}]


async def measure(plain: int, scheduled: int, rounds: int) -> dict[str, object]:
    name, url = await make_pg_database()
    try:
        with tempfile.TemporaryDirectory(prefix="solvyd-bench-") as workdir:
            settings = ServerSettings(
                database_url=url,
                data_dir=Path(workdir) / "data",
                admin_password="bench-password",
                agent_token="bench-agent-token-0123456789abcdef",
                secret_key="bench-secret-key-0123456789abcdef0123456789",
                # The app's own loop stays out of the way of the rounds measured.
                schedule_interval_seconds=3600,
            )
            app = create_app(settings)
            async with app.router.lifespan_context(app):
                ctx = app.state.ctx
                now = datetime.now(UTC)
                async with ctx.db.transaction() as session:
                    for i in range(plain + scheduled):
                        with_schedules = i >= plain
                        session.add(
                            Job(
                                id=uuid.uuid4(),
                                name=f"job-{i}",
                                pipeline="steps: [{name: a, commands: ['true']}]",
                                schedules=SCHEDULES if with_schedules else [],
                                schedules_since=now if with_schedules else None,
                            )
                        )
                stalls: list[float] = []

                async def ticker() -> None:
                    while True:
                        started = time.perf_counter()
                        await asyncio.sleep(0.001)
                        stalls.append(time.perf_counter() - started - 0.001)

                ticking = asyncio.create_task(ticker())
                durations = []
                for _ in range(rounds):
                    started = time.perf_counter()
                    await start_due_schedules(ctx, datetime.now(UTC))
                    durations.append(time.perf_counter() - started)
                ticking.cancel()
    finally:
        await drop_pg_database(name)
    return {
        "benchmark": "schedule_round",
        "jobs_without_schedules": plain,
        "jobs_with_two_schedules": scheduled,
        "round_ms_median": round(statistics.median(durations) * 1000, 1),
        "loop_stall_ms_max": round(max(stalls, default=0.0) * 1000, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plain", type=int, default=5000)
    parser.add_argument("--scheduled", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(measure(args.plain, args.scheduled, args.rounds))))


if __name__ == "__main__":
    main()
