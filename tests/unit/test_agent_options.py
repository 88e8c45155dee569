"""`solvyd agent` options refused before the agent starts: a clear one-line error, no
traceback, a nonzero exit, and nothing sent to a server."""

import os
import subprocess
import sys
from pathlib import Path

from tests.support.processes import AGENT_TOKEN


def test_a_default_image_for_the_local_executor_is_refused(tmp_path: Path) -> None:
    # Through its environment variable, as a service unit would set it (the e2e tests pass
    # the option itself to a docker agent).
    env = {**os.environ, "SOLVYD_AGENT_TOKEN": AGENT_TOKEN, "SOLVYD_DEFAULT_IMAGE": "busybox"}
    server = ["--server", "http://127.0.0.1:9", "--work-dir", str(tmp_path / "work")]
    result = subprocess.run(
        [sys.executable, "-m", "solvyd.cli", "agent", *server],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "--default-image is for the docker and kubernetes executors" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_solvyd_up_refuses_to_pass_its_servers_credentials_to_steps(tmp_path: Path) -> None:
    """The server of `solvyd up` signs in to S3 and PostgreSQL with variables of the same
    environment: naming them for the steps is refused before anything starts."""
    env = {**os.environ, "SOLVYD_DATA_DIR": str(tmp_path / "data")}
    result = subprocess.run(
        [sys.executable, "-m", "solvyd.cli", "up", "--port", "9"],
        env={**env, "SOLVYD_ENV_PASSTHROUGH": "HTTPS_PROXY,AWS_SECRET_ACCESS_KEY,PGPASSWORD"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "solvyd up's server reads AWS_SECRET_ACCESS_KEY, PGPASSWORD" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert not (tmp_path / "data").exists()
