"""`make run` is what a newcomer types first: it must be able to use another port."""

import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _dry_run(*args: str) -> str:
    make = shutil.which("make")
    assert make is not None, "make is needed to run Solvyd from a checkout"
    result = subprocess.run(
        [make, "--dry-run", "run", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return next(line for line in result.stdout.splitlines() if "solvyd up" in line)


def test_make_run_passes_port_to_solvyd_up() -> None:
    assert _dry_run("PORT=9090").endswith("solvyd up --port 9090")
    assert _dry_run().endswith("solvyd up --port 8080")
