"""Build retention on both databases with the real local artifact store: a run removes exactly
the finished builds the policy says, with their steps, logs, archived logs and artifacts (rows
and stored objects); the dry run counts what the run then removes; a failed store delete is
tried again; batches; per-job policies and their validation; the audit record."""

import asyncio
import contextlib
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
import structlog
from pydantic import SecretStr

from solvyd.server.app import create_app
from solvyd.server.artifacts import ArtifactNotFound
from solvyd.server.db.models import (
    Artifact,
    Build,
    BuildLog,
    BuildStep,
    Deployment,
    Environment,
    StoreDeletion,
)
from solvyd.server.services.builds import retention
from solvyd.server.services.builds.log_archive import archive_build_log
from solvyd.server.services.builds.retention import remove_old_builds
from solvyd.server.services.context import ServerContext
from solvyd.server.settings import ServerSettings
from solvyd.shared.clock import utcnow
from tests.integration.api_helpers import (
    API,
    Headers,
    admin_headers,
    assert_error,
    create_job,
    unique,
)
from tests.support.databases import SqliteDatabases
from tests.support.processes import ADMIN_PASSWORD, AGENT_TOKEN
from tests.support.s3_server import ACCESS_KEY, REGION, SECRET_KEY, s3_server

NOW = utcnow()
PULL_REQUEST = {
    "number": 7,
    "title": "a change",
    "source_branch": "feature",
    "target_branch": "main",
    "from_fork": False,
}


@dataclass
class Made:
    """A build made for a test, and the store keys of what it holds."""

    id: uuid.UUID
    number: int
    keys: list[str]


@pytest.fixture
async def admin(client: httpx.AsyncClient) -> Headers:
    return await admin_headers(client)


@pytest.fixture
def ctx(client: httpx.AsyncClient) -> ServerContext:
    context: ServerContext = client.app.state.ctx  # type: ignore[attr-defined]
    return context


class History:
    """Builds of one job written as the server would have left them: steps, log rows (or an
    archived log, archived by the server's own code), artifacts in the real store."""

    def __init__(self, ctx: ServerContext, job_id: str) -> None:
        self.ctx = ctx
        self.job_id = uuid.UUID(job_id)
        self.number = 0

    async def build(
        self,
        *,
        days_ago: float,
        pull_request: bool = False,
        status: str = "success",
        artifact: bytes = b"artifact bytes",
        archived: bool = False,
        branch: str = "main",
        event: str = "push",
    ) -> Made:
        self.number += 1
        build_id = uuid.uuid4()
        finished_at = NOW - timedelta(days=days_ago)
        finished = status not in ("queued", "running")
        key = f"builds/{build_id}/{uuid.uuid4().hex}"
        await self.ctx.artifacts.put(key, _one(artifact), len(artifact))
        async with self.ctx.db.transaction() as session:
            session.add(
                Build(
                    id=build_id,
                    job_id=self.job_id,
                    number=self.number,
                    status=status,
                    trigger="pull_request" if pull_request else event,
                    event="pull_request" if pull_request else event,
                    pull_request=PULL_REQUEST if pull_request else None,
                    branch="feature" if pull_request else branch,
                    queued_at=finished_at - timedelta(minutes=5),
                    started_at=finished_at - timedelta(minutes=4),
                    completed_at=finished_at if finished else None,
                )
            )
            await session.flush()
            session.add(BuildStep(build_id=build_id, position=0, name="test", status="success"))
            session.add(
                BuildLog(
                    build_id=build_id, seq=0, step="test", lines=[{"text": "ok"}], line_count=1
                )
            )
            session.add(
                Artifact(
                    build_id=build_id,
                    name="dist/out.bin",
                    size_bytes=len(artifact),
                    storage_key=key,
                )
            )
        keys = [key]
        if archived:
            assert await archive_build_log(self.ctx, build_id)
            keys.append(f"logs/{build_id}.jsonl.gz")
        return Made(build_id, self.number, keys)


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def _stored(ctx: ServerContext, key: str) -> bool:
    try:
        await ctx.artifacts.size(key)
    except ArtifactNotFound:
        return False
    return True


