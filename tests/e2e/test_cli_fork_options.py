"""A job's fork settings through the real `solvyd` command against a real server: `jobs
create` and `jobs update` (and `edit`) set `fork_secrets` and `fork_approval`, `jobs show`
prints them, and the API holds what the CLI was told."""

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.helpers import run_cli
from tests.support.processes import ADMIN_PASSWORD, ServerProcess

pytestmark = [
    pytest.mark.e2e,
    # The CLI's behaviour does not depend on the database: one is enough.
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]
PIPELINE = "steps:\n  - name: s\n    commands: [echo hi]\n"


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
    shown = run_cli(config, "jobs", "show", name)
    assert shown.returncode == 0, shown.stderr
    return [line for line in shown.stdout.splitlines() if line.startswith("fork_")]


def test_fork_settings_from_create_update_and_show(server: ServerProcess, tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    login = run_cli(
        config, "login", server.url, "-u", "admin", "--password-stdin", stdin=ADMIN_PASSWORD
    )
    assert login.returncode == 0, login.stderr
    pipeline = tmp_path / "pipeline.yml"
    pipeline.write_text(PIPELINE)

    plain = run_cli(config, "jobs", "create", "plain", "--pipeline", str(pipeline))
    assert plain.returncode == 0, plain.stderr
    assert (_job(server, "plain")["fork_secrets"], _job(server, "plain")["fork_approval"]) == (
        False,
        False,
    )
    assert _shown(config, "plain") == ["fork_secrets: False", "fork_approval: False"]

    create = ["jobs", "create", "forked", "--pipeline", str(pipeline)]
    created = run_cli(config, *create, "--fork-secrets", "--fork-approval")
    assert created.returncode == 0, created.stderr
    job = _job(server, "forked")
    assert (job["fork_secrets"], job["fork_approval"]) == (True, True)
    assert _shown(config, "forked") == ["fork_secrets: True", "fork_approval: True"]

    # Creating it again is idempotent only with the same fork settings.
    again = run_cli(config, *create, "--fork-secrets", "--fork-approval")
    assert again.returncode == 0 and "already exists, unchanged" in again.stderr
    different = run_cli(config, *create, "--fork-secrets", "--no-fork-approval")
    assert different.returncode == 1
    assert "different definition" in different.stderr

    updated = run_cli(config, "jobs", "update", "forked", "--no-fork-secrets")
    assert updated.returncode == 0, updated.stderr
    assert "updated job forked: fork_secrets" in updated.stderr
    job = _job(server, "forked")
    assert (job["fork_secrets"], job["fork_approval"]) == (False, True)
    assert _shown(config, "forked") == ["fork_secrets: False", "fork_approval: True"]

    edited = run_cli(config, "jobs", "edit", "forked", "--no-fork-approval", "--secrets-for-forks")
    assert edited.returncode == 0, edited.stderr
    job = _job(server, "forked")
    assert (job["fork_secrets"], job["fork_approval"]) == (True, False)
