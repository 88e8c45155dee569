"""Alembic is the only way the schema is made: the server runs `upgrade head` on start."""

import contextlib
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

from solvyd.server.db.session import Database

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# Server replicas and the migration Job may start at once on one PostgreSQL: each upgrade
# waits for this transaction-scoped advisory lock, so one migrates and the others then find
# the schema at head. (Any fixed number: it only has to be the same in every process.)
MIGRATION_LOCK_KEY = 5_010_766_917


class ForeignKeyViolation(RuntimeError):
    """The migrated SQLite database has rows whose foreign keys point nowhere."""


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def upgrade(connection: Connection, target: str = "head") -> tuple[str | None, str | None]:
    """Upgrade the schema on `connection`, which must not be in a transaction yet; the
    revisions before and after.

    On SQLite, alembic's batch mode changes a table by copying it and dropping the old one;
    with foreign keys on, dropping `jobs` deletes every build (ON DELETE CASCADE), and
    dropping `builds` every step and log line. So foreign keys are off while the migrations
    run (SQLite ignores the switch inside a transaction, hence before it) and checked after."""
    config = alembic_config()
    config.attributes["connection"] = connection
    with foreign_keys_off(connection), connection.begin():
        if connection.dialect.name == "postgresql":
            lock = sa.text("SELECT pg_advisory_xact_lock(:key)")
            connection.execute(lock, {"key": MIGRATION_LOCK_KEY})
        before = MigrationContext.configure(connection).get_current_revision()
        command.upgrade(config, target)
        after = MigrationContext.configure(connection).get_current_revision()
        # The check reads every table with a reference (build_logs too): only after a change.
        if connection.dialect.name == "sqlite" and after != before:
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise ForeignKeyViolation(
                    f"the migrated database has {len(broken)} rows whose references point "
                    f"nowhere (first: table {broken[0][0]}); nothing was changed"
                )
    return before, after


@contextlib.contextmanager
def foreign_keys_off(connection: Connection) -> Iterator[None]:
    if connection.dialect.name != "sqlite":
        yield
        return
    # The DBAPI connection: a statement through SQLAlchemy would begin a transaction first.
    raw = connection.connection.dbapi_connection
    assert raw is not None  # noqa: S101 - a checked-out connection has one
    _pragma(raw, "PRAGMA foreign_keys=OFF")
    try:
        yield
    finally:
        _pragma(raw, "PRAGMA foreign_keys=ON")


def _pragma(raw: object, statement: str) -> None:
    cursor = raw.cursor()  # type: ignore[attr-defined]
    try:
        cursor.execute(statement)
    finally:
        cursor.close()


async def upgrade_to_head(db: Database) -> tuple[str | None, str | None]:
    """The revisions before and after, as `upgrade`."""
    async with db.engine.connect() as connection:
        return await connection.run_sync(upgrade)
