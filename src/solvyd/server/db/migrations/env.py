"""Alembic environment: runs on the connection the server hands in, or on SOLVYD_DATABASE_URL."""

import asyncio
import os

from alembic import context
from sqlalchemy.engine import Connection

from solvyd.server.db.migrate import foreign_keys_off
from solvyd.server.db.models import Base
from solvyd.server.db.session import create_database

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _run_without_foreign_keys(connection: Connection) -> None:
    # By hand (`alembic upgrade`) as on the server's start: SQLite's batch copies must not
    # cascade (migrate.upgrade says why).
    with foreign_keys_off(connection), connection.begin():
        _run(connection)


async def _run_standalone() -> None:
    db = create_database(os.environ.get("SOLVYD_DATABASE_URL", "sqlite:///.solvyd/solvyd.db"))
    async with db.engine.connect() as connection:
        await connection.run_sync(_run_without_foreign_keys)
    await db.dispose()


given = context.config.attributes.get("connection")
if given is not None:
    _run(given)
else:
    asyncio.run(_run_standalone())
