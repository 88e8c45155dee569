"""Alembic is the only way the schema is made: the server runs `upgrade head` on start.

Alembic (with Mako and the Pygments lexers under it) holds ~10 MB of a server's memory for
as long as it runs, for a start that nearly always finds the schema at head already. So the
start first reads the database's revision and this version's head (from the revision files,
without alembic) and loads alembic only when they differ."""

import contextlib
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from solvyd.server.db.session import Database

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
VERSIONS_DIR = MIGRATIONS_DIR / "versions"
# How every revision file names itself and its parent (alembic's template writes them so).
_REVISION = re.compile(r'^revision: str = "([^"]+)"$', re.MULTILINE)
_DOWN_REVISION = re.compile(r'^down_revision: str \| None = (None|"([^"]+)")$', re.MULTILINE)
# Server replicas and the migration Job may start at once on one PostgreSQL: each upgrade
# waits for this transaction-scoped advisory lock, so one migrates and the others then find
# the schema at head. (Any fixed number: it only has to be the same in every process.)
MIGRATION_LOCK_KEY = 5_010_766_917


class ForeignKeyViolation(RuntimeError):
    """The migrated SQLite database has rows whose foreign keys point nowhere."""


def alembic_config() -> "Config":
    from alembic.config import Config

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
    from alembic import command
    from alembic.runtime.migration import MigrationContext

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


@cache
def head_revision() -> str | None:
    """This version's head revision, read from the revision files; None when they do not all
    say plainly which revision they are and follow (then alembic decides)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in VERSIONS_DIR.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        revision, down = _REVISION.findall(text), _DOWN_REVISION.findall(text)
        if len(revision) != 1 or len(down) != 1:
            return None
        revisions.add(revision[0])
        if down[0][1]:
            parents.add(down[0][1])
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def current_revision(connection: Connection) -> str | None:
    """The revision the database is at, read without alembic (None: none, or several); ends
    the transaction it began."""
    try:
        if not sa.inspect(connection).has_table("alembic_version"):
            return None
        rows = connection.execute(sa.text("SELECT version_num FROM alembic_version")).all()
    finally:
        connection.rollback()
    return str(rows[0][0]) if len(rows) == 1 else None


def _upgrade_unless_at_head(connection: Connection) -> tuple[str | None, str | None]:
    head = head_revision()
    if head is not None and current_revision(connection) == head:
        return head, head
    return upgrade(connection)


async def upgrade_to_head(db: Database) -> tuple[str | None, str | None]:
    """The revisions before and after, as `upgrade`; alembic is loaded only when the schema
    is not at this version's head."""
    async with db.engine.connect() as connection:
        return await connection.run_sync(_upgrade_unless_at_head)
