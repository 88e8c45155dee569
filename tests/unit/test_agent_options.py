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
    assert "--default-image is for the docker executor" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr
