"""Migration 0016 on a database with data, on both engines: the unused deployments table is
replaced, environments and deployments can be stored, and a downgrade and a new upgrade keep
the jobs and builds."""

import asyncio
import uuid
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Connection

from solvyd.server.db.migrate import alembic_config, foreign_keys_off
from solvyd.server.db.session import create_database
from tests.support.databases import PostgresDatabases


def _migrate(connection: Connection, target: str, *, down: bool = False) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    with foreign_keys_off(connection), connection.begin():
        (command.downgrade if down else command.upgrade)(config, target)


async def _check(url: str) -> None:
    db = create_database(url)
    sqlite = url.startswith("sqlite")

    def uid(value: uuid.UUID) -> object:
        return value.hex if sqlite else value

    job, build, environment = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    try:
        async with db.engine.connect() as connection:
            await connection.run_sync(_migrate, "0015")
            async with connection.begin():
                await connection.execute(
                    sa.text(
                        "INSERT INTO jobs (id, name, description, labels, env, max_retries,"
                        " next_build_number, created_at, updated_at) VALUES (:id, 'app', '',"
                        " '[]', '{}', 0, 2, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                    ),
                    {"id": uid(job)},
                )
                await connection.execute(
                    sa.text(
                        "INSERT INTO builds (id, job_id, number, status, trigger, env, labels,"
                        " spec, attempt, queued_at, log_bytes, log_truncated) VALUES (:id,"
                        " :job, 1, 'success', 'manual', '{}', '[]', '{}', 1,"
                        " CURRENT_TIMESTAMP, 0, false)"
                    ),
                    {"id": uid(build), "job": uid(job)},
                )
            await connection.run_sync(_migrate, "0016")
            async with connection.begin():
                await connection.execute(
                    sa.text(
                        "INSERT INTO environments (id, name, created_at, updated_at) VALUES"
                        " (:id, 'staging', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                    ),
                    {"id": uid(environment)},
                )
                assert await connection.scalar(sa.text("SELECT next_number FROM environments")) == 1
                await connection.execute(
                    sa.text(
                        "INSERT INTO deployments (id, environment_id, number, kind, status,"
                        " job_id, build_id, step, attempt, version, rollback_policy,"
                        " rollout_timeout_seconds, approval_required, created_at, log) VALUES"
                        " (:id, :env, 1, 'deploy', 'succeeded', :job, :build, 'ship', 1, 'v1',"
                        " 'manual', 600, false, CURRENT_TIMESTAMP, '[]')"
                    ),
                    {"id": uid(uuid.uuid4()), "env": uid(environment), "job": uid(job),
                     "build": uid(build)},
                )  # fmt: skip
            await connection.run_sync(_migrate, "0015", down=True)
            async with connection.begin():
                assert await connection.scalar(sa.text("SELECT count(*) FROM builds")) == 1
                assert await connection.scalar(sa.text("SELECT count(*) FROM deployments")) == 0
            await connection.run_sync(_migrate, "0016")
            async with connection.begin():
                assert await connection.scalar(sa.text("SELECT count(*) FROM builds")) == 1
                assert await connection.scalar(sa.text("SELECT count(*) FROM jobs")) == 1
                assert await connection.scalar(sa.text("SELECT count(*) FROM environments")) == 0
    finally:
        await db.dispose()


def test_on_sqlite(tmp_path: Path) -> None:
    asyncio.run(_check(f"sqlite:///{tmp_path / 'old.db'}"))


def test_on_postgresql(postgres_databases: PostgresDatabases) -> None:
    asyncio.run(_check(postgres_databases.require(empty=True)))
