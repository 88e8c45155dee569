"""The API at scale: the read paths of the UI and the CLI over a long history.

A real `solvyd server` on a fresh database holding N builds (with their steps, a tenth as many
audit events, and the webhook deliveries of the last 29 days) inserted with SQL by
tests/support/seed_builds.py: 20 jobs, one build every 26 s going back from now, so 30 days
hold about 100,000 builds. Timed from a client, each after a warm-up call, 20 calls:
the first page of GET /builds, filtered by job, by status, by branch and by worker; 20 pages
deep by cursor (each page timed: the 20th page and all pages); GET /stats over 30 and 7 days;
the first page of the audit log and of the webhook deliveries. The server's RSS is read
before and after the stats calls. Prints one JSON line.

Usage: python bench/api_scale.py [--database postgresql|sqlite] [--builds N] [--keep]
(N defaults to 1,000,000 on PostgreSQL, 100,000 on SQLite; --keep keeps the seeded database,
a PostgreSQL database or a file under .bench-cache/ named by N, and reuses it next time.)
"""

import argparse
import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import httpx

from common import (
    PG_ADMIN,
    drop_pg_database,
    free_port,
    latency_summary,
    load_average,
    login,
    machine_description,
    make_pg_database,
    rss_mb,
    server_env,
    start_server,
    stop_all,
    timestamp,
)

REPO = Path(__file__).resolve().parents[1]
# The seeding is the browser tests' too: it lives with the tests' support code.
sys.path.insert(0, str(REPO))
from tests.support.seed_builds import seed  # noqa: E402

DEFAULT_BUILDS = {"postgresql": 1_000_000, "sqlite": 100_000}
CALLS = 20
PAGES_DEEP = 20


def progress(message: str) -> None:
    print(f"[api_scale] {message}", file=sys.stderr, flush=True)


# The database


async def _pg_kept_builds(name: str) -> int | None:
    """How many builds the kept PostgreSQL database `name` holds; None if it does not exist."""
    admin = await asyncpg.connect(PG_ADMIN)
    try:
        exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
    finally:
        await admin.close()
    if not exists:
        return None
    connection = await asyncpg.connect(_pg_url(name))
    try:
        if not await connection.fetchval("SELECT to_regclass('builds') IS NOT NULL"):
            return 0
        return int(await connection.fetchval("SELECT count(*) FROM builds"))
    finally:
        await connection.close()


async def _pg_recreate(name: str) -> str:
    await drop_pg_database(name)
    admin = await asyncpg.connect(PG_ADMIN)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return _pg_url(name)


def _pg_url(name: str) -> str:
    return PG_ADMIN.rpartition("/")[0] + "/" + name


async def _seed_timed(database_url: str, builds: int) -> float:
    progress(f"seeding {builds:,} builds")
    started = time.monotonic()
    await seed(database_url, builds)
    seconds = time.monotonic() - started
    progress(f"seeded in {seconds:.1f}s")
    return seconds