async def _remaining(ctx: ServerContext, builds: list[Made]) -> dict[str, Any]:
    """Which of the builds are left, and what is left of the others anywhere."""
    ids = [made.id for made in builds]
    async with ctx.db.transaction() as session:
        left = set(await session.scalars(sa.select(Build.id).where(Build.id.in_(ids))))
        rows = {
            table.__tablename__: set(
                await session.scalars(
                    sa.select(table.build_id).where(table.build_id.in_(ids)).distinct()
                )
            )
            for table in (BuildStep, BuildLog, Artifact)
        }
        pending = list(await session.scalars(sa.select(StoreDeletion.key)))
    gone = [made for made in builds if made.id not in left]
    return {
        "left": sorted(made.number for made in builds if made.id in left),
        "rows of removed builds": {
            table: sorted(m.number for m in gone if m.id in found) for table, found in rows.items()
        },
        "objects of removed builds": [k for m in gone for k in m.keys if await _stored(ctx, k)],
        "objects of kept builds missing": [
            k for m in builds if m.id in left for k in m.keys if not await _stored(ctx, k)
        ],
        "pending store deletions": pending,
    }


async def _preview(
    client: httpx.AsyncClient, headers: Headers, job_id: str | None = None
) -> dict[str, Any]:
    params = {"job_id": job_id} if job_id else {}
    response = await client.get(f"{API}/retention/preview", headers=headers, params=params)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def _deploy(ctx: ServerContext, job_id: str, build: Made) -> None:
    """An environment whose current version is the build's."""
    async with ctx.db.transaction() as session:
        environment = Environment(id=uuid.uuid4(), name=unique("env"))
        session.add(environment)
        await session.flush()
        session.add(
            Deployment(
                environment_id=environment.id,
                number=1,
                status="succeeded",
                job_id=uuid.UUID(job_id),
                build_id=build.id,
                build_number=build.number,
                version="v1",
            )
        )


async def test_a_run_removes_exactly_what_the_policy_says_and_the_dry_run_counted(
    client: httpx.AsyncClient, admin: Headers, ctx: ServerContext
) -> None:
    job = await create_job(client, admin, retention={"max_builds": 2, "pull_requests": {"days": 5}})
    history = History(ctx, job["id"])
    # 29 days, not 30: the server's log archiver (30 days), whose first round may still be
    # running, would archive that build's log between the dry run and the run.
    branch = [
        await history.build(days_ago=days, archived=days == 40, artifact=b"x" * (1000 + days))
        for days in (50, 40, 29, 20, 10)
    ]
    running = await history.build(days_ago=1, status="running")
    queued = await history.build(days_ago=0, status="queued")
    pulls = [
        await history.build(days_ago=days, pull_request=True, archived=days == 6)
        for days in (10, 6, 1)
    ]
    await _deploy(ctx, job["id"], branch[0])
    # Another job, no policy of its own, and none on the server: nothing of it goes.
    untouched = History(ctx, (await create_job(client, admin))["id"])
    others = [await untouched.build(days_ago=days) for days in (400, 300)]
    everything = [*branch, running, queued, *pulls, *others]

    dry = await _preview(client, admin)
    assert dry["policy"]["branch"] == {"days": None, "max_builds": None}
    one = await _preview(client, admin, job["id"])
    assert one["policy"]["branch"] == {"days": None, "max_builds": 2}
    # Pull-request builds: their own days, and the job's max_builds for want of their own.
    assert one["policy"]["pull_requests"] == {"days": 5, "max_builds": 2}
    assert one["total"] == dry["total"]
    assert dry["jobs"] == [{"job_id": job["id"], "name": job["name"], "builds": 4}]

    summary = await remove_old_builds(ctx, NOW)

    # Branch: #1 is deployed, #4 and #5 the newest two; running and queued builds stay.
    # Pull requests: #8 and #9 finished more than 5 days ago; #10 is the newest.
    state = await _remaining(ctx, everything)
    assert state == {
        "left": [1, 1, 2, 4, 5, 6, 7, 10],
        "rows of removed builds": {"build_steps": [], "build_logs": [], "artifacts": []},
        "objects of removed builds": [],
        "objects of kept builds missing": [],
        "pending store deletions": [],
    }
    removed = [branch[1], branch[2], pulls[0], pulls[1]]
    expected = {
        "builds": 4,
        "artifacts": 4,
        "artifact_bytes": sum(1000 + d for d in (40, 29)) + 2 * len(b"artifact bytes"),
        "archived_logs": 2,
    }
    assert dry["total"] == expected
    assert dry["branch"] == {
        **expected,
        "builds": 2,
        "artifacts": 2,
        "archived_logs": 1,
        "artifact_bytes": 2069,
    }
    got = summary.total
    assert (got.builds, got.artifacts, got.artifact_bytes, got.archived_logs) == tuple(
        expected.values()
    )
    for made in removed:
        assert (await client.get(f"{API}/builds/{made.id}", headers=admin)).status_code == 404

    # One audit record for the run, by the server.
    events = (
        await client.get(f"{API}/audit", headers=admin, params={"action": "builds.retention"})
    ).json()["items"]
    assert len(events) == 1
    assert events[0]["actor_name"] == "solvyd"
    assert events[0]["details"]["builds"] == 4
    assert events[0]["details"]["pull_request_builds"] == 2
    assert events[0]["details"]["jobs"] == {job["name"]: 4}

    # A second run finds nothing, records nothing, and the dry run agrees.
    assert (await remove_old_builds(ctx, NOW)).total.builds == 0
    assert (await _preview(client, admin))["total"]["builds"] == 0
    again = await client.get(f"{API}/audit", headers=admin, params={"action": "builds.retention"})
    assert len(again.json()["items"]) == 1
    metrics = (await client.get("/metrics")).text
    assert 'solvyd_builds_removed_total{kind="branch"} 2.0' in metrics
    assert 'solvyd_builds_removed_total{kind="pull_requests"} 2.0' in metrics


