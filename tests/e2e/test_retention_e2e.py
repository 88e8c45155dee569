"""Build retention through a real server process, a real agent and the CLI: a job exempt from
the server's limit keeps its builds and the dry run says so; once the job follows the server
again, the server's own background rounds remove its older builds with their artifacts."""

import json
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.helpers import run_cli
from tests.support.processes import ADMIN_PASSWORD, start_agent, start_server

pytestmark = pytest.mark.e2e
PIPELINE = {
    "artifacts": ["dist/*"],
    "steps": [{"name": "pack", "commands": ["mkdir -p dist", "echo packed > dist/out.txt"]}],
}


@pytest.mark.timeout(240)
def test_the_server_removes_old_builds_of_a_job_that_follows_its_limit(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    data = tmp_path / "data"
    server = start_server(
        f"sqlite:///{tmp_path}/solvyd.db",
        data,
        logs,
        SOLVYD_BUILD_RETENTION_MAX_BUILDS="1",
        SOLVYD_RETENTION_INTERVAL_SECONDS="1",
    )
    agent = start_agent(server.url, logs, tmp_path / "work", name="retention-agent")
    config = tmp_path / "config.json"
    try:
        login = run_cli(
            config, "login", server.url, "-u", "admin", "--password-stdin", stdin=ADMIN_PASSWORD
        )
        assert login.returncode == 0, login.stderr
        pipeline = tmp_path / "app.yml"
        pipeline.write_text(json.dumps(PIPELINE))
        created = run_cli(
            config,
            "jobs",
            "create",
            "app",
            "--pipeline",
            str(pipeline),
            "--retention-max-builds",
            "unlimited",
        )
        assert created.returncode == 0, created.stderr
        for _ in range(3):
            assert run_cli(config, "jobs", "trigger", "app", "--follow").returncode == 0

        shown = run_cli(config, "retention", "show")
        assert "branch builds: no age limit; only the newest 1 kept" in shown.stdout, shown.stdout
        preview = run_cli(config, "retention", "preview", "--job", "app")
        assert preview.returncode == 0, preview.stderr
        assert "job app" in preview.stdout and "no age limit; no count limit" in preview.stdout
        assert "total" in preview.stdout and "app:" not in preview.stdout
        assert "max_builds=unlimited" in run_cli(config, "jobs", "show", "app").stdout
        artifacts = sorted((data / "artifacts" / "builds").rglob("*"))
        assert len([path for path in artifacts if path.is_file()]) == 3

        edited = run_cli(config, "jobs", "edit", "app", "--retention-max-builds", "default")
        assert edited.returncode == 0, edited.stderr

        headers = {"Authorization": f"Bearer {server.admin_token()}"}

        def removed() -> tuple[list[int], list[str], int]:
            """The builds left, the builds whose artifacts are left, the builds audited as
            removed: a round commits the rows' deletion, then the audit record, and only then
            deletes the objects in the store."""
            builds = httpx.get(f"{server.url}/api/v1/builds", headers=headers).json()["items"]
            files = [path for path in (data / "artifacts" / "builds").rglob("*") if path.is_file()]
            events = httpx.get(
                f"{server.url}/api/v1/audit",
                headers=headers,
                params={"action": "builds.retention"},
            ).json()["items"]
            by_id = {build["id"]: build["number"] for build in builds}
            return (
                [build["number"] for build in builds],
                [str(by_id.get(path.parent.name, path.parent.name)) for path in files],
                sum(event["details"]["builds"] for event in events),
            )

        deadline = time.monotonic() + 30
        while (state := removed()) != ([3], ["3"], 2) and time.monotonic() < deadline:
            time.sleep(0.3)
        assert state == ([3], ["3"], 2)
        after = run_cli(config, "retention", "preview")
        assert after.returncode == 0 and "app:" not in after.stdout
    finally:
        agent.stop()
        server.process.stop()