async def prepare_database(
    database: str, builds: int, keep: bool, workdir: Path
) -> tuple[str, str | None, float | None]:
    """The seeded database's URL, the PostgreSQL database to drop afterwards (None: keep it),
    and the seconds the seeding took (None: a kept one was reused)."""
    if database == "postgresql":
        if not keep:
            name, url = await make_pg_database()
            return url, name, await _seed_timed(url, builds)
        name = f"solvyd_bench_api_scale_{builds}"
        if await _pg_kept_builds(name) == builds:
            progress(f"reusing the kept database {name}")
            return _pg_url(name), None, None
        url = await _pg_recreate(name)
        return url, None, await _seed_timed(url, builds)
    if not keep:
        url = f"sqlite:///{workdir / 'api_scale.db'}"
        return url, None, await _seed_timed(url, builds)
    path = REPO / ".bench-cache" / f"api_scale_{builds}.db"
    url = f"sqlite:///{path}"
    if path.exists():
        progress(f"reusing the kept database {path}")
        return url, None, None
    path.parent.mkdir(exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    seconds = await _seed_timed(f"sqlite:///{partial}", builds)
    partial.rename(path)
    return url, None, seconds


# The reads


async def timed(http: httpx.AsyncClient, path: str, params: dict[str, Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    response = await http.get(path, params=params)
    elapsed = (time.perf_counter() - started) * 1000
    response.raise_for_status()
    return elapsed, response.json()


async def latencies(
    http: httpx.AsyncClient, path: str, params: dict[str, Any], check: Callable[[Any], bool]
) -> dict[str, float]:
    """One warm-up call, then CALLS timed ones; every answer must pass `check`."""
    samples = []
    for index in range(CALLS + 1):
        elapsed, body = await timed(http, path, params)
        if not check(body):
            raise AssertionError(f"GET {path} {params}: unexpected answer {str(body)[:300]}")
        if index:
            samples.append(elapsed)
    return latency_summary(samples)


async def pages_deep(http: httpx.AsyncClient) -> dict[str, Any]:
    """Walk PAGES_DEEP pages of GET /builds by cursor, once to warm up and CALLS times timed;
    the last page's latencies and every page's."""
    last_page, every_page = [], []
    for walk in range(CALLS + 1):
        cursor = None
        seen: set[str] = set()
        for page in range(PAGES_DEEP):
            params = {"cursor": cursor} if cursor else {}
            elapsed, body = await timed(http, "/builds", params)
            ids = {b["id"] for b in body["items"]}
            if not ids or ids & seen or body["next_cursor"] is None:
                raise AssertionError(f"page {page + 1} of the walk repeats builds or ends early")
            seen |= ids
            cursor = body["next_cursor"]
            if walk:
                every_page.append(elapsed)
                if page == PAGES_DEEP - 1:
                    last_page.append(elapsed)
    return {"page_20": latency_summary(last_page), "every_page": latency_summary(every_page)}


def _items_where(key: str, value: Any) -> Callable[[Any], bool]:
    return lambda body: bool(body["items"]) and all(b[key] == value for b in body["items"])


async def run_bench(url: str, server_pid: int) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=f"{url}/api/v1", timeout=120) as http:
        await login(http)
        job = (await http.get("/jobs")).json()["items"][0]
        worker = (await http.get("/workers")).json()["items"][0]
        newest = (await http.get("/builds", params={"limit": 1})).json()["items"][0]
        by_worker = _items_where("worker_id", worker["id"])
        reads: dict[str, Any] = {}
        for name, params, check in [
            ("builds_first_page", {}, lambda body: len(body["items"]) == 50),
            ("builds_by_job", {"job_id": job["id"]}, _items_where("job_id", job["id"])),
            ("builds_by_status", {"status": "failure"}, _items_where("status", "failure")),
            ("builds_by_branch", {"branch": "main"}, _items_where("branch", "main")),
            ("builds_by_worker", {"worker_id": worker["id"]}, by_worker),
        ]:
            progress(f"GET /builds {params}")
            reads[name] = await latencies(http, "/builds", params, check)
        progress(f"GET /builds, {PAGES_DEEP} pages deep")
        reads["builds_pages_deep"] = await pages_deep(http)
        rss_before_stats = rss_mb(server_pid)
        window_builds = {}
        for days in (30, 7):
            progress(f"GET /stats?days={days}")
            reads[f"stats_{days}d"] = await latencies(
                http, "/stats", {"days": days}, lambda body: body["days"] > 0
            )
            stats = (await http.get("/stats", params={"days": days})).json()
            window_builds[f"{days}d"] = sum(job["builds"] for job in stats["jobs"])
        rss_after_stats = rss_mb(server_pid)
        progress("GET /audit, GET /hooks/deliveries")
        reads["audit_first_page"] = await latencies(
            http, "/audit", {}, lambda body: len(body["items"]) == 100
        )
        reads["deliveries_first_page"] = await latencies(
            http, "/hooks/deliveries", {}, lambda body: len(body["items"]) == 50
        )
    return {
        "reads_ms": reads,
        "builds_in_stats_window": window_builds,
        "newest_build_age_seconds": round(time.time() - timestamp(newest["queued_at"]), 1),
        "server_rss_mb": {"before_stats": rss_before_stats, "after_stats": rss_after_stats},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--builds", type=int, help="default: 1,000,000 (PostgreSQL), 100,000")
    parser.add_argument(
        "--keep", action="store_true", help="keep the seeded database; reuse a kept one"
    )
    args = parser.parse_args()
    builds = args.builds or DEFAULT_BUILDS[args.database]

    workdir = Path(tempfile.mkdtemp(prefix="solvyd-bench-"))
    server: subprocess.Popen[bytes] | None = None
    drop = None
    try:
        database_url, drop, seed_seconds = asyncio.run(
            prepare_database(args.database, builds, args.keep, workdir)
        )
        port = free_port()
        server = start_server(
            port, server_env(database_url, workdir), workdir / "server.log", timeout=120
        )
        rss_idle = rss_mb(server.pid)
        result = asyncio.run(run_bench(f"http://127.0.0.1:{port}", server.pid))
    finally:
        if server is not None:
            stop_all([server])
        if drop:
            asyncio.run(drop_pg_database(drop))
        shutil.rmtree(workdir, ignore_errors=True)
    print(
        json.dumps(
            {
                "bench": "api_scale",
                "database": args.database,
                "builds": builds,
                "seed_seconds": round(seed_seconds, 1) if seed_seconds is not None else None,
                **result,
                "server_rss_mb": {"idle": rss_idle, **result["server_rss_mb"]},
                "load_average": load_average(),
                "machine": machine_description(),
            }
        )
    )


if __name__ == "__main__":
    main()
