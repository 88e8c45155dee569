"""What a running server and agent hold starts with what they import. A server loads neither
alembic (its schema is migrated by a forked child that exits) nor the artifact store, notifier,
executor and protocol libraries it is not configured for; an agent loads nothing of the
server's stack, nor the Docker SDK when it runs the local executor. Each process here is the
real `solvyd` command, run by a wrapper that writes the modules it had loaded when it exits,
after a build has gone through both."""

import sys
import uuid
from pathlib import Path

import pytest

from tests.e2e.helpers import UserApi, one_step
from tests.support.databases import PostgresDatabases
from tests.support.processes import start_agent, start_server

MODULES_FILE_ENV = "SOLVYD_TEST_MODULES_FILE"
# `solvyd ...`, with the names of every module loaded written to a file at exit (a forked
# child ends in os._exit and writes none).
RECORDING_SOLVYD = [
    sys.executable,
    "-c",
    "import atexit, os, sys\n"
    "def record():\n"
    f"    with open(os.environ[{MODULES_FILE_ENV!r}], 'w') as out:\n"
    "        out.write('\\n'.join(sorted(sys.modules)))\n"
    "atexit.register(record)\n"
    "from solvyd.cli.main import main\n"
    "sys.argv = ['solvyd', *sys.argv[1:]]\n"
    "main()\n",
]
# alembic brings mako and pygments' lexers; botocore is boto3's; websockets is uvicorn's
# default for a protocol the server does not serve.
SERVER_NEVER = {
    "alembic",
    "mako",
    "boto3",
    "botocore",
    "docker",
    "aiosmtplib",
    "websockets",
    "kubernetes_asyncio",
}
AGENT_NEVER = {
    "sqlalchemy",
    "alembic",
    "asyncpg",
    "fastapi",
    "starlette",
    "uvicorn",
    "pydantic_settings",
    "boto3",
    "docker",
    "requests",
}


def _top_level(path: Path) -> set[str]:
    return {name.split(".")[0] for name in path.read_text().split()}


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_a_server_and_agent_after_a_build_hold_only_what_they_use(
    database: str, postgres_databases: PostgresDatabases, tmp_path: Path, log_dir: Path
) -> None:
    # A database with no schema yet: the start migrates it.
    if database == "postgresql":
        url = postgres_databases.require(empty=True)
    else:
        url = f"sqlite:///{tmp_path / 'fresh.db'}"
    server_modules, agent_modules = tmp_path / "server-modules", tmp_path / "agent-modules"
    server = start_server(
        url,
        tmp_path / "data",
        log_dir,
        program=RECORDING_SOLVYD,
        **{MODULES_FILE_ENV: str(server_modules)},
    )
    try:
        agent = start_agent(
            server.url,
            log_dir,
            tmp_path / "work",
            name="a",
            program=RECORDING_SOLVYD,
            extra_env={MODULES_FILE_ENV: str(agent_modules)},
        )
        try:
            api = UserApi(server)
            job = api.create_job(f"j-{uuid.uuid4().hex[:6]}", one_step("true"))
            build = api.wait_for_finish(api.trigger(job["id"])["id"])
            assert build["status"] == "success", build
            api.http.close()
        finally:
            assert agent.stop() == 0, agent.output()
    finally:
        assert server.process.stop() == 0, server.process.output()

    assert _top_level(server_modules) & SERVER_NEVER == set()
    # The record is a serving server's: its own stack is in it.
    assert {"sqlalchemy", "fastapi", "uvicorn"} <= _top_level(server_modules)
    assert _top_level(agent_modules) & AGENT_NEVER == set()
