"""Migration 0019 on a database with data, on both engines: jobs and builds stay, a job's
retention starts unset (the server's settings, off by default: an upgrade removes nothing),
store_deletions takes rows, and a downgrade and a new upgrade keep the jobs and builds."""

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
    job, build = uuid.uuid4(), uuid.uuid4()
    try:
        async with db.engine.connect() as connection:
            await connection.run_sync(_migrate, "0018")
            async with connection.begin():
                await connection.execute(
                    sa.text(
                        "INSERT INTO jobs (id, name, description, labels, env, max_retries,"
                        " next_build_number, created_at, updated_at) VALUES (:id, 'app', '',"
                        " '[]', '{}', 0, 2, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                    ),
                    {"id": job.hex if sqlite else job},
                )
                await connection.execute(
                    sa.text(
                        "INSERT INTO builds (id, job_id, number, status, trigger, env, labels,"
                        " spec, attempt, queued_at, log_bytes, log_truncated) VALUES (:id,"
                        " :job, 1, 'success', 'manual', '{}', '[]', '{}', 1,"
                        " CURRENT_TIMESTAMP, 0, false)"
                    ),
                    {"id": build.hex if sqlite else build, "job": job.hex if sqlite else job},
                )
            await connection.run_sync(_migrate, "0019")
            async with connection.begin():
                assert await connection.scalar(sa.text("SELECT count(*) FROM builds")) == 1
                assert await connection.scalar(sa.text("SELECT retention FROM jobs")) is None
                await connection.execute(
                    sa.text(
                        "INSERT INTO store_deletions (key, created_at)"
                        " VALUES ('builds/x/y', CURRENT_TIMESTAMP)"
                    )
                )
            await connection.run_sync(_migrate, "0018", down=True)
            await connection.run_sync(_migrate, "0019")
            async with connection.begin():
                assert await connection.scalar(sa.text("SELECT count(*) FROM jobs")) == 1
                assert await connection.scalar(sa.text("SELECT count(*) FROM builds")) == 1
                assert await connection.scalar(sa.text("SELECT count(*) FROM store_deletions")) == 0
    finally:
        await db.dispose()


def test_on_sqlite(tmp_path: Path) -> None:
    asyncio.run(_check(f"sqlite:///{tmp_path / 'old.db'}"))


def test_on_postgresql(postgres_databases: PostgresDatabases) -> None:
    asyncio.run(_check(postgres_databases.require(empty=True)))
