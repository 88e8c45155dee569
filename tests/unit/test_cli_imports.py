"""The CLI's entry point stays light: `solvyd agent`, `solvyd jobs ...` and the rest start without
the server's database stack, which each command that needs it imports itself. A top-level import
of SQLAlchemy in one command module (once `solvyd migrate`'s) made every agent load ~80 modules
and 12 MB it never uses; the Docker SDK under the executors' registry, and uvicorn and the
server's settings under `runners`, ~10 MB more."""

import subprocess
import sys

SERVER_STACK = (
    "sqlalchemy",
    "alembic",
    "asyncpg",
    "fastapi",
    "starlette",
    "uvicorn",
    "pydantic_settings",
    "docker",
    "requests",
)


def test_the_cli_entry_point_loads_no_database_or_web_stack() -> None:
    script = "import sys\nimport solvyd.cli.main\nprint('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", script], check=True, capture_output=True, text=True, timeout=60
    ).stdout
    loaded = {name.split(".")[0] for name in out.split()}
    assert not loaded.intersection(SERVER_STACK)
