"""Engine and session factory for the two supported databases."""

import contextlib
import sqlite3
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session, SessionTransaction
from sqlalchemy.pool import QueuePool


def async_database_url(url: str) -> str:
    """Turn the plain URLs users write into ones naming our async drivers."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    elif backend in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    else:
        raise ValueError(f"unsupported database URL scheme {parsed.drivername!r}")
    return parsed.render_as_string(hide_password=False)


class _RollbackBeforeClose(sqlite3.Connection):
    """A SQLite connection that ends its transaction before it closes.

    A request cancelled in the middle of a query (a long poll whose client went away) makes
    SQLAlchemy discard its connection without a rollback: it counts the cancellation as a
    possibly broken connection, and closing one is supposed to end its transaction. SQLite
    does not end it while a statement of the connection is unfinished (the cancelled query's
    cursor, kept alive by the cancelled request's traceback until the garbage collector gets
    to it): `sqlite3_close_v2` then leaves a "zombie" connection that keeps its transaction,
    and with it the write lock that every transaction here takes (BEGIN IMMEDIATE), for as
    long as that cursor lives, often minutes. So roll back first: it ends the transaction and
    every statement in it, whatever still refers to them. aiosqlite runs a connection's calls
    in order on its own thread, so this runs after whatever the cancelled request had queued,
    and on every path that closes a connection (a pool's invalidation, its terminate, a
    garbage-collected connection). Issue 14, item 0."""

    def close(self) -> None:
        # Already closed (aiosqlite may close twice), or broken: the close below frees it.
        with contextlib.suppress(sqlite3.Error):
            self.rollback()
        super().close()


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin (see _on_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        if conn.get_execution_options().get(_READ_ONLY):
            # A reader takes no lock: in WAL mode it reads its snapshot while the one writer
            # writes, so a long read (statistics over a window) holds no report up.
            conn.exec_driver_sql("BEGIN DEFERRED")
            return
        # IMMEDIATE takes the write lock up front (waiting on busy_timeout), so a transaction
        # that reads and then writes can never fail half-way with "database is locked".
        conn.exec_driver_sql("BEGIN IMMEDIATE")


# The execution option that marks a connection of `Database.read`.
_READ_ONLY = "solvyd_read_only"


# Where a transaction keeps the facts it leaves for `Database.on_commit`: each with the
# savepoint it was left in (None: the transaction itself).
_FACTS = "solvyd.after_commit"


def after_commit(session: AsyncSession, fact: object) -> None:
    """Leave `fact` for the database's commit observer (`Database.on_commit`): it hears it once
    this session's transaction (`Database.transaction`) has committed, never if it rolls back,
    nor if the savepoint it was left in rolls back (`_forget_rolled_back_facts`).
    How the services tell the metrics what happened without knowing about them."""
    savepoint = session.sync_session.get_nested_transaction()
    session.info.setdefault(_FACTS, []).append((savepoint, fact))


def _inside(savepoint: SessionTransaction | None, rolled_back: SessionTransaction) -> bool:
    """Whether a fact left in `savepoint` was undone by the rollback of `rolled_back`."""
    if rolled_back.parent is None:
        return True  # the whole transaction
    while savepoint is not None:
        if savepoint is rolled_back:
            return True
        savepoint = savepoint.parent
    return False


@event.listens_for(Session, "after_soft_rollback")
def _forget_rolled_back_facts(session: Session, previous_transaction: SessionTransaction) -> None:
    # A savepoint that rolls back (`begin_nested`, as a webhook's or a schedule's trigger does
    # around each job) undoes what it did: what it said happened did not.
    facts = session.info.get(_FACTS)
    if facts:
        session.info[_FACTS] = [
            (savepoint, fact)
            for savepoint, fact in facts
            if not _inside(savepoint, previous_transaction)
        ]


@dataclass
class Database:
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    # Sessions of `read`: the same pool, their connections marked read-only.
    read_sessionmaker: async_sessionmaker[AsyncSession]
    # Hears the facts a committed transaction left (`after_commit`).
    on_commit: Callable[[Sequence[object]], None] | None = None

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One unit of work: commits on success, rolls back on any exception."""
        async with self.sessionmaker() as session:
            async with session.begin():
                yield session
            facts = session.info.pop(_FACTS, None)
            if facts and self.on_commit is not None:
                self.on_commit([fact for _, fact in facts])

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A transaction for reads only. On SQLite it takes no lock, so a long read never
        waits for a writer nor holds one up (a write in it would take the lock late and may
        fail busy); on PostgreSQL it is READ ONLY, and a write in it fails."""
        async with self.read_sessionmaker() as session, session.begin():
            yield session

    def spare_connections(self) -> int:
        """How many more connections a transaction could take now without waiting: the pool's
        size less those in use (SQLite's pool is not bounded: a large number)."""
        pool = self.engine.pool
        if not isinstance(pool, QueuePool):
            return 1_000
        return max(0, pool.size() - pool.checkedout())

    async def dispose(self) -> None:
        await self.engine.dispose()


# Connections a server process keeps, and all it opens: a request beyond them waits for one
# (up to the pool's 30 s). An overflow above the pool was opened for one transaction and
# closed after it: a burst of 50 agents' claims and reports opened and closed 250 connections
# in bench/scale.py's backlog, each a PostgreSQL backend started and a TLS handshake tried.
# Long polls hold none while they wait, so this is what concurrent transactions need, and a
# process on one core runs no more than this at once to any gain.
DEFAULT_POOL_SIZE = 30


def create_database(url: str, *, pool_size: int = DEFAULT_POOL_SIZE) -> Database:
    async_url = async_database_url(url)
    if async_url.startswith("sqlite"):
        engine = create_async_engine(async_url, connect_args={"factory": _RollbackBeforeClose})
        _configure_sqlite(engine)
    else:
        # No pre-ping: it costs a round trip per checkout; a connection broken by a database
        # restart fails one request, and SQLAlchemy then drops the pool's stale connections.
        engine = create_async_engine(async_url, pool_size=pool_size, max_overflow=0)
    # On PostgreSQL asyncpg begins these with BEGIN READ ONLY: no round trip more.
    reader = engine.execution_options(**{_READ_ONLY: True, "postgresql_readonly": True})
    return Database(
        engine,
        async_sessionmaker(engine, expire_on_commit=False),
        async_sessionmaker(reader, expire_on_commit=False),
    )
