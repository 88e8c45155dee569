"""Upgrading an SQLite database of an older release keeps its builds, steps and logs.

Alembic's batch mode on SQLite changes a table by copying it and dropping the old one; with
foreign keys on, dropping `jobs` deleted every build (ON DELETE CASCADE), so a user's first
start of a newer Solvyd emptied their build history. The server's own upgrade path is used
here (`upgrade_to_head`), from the oldest revision with builds, through every migration."""

import asyncio
import uuid
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Connection

from solvyd.server.db.migrate import alembic_config, upgrade_to_head
from solvyd.server.db.session import create_database


def _upgrade_to(connection: Connection, target: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, target)


async def _counts_after_upgrade(url: str) -> dict[str, int]:
    db = create_database(url)
    job, build = uuid.uuid4().hex, uuid.uuid4().hex
    try:
        async with db.engine.begin() as connection:
            await connection.run_sync(_upgrade_to, "0002")
            await connection.execute(
                sa.text(
                    "INSERT INTO jobs (id, name, description, labels, env, max_retries,"
                    " next_build_number, created_at, updated_at) VALUES (:id, 'app', '', '[]',"
                    " '{}', 0, 2, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                ),
                {"id": job},
            )
            await connection.execute(
                sa.text(
                    "INSERT INTO builds (id, job_id, number, status, trigger, env, labels, spec,"
                    " attempt, queued_at) VALUES (:id, :job, 1, 'success', 'manual', '{}', '[]',"
                    " '{}', 1, CURRENT_TIMESTAMP)"
                ),
                {"id": build, "job": job},
            )
            await connection.execute(
                sa.text(
                    "INSERT INTO build_steps (id, build_id, position, name, status)"
                    " VALUES (:id, :build, 0, 'test', 'success')"
                ),
                {"id": uuid.uuid4().hex, "build": build},
            )
            await connection.execute(
                sa.text(
                    "INSERT INTO build_logs (build_id, seq, step, lines, line_count, created_at)"
                    " VALUES (:build, 0, 'test', '[{\"text\": \"ok\"}]', 1, CURRENT_TIMESTAMP)"
                ),
                {"build": build},
            )
        await upgrade_to_head(db)
        async with db.engine.connect() as connection:
            counts = {
                table: int(await connection.scalar(sa.text(f"SELECT count(*) FROM {table}")))
                for table in ("jobs", "builds", "build_steps", "build_logs")
            }
            # Foreign keys are on again for the server's own connections.
            counts["foreign_keys"] = int(
                await connection.scalar(sa.text("PRAGMA foreign_keys")) or 0
            )
        return counts
    finally:
        await db.dispose()


def test_an_old_sqlite_database_keeps_its_builds(tmp_path: Path) -> None:
    counts = asyncio.run(_counts_after_upgrade(f"sqlite:///{tmp_path / 'old.db'}"))
    assert counts == {
        "jobs": 1,
        "builds": 1,
        "build_steps": 1,
        "build_logs": 1,
        "foreign_keys": 1,
    }
