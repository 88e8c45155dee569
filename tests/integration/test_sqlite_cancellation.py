"""A transaction cancelled in the middle of a query never leaves SQLite's write lock held.

Real SQLite files through the server's own `Database` (SQLAlchemy, aiosqlite). The query is
made slow on purpose, so that the cancellation lands while it runs every time: the way a long
poll is cancelled when its client goes away (issue 14, item 0). The end-to-end storm is in
tests/e2e/test_sqlite_cancellation.py.
"""

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa

from solvyd.server.db.models import User
from solvyd.server.db.session import Database, create_database
from tests.support.databases import SqliteDatabases

# A query that takes tens to hundreds of milliseconds before its first row (more on a busy
# machine): long enough to be cancelled while it runs, short enough to end well within
# WRITE_WITHIN_SECONDS.
SLOW_COUNT = sa.text(
    "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 200000)"
    " SELECT count(*) FROM n"
)
CANCEL_AFTER_SECONDS = 0.02
# The write waits for the cancelled query to end on its connection's thread (it is not
# interrupted) and for that connection's rollback: a second or two on a loaded machine. The
# defect this guards against held the lock for as long as the cancelled cursor lived, here
# forever: the write would wait out the 30 s busy timeout and fail.
WRITE_WITHIN_SECONDS = 10.0


@pytest.fixture
async def db(sqlite_databases: SqliteDatabases) -> AsyncIterator[Database]:
    database = create_database(await sqlite_databases.create())
    async with database.transaction() as session:  # a connection ready, so queries start at once
        await session.execute(sa.text("SELECT 1"))
    try:
        yield database
    finally:
        await database.dispose()


async def _slow_read(db: Database) -> None:
    async with db.transaction() as session:
        await session.execute(SLOW_COUNT)


async def _write_soon(db: Database) -> None:
    async with asyncio.timeout(WRITE_WITHIN_SECONDS), db.transaction() as session:
        session.add(User(username=f"u-{uuid.uuid4().hex[:8]}", password_hash="-"))


async def test_a_transaction_cancelled_mid_query_leaves_writes_possible(db: Database) -> None:
    # Kept referenced, like a cancelled request whose traceback lives on in a reference cycle
    # until the garbage collector gets to it: its cursor stays open all that time.
    cancelled = []
    for _ in range(3):
        task = asyncio.create_task(_slow_read(db))
        await asyncio.sleep(CANCEL_AFTER_SECONDS)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        cancelled.append(task)
        await _write_soon(db)


async def test_many_cancelled_transactions_leave_writes_possible(db: Database) -> None:
    tasks = [asyncio.create_task(_slow_read(db)) for _ in range(10)]
    await asyncio.sleep(CANCEL_AFTER_SECONDS)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await _write_soon(db)
