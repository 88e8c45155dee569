"""Real databases for tests: a fresh SQLite file or a fresh PostgreSQL database per test.

PostgreSQL databases are cloned from a template migrated once per test run, so each test gets
an isolated, fully migrated database in tens of milliseconds. All are dropped at the end.
"""

import asyncio
import os
import shutil
import uuid
from pathlib import Path

import asyncpg
import pytest

from solvyd.server.db.migrate import upgrade_to_head
from solvyd.server.db.session import create_database

IN_CI = os.environ.get("CI", "").lower() == "true"
ADMIN_URL = os.environ.get(
    "SOLVYD_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def _pg_url(name: str) -> str:
    base, _, _ = ADMIN_URL.rpartition("/")
    return f"{base}/{name}"


async def _migrate(url: str) -> None:
    db = create_database(url)
    try:
        await upgrade_to_head(db)
    finally:
        await db.dispose()


class PostgresDatabases:
    def __init__(self) -> None:
        self.run_id = uuid.uuid4().hex[:10]
        self.template = f"solvyd_tpl_{self.run_id}"
        self.created: list[str] = []
        self._ready = False

    async def _admin(self) -> asyncpg.Connection:
        return await asyncio.wait_for(asyncpg.connect(ADMIN_URL), 10)

    async def available(self) -> str | None:
        """None if PostgreSQL answers, else why not."""
        try:
            connection = await self._admin()
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            return f"PostgreSQL at {ADMIN_URL} is not reachable: {exc}"
        await connection.close()
        return None

    def require(self, *, empty: bool = False) -> str:
        """A fresh database's URL (migrated, or `empty`), for a synchronous fixture or test.
        Without a PostgreSQL the test is skipped, and fails under CI=true: missing is failing."""
        problem = asyncio.run(self.available())
        if problem is not None:
            if IN_CI:
                pytest.fail(problem)
            pytest.skip(problem)
        return asyncio.run(self.create_empty() if empty else self.create())

    async def create(self) -> str:
        connection = await self._admin()
        try:
            if not self._ready:
                await connection.execute(f'CREATE DATABASE "{self.template}"')
                await _migrate(_pg_url(self.template))
                self._ready = True
            name = f"solvyd_t_{self.run_id}_{len(self.created)}"
            await connection.execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
            self.created.append(name)
            return _pg_url(name)
        finally:
            await connection.close()

    async def create_empty(self) -> str:
        """A database with no schema, for tests of the migrations themselves."""
        connection = await self._admin()
        try:
            name = f"solvyd_t_{self.run_id}_{len(self.created)}"
            await connection.execute(f'CREATE DATABASE "{name}"')
            self.created.append(name)
            return _pg_url(name)
        finally:
            await connection.close()

    async def drop_all(self) -> None:
        if not self.created and not self._ready:
            return
        connection = await self._admin()
        try:
            for name in [*self.created, self.template]:
                await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await connection.close()


class SqliteDatabases:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.template = root / "template.db"
        self.count = 0

    async def create(self) -> str:
        if not self.template.exists():
            await _migrate(f"sqlite:///{self.template}")
        self.count += 1
        path = self.root / f"test-{self.count}.db"
        shutil.copyfile(self.template, path)
        return f"sqlite:///{path}"
