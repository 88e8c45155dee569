"""Migration 0014 on a database with data, on both engines: existing jobs get no rules and
existing builds notify nobody; deliveries can be stored; a downgrade and a new upgrade keep
the builds (SQLite's batch mode copies tables: with foreign keys on, that would delete them)."""

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
    """As the server migrates: SQLite's foreign keys off while batch mode copies tables."""
    config = alembic_config()
    config.attributes["connection"] = connection
    with foreign_keys_off(connection), connection.begin():
        (command.downgrade if down else command.upgrade)(config, target)


async def _check(url: str) -> None:
    db = create_database(url)
    sqlite = url.startswith("sqlite")

    def uid(value: uuid.UUID) -> object:
        return value.hex if sqlite else value

    job, build = uuid.uuid4(), uuid.uuid4()
    try:
        async with db.engine.connect() as connection:
            await connection.run_sync(_migrate, "0013")
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
                        " :job, 1, 'failure', 'manual', '{}', '[]', '{}', 1,"
                        " CURRENT_TIMESTAMP, 0, false)"
                    ),
                    {"id": uid(build), "job": uid(job)},
                )
            await connection.run_sync(_migrate, "0014")
            async with connection.begin():
                rules = await connection.scalar(sa.text("SELECT notifications FROM jobs"))
                assert rules in ([], "[]")
                notifies = await connection.scalar(sa.text("SELECT notifies FROM builds"))
                assert notifies in (False, 0)
                await connection.execute(
                    sa.text(
                        "INSERT INTO notification_deliveries (id, build_id, rule_index, rule,"
                        " type, target, event, outcome, status, attempts, next_attempt_at,"
                        ' created_at) VALUES (:id, :build, 0, \'{"type": "webhook"}\','
                        " 'webhook', 'webhook', 'build.finished', 'failure', 'pending', 0,"
                        " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                    ),
                    {"id": uid(uuid.uuid4()), "build": uid(build)},
                )
            await connection.run_sync(_migrate, "0013", down=True)
            async with connection.begin():
                assert await connection.scalar(sa.text("SELECT count(*) FROM builds")) == 1
            await connection.run_sync(_migrate, "0014")
            async with connection.begin():
                assert await connection.scalar(sa.text("SELECT count(*) FROM builds")) == 1
                assert await connection.scalar(sa.text("SELECT count(*) FROM jobs")) == 1
    finally:
        await db.dispose()


def test_on_sqlite(tmp_path: Path) -> None:
    asyncio.run(_check(f"sqlite:///{tmp_path / 'old.db'}"))


def test_on_postgresql(postgres_databases: PostgresDatabases) -> None:
    asyncio.run(_check(postgres_databases.require(empty=True)))
