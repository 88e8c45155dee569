"""Shared fixtures: a real database per test (SQLite and PostgreSQL), the app in-process,
real server processes. Under CI=true a missing PostgreSQL fails the tests instead of skipping."""

import asyncio
import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from solvyd.server.app import create_app
from solvyd.server.settings import ServerSettings
from tests.support.databases import PostgresDatabases, SqliteDatabases
from tests.support.processes import ADMIN_PASSWORD, AGENT_TOKEN, ServerProcess, start_server

IN_CI = os.environ.get("CI", "").lower() == "true"


@pytest.fixture(scope="session")
def postgres_databases() -> Iterator[PostgresDatabases]:
    databases = PostgresDatabases()
    yield databases
    asyncio.run(databases.drop_all())


@pytest.fixture(scope="session")
def sqlite_databases(tmp_path_factory: pytest.TempPathFactory) -> SqliteDatabases:
    return SqliteDatabases(tmp_path_factory.mktemp("sqlite"))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest,
    sqlite_databases: SqliteDatabases,
    postgres_databases: PostgresDatabases,
) -> str:
    if request.param == "sqlite":
        return asyncio.run(sqlite_databases.create())
    return postgres_databases.require()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> ServerSettings:
    return ServerSettings(
        database_url=database_url,
        data_dir=tmp_path / "data",
        admin_password=ADMIN_PASSWORD,
        agent_token=AGENT_TOKEN,
        secret_key="test-secret-key-0123456789abcdef0123456789",
    )


@pytest.fixture
async def client(settings: ServerSettings) -> AsyncIterator[httpx.AsyncClient]:
    """The app in-process (lifespan included), spoken to over ASGI."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            http.app = app  # type: ignore[attr-defined]
            yield http


@pytest.fixture
def log_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="solvyd-test-logs-") as path:
        yield Path(path)


@pytest.fixture
def server(database_url: str, tmp_path: Path, log_dir: Path) -> Iterator[ServerProcess]:
    """A real `solvyd server` process on a free loopback port."""
    process = start_server(database_url, tmp_path / "server-data", log_dir)
    try:
        yield process
    finally:
        process.process.stop()