async def test_the_server_settings_and_a_jobs_own_fields(
    client: httpx.AsyncClient, admin: Headers, ctx: ServerContext
) -> None:
    ctx.settings.build_retention_days = 30
    ctx.settings.pr_build_retention_max_builds = 1
    plain = await create_job(client, admin)
    forever = await create_job(client, admin, retention={"days": "unlimited"})
    longer = await create_job(client, admin, retention={"days": 100})
    made: dict[str, list[Made]] = {}
    for job in (plain, forever, longer):
        history = History(ctx, job["id"])
        made[job["name"]] = [await history.build(days_ago=d) for d in (120, 60, 10, 5)]
        made[job["name"]] += [await history.build(days_ago=d, pull_request=True) for d in (3, 2)]

    policy = (await client.get(f"{API}/retention", headers=admin)).json()
    assert policy["branch"] == {"days": 30.0, "max_builds": None}
    assert policy["pull_requests"] == {"days": 30.0, "max_builds": 1}
    dry = await _preview(client, admin)

    summary = await remove_old_builds(ctx, NOW)

    left = {name: (await _remaining(ctx, builds))["left"] for name, builds in made.items()}
    assert left == {
        plain["name"]: [3, 4, 6],
        forever["name"]: [1, 2, 3, 4, 6],
        longer["name"]: [2, 3, 4, 6],
    }
    assert dry["total"]["builds"] == summary.total.builds == 6


async def test_the_badges_build_is_kept(
    client: httpx.AsyncClient, admin: Headers, ctx: ServerContext
) -> None:
    """Tags and other branches finished after the default branch's last build: the newest
    builds of the kind are theirs, yet the badge's build stays and the badge tells of it."""
    job = await create_job(
        client, admin, branch="main", public_badge=True, retention={"max_builds": 2}
    )
    history = History(ctx, job["id"])
    builds = [await history.build(days_ago=9, status="failure")]
    builds.append(await history.build(days_ago=8))
    builds += [await history.build(days_ago=7 - n, event="tag", branch="v1") for n in range(2)]
    builds += [await history.build(days_ago=5 - n, branch="feature") for n in range(2)]

    await remove_old_builds(ctx, NOW)

    assert (await _remaining(ctx, builds))["left"] == [2, 5, 6]
    badge = await client.get(f"{API}/badges/{job['name']}.svg")
    assert badge.status_code == 200, badge.text
    assert ">passing<" in badge.text


@contextlib.contextmanager
def _statements(ctx: ServerContext) -> Iterator[list[str]]:
    """The SQL the server sends meanwhile."""
    sent: list[str] = []

    def record(*args: Any) -> None:
        sent.append(args[2])

    engine = ctx.db.engine.sync_engine
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


async def test_batches_of_two_remove_everything_in_one_run(
    client: httpx.AsyncClient, admin: Headers, ctx: ServerContext
) -> None:
    ctx.settings.retention_batch_size = 2
    job = await create_job(client, admin, retention={"max_builds": 1})
    history = History(ctx, job["id"])
    builds = [await history.build(days_ago=10 - n) for n in range(6)]

    with _statements(ctx) as sent:
        summary = await remove_old_builds(ctx, NOW)

    assert summary.total.builds == 5
    state = await _remaining(ctx, builds)
    assert state["left"] == [6]
    assert state["objects of removed builds"] == state["pending store deletions"] == []
    # The newest N are found once per run (a walk down the index), not once per batch.
    assert sum("ORDER BY builds.number DESC" in statement for statement in sent) == 1


