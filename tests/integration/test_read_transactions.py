"""`Database.read`: a read on SQLite holds no lock, so a long one (the statistics of a window, a
deep page) never holds up a build's report; on PostgreSQL it is READ ONLY."""

import asyncio
import uuid

import pytest
import sqlalchemy as sa

from solvyd.server.db.models import Plugin
from solvyd.server.db.session import create_database


# Each on its own database only (PostgreSQL readers never block writers; SQLite has no
# read-only transactions), chosen here rather than skipped on the other.
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_writer_commits_while_a_sqlite_read_is_open(database_url: str) -> None:
    db = create_database(database_url)
    try:
        async with db.read() as reading:
            before = await reading.scalar(sa.select(sa.func.count()).select_from(Plugin))

            async def write() -> None:
                async with db.transaction() as writing:
                    writing.add(Plugin(name=f"p-{uuid.uuid4().hex[:6]}"))

            # A writer behind a lock would wait out busy_timeout (30 s).
            await asyncio.wait_for(write(), timeout=5)
            # The reader's snapshot stays as it began.
            assert await reading.scalar(sa.select(sa.func.count()).select_from(Plugin)) == before
        async with db.read() as reading:
            assert await reading.scalar(sa.select(sa.func.count()).select_from(Plugin)) == (
                before + 1
            )
    finally:
        await db.dispose()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_postgresql_read_refuses_writes(database_url: str) -> None:
    db = create_database(database_url)
    try:
        with pytest.raises(sa.exc.DBAPIError, match="read-only transaction"):
            async with db.read() as reading:
                reading.add(Plugin(name="never"))
                await reading.flush()
        async with db.read() as reading:
            assert (
                await reading.scalar(
                    sa.select(sa.func.count()).select_from(Plugin).where(Plugin.name == "never")
                )
                == 0
            )
    finally:
        await db.dispose()
