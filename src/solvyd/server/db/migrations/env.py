"""Alembic environment: runs on the connection the server hands in, or on SOLVYD_DATABASE_URL."""

import asyncio
import os

from alembic import context
from sqlalchemy.engine import Connection

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


async def _run_standalone() -> None:
    db = create_database(os.environ.get("SOLVYD_DATABASE_URL", "sqlite:///.solvyd/solvyd.db"))
    async with db.engine.begin() as connection:
        await connection.run_sync(_run)
    await db.dispose()


given = context.config.attributes.get("connection")
if given is not None:
    _run(given)
else:
    asyncio.run(_run_standalone())