async def test_a_batchs_log_rows_go_a_chunk_at_a_time(
    client: httpx.AsyncClient, admin: Headers, ctx: ServerContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(retention, "LOG_ROWS_PER_TRANSACTION", 2)
    job = await create_job(client, admin, retention={"max_builds": 1})
    history = History(ctx, job["id"])
    builds = [await history.build(days_ago=2), await history.build(days_ago=1)]
    async with ctx.db.transaction() as session:
        for seq in range(1, 5):
            session.add(
                BuildLog(build_id=builds[0].id, seq=seq, step="test", lines=[], line_count=0)
            )

    with _statements(ctx) as sent:
        assert (await remove_old_builds(ctx, NOW)).total.builds == 1

    assert sum(s.lstrip().startswith("DELETE FROM build_logs") for s in sent) == 3
    state = await _remaining(ctx, builds)
    assert state["left"] == [2]
    assert state["rows of removed builds"]["build_logs"] == []


async def test_a_run_that_fails_part_way_records_what_it_removed(
    client: httpx.AsyncClient, admin: Headers, ctx: ServerContext
) -> None:
    ctx.settings.retention_batch_size = 2
    job = await create_job(client, admin, retention={"max_builds": 1})
    history = History(ctx, job["id"])
    builds = [await history.build(days_ago=10 - n) for n in range(6)]
    deletes = 0

    def fail_the_second_batch(*args: Any) -> None:
        nonlocal deletes
        if args[2].lstrip().startswith("DELETE FROM builds"):
            deletes += 1
            if deletes == 2:
                raise RuntimeError("the database went away")

    engine = ctx.db.engine.sync_engine
    sa.event.listen(engine, "before_cursor_execute", fail_the_second_batch)
    try:
        with pytest.raises(RuntimeError, match="went away"):
            await remove_old_builds(ctx, NOW)
    finally:
        sa.event.remove(engine, "before_cursor_execute", fail_the_second_batch)

    state = await _remaining(ctx, builds)
    assert state["left"] == [3, 4, 5, 6]
    assert state["objects of removed builds"] == state["pending store deletions"] == []
    events = (
        await client.get(f"{API}/audit", headers=admin, params={"action": "builds.retention"})
    ).json()["items"]
    assert [event["details"]["builds"] for event in events] == [2]


async def test_two_runs_at_once_remove_each_build_once(
    client: httpx.AsyncClient, admin: Headers, ctx: ServerContext
) -> None:
    """As two servers' rounds would: batches interleave, none fails, no build goes twice."""
    ctx.settings.retention_batch_size = 3
    job = await create_job(client, admin, retention={"max_builds": 1})
    history = History(ctx, job["id"])
    builds = [await history.build(days_ago=30 - n, archived=n % 4 == 0) for n in range(12)]

    first, second = await asyncio.gather(remove_old_builds(ctx, NOW), remove_old_builds(ctx, NOW))

    assert first.total.builds + second.total.builds == 11
    assert first.total.archived_logs + second.total.archived_logs == 3
    state = await _remaining(ctx, builds)
    assert state["left"] == [12]
    assert state["objects of removed builds"] == state["pending store deletions"] == []


async def test_a_store_delete_that_fails_is_tried_again_next_round(
    client: httpx.AsyncClient, admin: Headers, ctx: ServerContext, settings: ServerSettings
) -> None:
    job = await create_job(client, admin, retention={"max_builds": 1})
    history = History(ctx, job["id"])
    old, _ = await history.build(days_ago=2), await history.build(days_ago=1)
    # A directory where the object was: the store's delete fails (even for root).
    path = settings.resolved_artifact_dir() / old.keys[0]
    path.unlink()
    (path / "inside").mkdir(parents=True)

    assert (await remove_old_builds(ctx, NOW)).total.builds == 1
    state = await _remaining(ctx, [old])
    assert state["left"] == []
    assert state["pending store deletions"] == [old.keys[0]]

    shutil.rmtree(path)
    path.write_bytes(b"the store is back")
    await remove_old_builds(ctx, NOW)
    state = await _remaining(ctx, [old])
    assert state["pending store deletions"] == []
    assert not path.exists()


async def test_a_store_that_is_down_is_not_tried_for_every_object(
    client: httpx.AsyncClient,
    admin: Headers,
    ctx: ServerContext,
    settings: ServerSettings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A logger not yet used (so not yet cached): capture_logs sees what it logs.
    monkeypatch.setattr(retention, "log", structlog.get_logger(retention.__name__))
    ctx.settings.log_retention_days = 0  # no keys of logs that may be being archived
    job = await create_job(client, admin, retention={"max_builds": 1})
    history = History(ctx, job["id"])
    builds = [await history.build(days_ago=20 - n) for n in range(13)]
    for made in builds[:-1]:
        path = settings.resolved_artifact_dir() / made.keys[0]
        path.unlink()
        (path / "inside").mkdir(parents=True)

    with structlog.testing.capture_logs() as logged:
        assert (await remove_old_builds(ctx, NOW)).total.builds == 12

    warnings = [entry for entry in logged if entry["log_level"] == "warning"]
    assert [(w["failed"], w["stopped"]) for w in warnings] == [(10, True)]
    state = await _remaining(ctx, builds)
    assert sorted(state["pending store deletions"]) == sorted(m.keys[0] for m in builds[:-1])


BAD_POLICIES: list[Any] = [
    {"days": -1},
    {"days": 0},
    {"max_builds": 0},
    {"days": 10**9},
    {"max_builds": 10**12},
    {"days": "5"},
    {"days": 5.5},
    {"days": True},
    {"days": "forever"},
    {"days": None, "keep": 3},
    {"pull_requests": {"days": -3}},
    {"pull_requests": {"max_builds": "lots"}},
    {"pull_requests": []},
    {"pull_requests": {"pull_requests": {"days": 1}}},
    [],
    "30 days",
    7,
]


async def test_a_bad_policy_is_refused_and_nothing_is_saved(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    job = await create_job(client, admin, retention={"days": 30})
    for policy in BAD_POLICIES:
        name = unique("bad")
        created = await client.post(
            f"{API}/jobs",
            headers=admin,
            json={
                "name": name,
                "pipeline": "steps: [{name: a, commands: [true]}]",
                "retention": policy,
            },
        )
        assert_error(created, 422)
        assert (await client.get(f"{API}/jobs", headers=admin, params={"name": name})).json()[
            "items"
        ] == [], policy
        changed = await client.patch(
            f"{API}/jobs/{job['id']}", headers=admin, json={"retention": policy}
        )
        assert_error(changed, 422)
    stored = (await client.get(f"{API}/jobs/{job['id']}", headers=admin)).json()
    assert stored["retention"] == {"days": 30, "max_builds": None, "pull_requests": None}

    # A whole policy replaces the job's; null hands it back to the server's settings.
    policy = {"days": "unlimited", "pull_requests": {"max_builds": 20}}
    changed = await client.patch(
        f"{API}/jobs/{job['id']}", headers=admin, json={"retention": policy}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["retention"] == {
        "days": "unlimited",
        "max_builds": None,
        "pull_requests": {"days": None, "max_builds": 20},
    }
    cleared = await client.patch(f"{API}/jobs/{job['id']}", headers=admin, json={"retention": None})
    assert cleared.json()["retention"] is None
    assert_error(
        await client.get(
            f"{API}/retention/preview", headers=admin, params={"job_id": str(uuid.uuid4())}
        ),
        404,
    )
    assert_error(
        await client.get(f"{API}/retention/preview", headers=admin, params={"job_id": "x"}), 422
    )


@contextlib.asynccontextmanager
async def _app(settings: ServerSettings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            http.app = app  # type: ignore[attr-defined]
            yield http


async def test_objects_in_an_s3_store_go_with_their_builds(
    sqlite_databases: SqliteDatabases, tmp_path: Path
) -> None:
    """The store is the point here: one database is enough."""
    with s3_server() as s3:
        bucket = s3.new_bucket()
        settings = ServerSettings(
            database_url=await sqlite_databases.create(),
            data_dir=tmp_path / "data",
            admin_password=ADMIN_PASSWORD,
            agent_token=AGENT_TOKEN,
            secret_key="test-secret-key-0123456789abcdef0123456789",
            artifact_store="s3",
            s3_bucket=bucket,
            s3_endpoint_url=s3.url,
            s3_region=REGION,
            s3_access_key_id=ACCESS_KEY,
            s3_secret_access_key=SecretStr(SECRET_KEY),
        )
        async with _app(settings) as http:
            ctx: ServerContext = http.app.state.ctx  # type: ignore[attr-defined]
            job = await create_job(http, await admin_headers(http), retention={"max_builds": 1})
            history = History(ctx, job["id"])
            old = await history.build(days_ago=2, archived=True)
            kept = await history.build(days_ago=1)
            assert (await remove_old_builds(ctx, NOW)).total.builds == 1
            assert len(old.keys) == 2
        listed = s3.client().list_objects_v2(Bucket=bucket).get("Contents", [])
        assert sorted(o["Key"] for o in listed) == sorted(kept.keys)
