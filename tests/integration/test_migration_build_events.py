"""Migration 0009 on a database with data, on both engines: existing builds keep their rows
and are given their trigger as their event; a downgrade and a new upgrade work.

SQLite matters most: alembic's batch mode copies a table and drops the old one, and with
foreign keys on, dropping `jobs` would delete every build (ON DELETE CASCADE)."""

import asyncio
import uuid
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Connection

from solvyd.server.db.migrate import alembic_config
from solvyd.server.db.session import create_database
from tests.support.databases import PostgresDatabases


def _migrate(connection: Connection, target: str, *, down: bool = False) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    (command.downgrade if down else command.upgrade)(config, target)


async def _check(url: str) -> None:
    db = create_database(url)
    sqlite = url.startswith("sqlite")

    def uid(value: uuid.UUID) -> object:
        return value.hex if sqlite else value

    job, build, retry = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    try:
        async with db.engine.begin() as connection:
            await connection.run_sync(_migrate, "0008")
            await connection.execute(
                sa.text(
                    "INSERT INTO jobs (id, name, description, labels, env, max_retries,"
                    " next_build_number, created_at, updated_at) VALUES (:id, 'app', '', '[]',"
                    " '{}', 0, 3, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                ),
                {"id": uid(job)},
            )
            for build_id, number, trigger in ((build, 1, "manual"), (retry, 2, "retry")):
                await connection.execute(
                    sa.text(
                        "INSERT INTO builds (id, job_id, number, status, trigger, env, labels,"
                        " spec, attempt, queued_at, log_bytes, log_truncated) VALUES (:id,"
                        " :job, :number, 'success', :trigger, '{}', '[]', '{}', 1,"
                        " CURRENT_TIMESTAMP, 0, false)"
                    ),
                    {"id": uid(build_id), "job": uid(job), "number": number, "trigger": trigger},
                )
            await connection.run_sync(_migrate, "0009")
            rows = await connection.execute(
                sa.text("SELECT number, event, awaiting_approval FROM builds ORDER BY number")
            )
            assert [(n, e, bool(a)) for n, e, a in rows] == [
                (1, "manual", False),
                (2, "retry", False),
            ]
            fork_approval = await connection.scalar(sa.text("SELECT fork_approval FROM jobs"))
            assert fork_approval in (False, 0)
            await connection.run_sync(_migrate, "0008", down=True)
            await connection.run_sync(_migrate, "0009")
            assert await connection.scalar(sa.text("SELECT count(*) FROM builds")) == 2
    finally:
        await db.dispose()


def test_on_sqlite(tmp_path: Path) -> None:
    asyncio.run(_check(f"sqlite:///{tmp_path / 'old.db'}"))


def test_on_postgresql(postgres_databases: PostgresDatabases) -> None:
    asyncio.run(_check(postgres_databases.require(empty=True)))
