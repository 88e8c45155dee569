"""`solvyd migrate` brings a database to this version's schema once, and concurrent upgrades
(the migration Job and every server replica starting together on one PostgreSQL) are safe."""

import asyncio
import os
import subprocess
from pathlib import Path

from alembic.script import ScriptDirectory

from solvyd.server.db.migrate import alembic_config, head_revision, upgrade_to_head
from solvyd.server.db.session import create_database
from tests.support.databases import PostgresDatabases
from tests.support.processes import SOLVYD

HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()


def _empty_postgres(postgres_databases: PostgresDatabases) -> str:
    return postgres_databases.require(empty=True)


def _migrate(database_url: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SOLVYD, "migrate"],
        env={**os.environ, "SOLVYD_DATABASE_URL": database_url, "SOLVYD_DATA_DIR": str(data_dir)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_migrate_upgrades_once_then_finds_the_schema_at_head(
    postgres_databases: PostgresDatabases, tmp_path: Path
) -> None:
    url = _empty_postgres(postgres_databases)
    first = _migrate(url, tmp_path / "data")
    assert first.returncode == 0, first.stderr
    assert f"from None to {HEAD}" in first.stderr
    again = _migrate(url, tmp_path / "data")
    assert again.returncode == 0, again.stderr
    assert f"up to date ({HEAD})" in again.stderr


def test_the_head_the_start_reads_without_alembic_is_alembics() -> None:
    # A start that finds the database at this head skips alembic: a head read wrong would
    # leave a schema behind.
    assert head_revision() == HEAD


def test_migrate_makes_the_default_sqlite_database(tmp_path: Path) -> None:
    result = _migrate("", tmp_path / "data")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "data" / "solvyd.db").stat().st_mode & 0o077 == 0


def test_an_unreachable_database_is_one_line_without_its_password(tmp_path: Path) -> None:
    result = _migrate("postgresql://solvyd:hunter2-secret@127.0.0.1:1/solvyd", tmp_path)
    assert result.returncode == 1
    assert "could not be migrated" in result.stderr
    assert "hunter2-secret" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


async def _upgrade_together(url: str, count: int) -> list[tuple[str | None, str | None]]:
    databases = [create_database(url) for _ in range(count)]
    try:
        # One event loop, separate connections: their statements interleave as separate
        # processes' would, and without the migration lock they block each other.
        return await asyncio.wait_for(
            asyncio.gather(*(upgrade_to_head(db) for db in databases)), 60
        )
    finally:
        for db in databases:
            await db.dispose()


def test_concurrent_upgrades_on_postgresql_migrate_once(
    postgres_databases: PostgresDatabases,
) -> None:
    url = _empty_postgres(postgres_databases)
    revisions = asyncio.run(_upgrade_together(url, 3))
    assert sorted(revisions, key=str) == [(HEAD, HEAD), (HEAD, HEAD), (None, HEAD)]
