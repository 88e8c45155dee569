"""A job's fork settings through the real `solvyd` command against a real server: `jobs
create` and `jobs update` (and `edit`) set `fork_secrets` and `fork_approval`, `jobs show`
prints them, and the API holds what the CLI was told."""

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.processes import ADMIN_PASSWORD, ServerProcess

pytestmark = [
    pytest.mark.e2e,
    # The CLI's behaviour does not depend on the database: one is enough.
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]
REPO = Path(__file__).resolve().parents[2]
PIPELINE = "steps:\n  - name: s\n    commands: [echo hi]\n"


def _cli(config: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "solvyd.cli", *args],
        env={**os.environ, "SOLVYD_CLI_CONFIG": str(config), "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        input=stdin,
        check=False,
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result


def _job(server: ServerProcess, name: str) -> dict[str, Any]:
    response = httpx.get(
        f"{server.url}/api/v1/jobs",
        params={"name": name},
        headers={"Authorization": f"Bearer {server.admin_token()}"},
        timeout=10,
    )
    (job,) = response.json()["items"]
    return dict(job)


def _shown(config: Path, name: str) -> list[str]:
    shown = _cli(config, "jobs", "show", name)
    assert shown.returncode == 0, shown.stderr
    return [line for line in shown.stdout.splitlines() if line.startswith("fork_")]


def test_fork_settings_from_create_update_and_show(server: ServerProcess, tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    login = _cli(
        config, "login", server.url, "-u", "admin", "--password-stdin", stdin=ADMIN_PASSWORD
    )
    assert login.returncode == 0, login.stderr
    pipeline = tmp_path / "pipeline.yml"
    pipeline.write_text(PIPELINE)

    plain = _cli(config, "jobs", "create", "plain", "--pipeline", str(pipeline))
    assert plain.returncode == 0, plain.stderr
    assert (_job(server, "plain")["fork_secrets"], _job(server, "plain")["fork_approval"]) == (
        False,
        False,
    )
    assert _shown(config, "plain") == ["fork_secrets: False", "fork_approval: False"]

    create = ["jobs", "create", "forked", "--pipeline", str(pipeline)]
    created = _cli(config, *create, "--fork-secrets", "--fork-approval")
    assert created.returncode == 0, created.stderr
    job = _job(server, "forked")
    assert (job["fork_secrets"], job["fork_approval"]) == (True, True)
    assert _shown(config, "forked") == ["fork_secrets: True", "fork_approval: True"]

    # Creating it again is idempotent only with the same fork settings.
    again = _cli(config, *create, "--fork-secrets", "--fork-approval")
    assert again.returncode == 0 and "already exists, unchanged" in again.stderr
    different = _cli(config, *create, "--fork-secrets", "--no-fork-approval")
    assert different.returncode == 1
    assert "different definition" in different.stderr

    updated = _cli(config, "jobs", "update", "forked", "--no-fork-secrets")
    assert updated.returncode == 0, updated.stderr
    assert "updated job forked: fork_secrets" in updated.stderr
    job = _job(server, "forked")
    assert (job["fork_secrets"], job["fork_approval"]) == (False, True)
    assert _shown(config, "forked") == ["fork_secrets: False", "fork_approval: True"]

    edited = _cli(config, "jobs", "edit", "forked", "--no-fork-approval", "--secrets-for-forks")
    assert edited.returncode == 0, edited.stderr
    job = _job(server, "forked")
    assert (job["fork_secrets"], job["fork_approval"]) == (True, False)
