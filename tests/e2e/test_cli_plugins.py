"""`solvyd plugins list` against a real server and agent: the built-in executors come from the
agent that reported them at registration, the built-in forges, artifact store and notifiers
from the server, each through the plugin hooks like a third party's."""

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.helpers import UserApi, run_cli
from tests.support.processes import ADMIN_PASSWORD, ServerProcess, start_agent

pytestmark = pytest.mark.e2e
AGENT = "plugin-lister"


def _provided(plugins: list[dict[str, Any]], kind: str) -> set[str]:
    return {name for plugin in plugins for name in plugin["provides"].get(kind, [])}


def test_plugins_list_shows_the_builtins_of_server_and_agent(
    server: ServerProcess, api: UserApi, tmp_path: Path, log_dir: Path
) -> None:
    agent = start_agent(server.url, log_dir, tmp_path / "agent", name=AGENT)
    try:
        api.wait_for_worker(AGENT)
        config = tmp_path / "cli" / "config.json"
        login = run_cli(
            config, "login", server.url, "-u", "admin", "--password-stdin", stdin=ADMIN_PASSWORD
        )
        assert login.returncode == 0, login.stderr

        as_json = run_cli(config, "plugins", "list", "--json", columns=250)
        assert as_json.returncode == 0, as_json.stderr
        answer = json.loads(as_json.stdout)
        # The CLI prints the server's answer, whole.
        token = json.loads(config.read_text())["token"]
        direct = httpx.get(
            f"{server.url}/api/v1/plugins", headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
        assert answer == direct.json()
        assert answer["api_version"].split(".")[0] == "1"

        on_server = [p for p in answer["plugins"] if p["loaded_in"] == "server"]
        on_agent = [p for p in answer["plugins"] if p["loaded_in"] == "agent"]
        assert {p["worker"] for p in on_agent} == {AGENT}
        assert all(p["worker"] is None for p in on_server)
        for plugin in answer["plugins"]:
            assert plugin["builtin"] and plugin["status"] == "loaded", plugin
            assert plugin["error"] is None
        assert {"local", "docker"} <= _provided(on_agent, "executors")
        assert {"github", "gitlab", "gitea", "bitbucket"} <= _provided(on_server, "forges")
        assert "local" in _provided(on_server, "artifact_stores")
        assert {"email", "slack", "webhook"} <= _provided(on_server, "notifiers")

        table = run_cli(config, "plugins", "list", columns=250)
        assert table.returncode == 0, table.stderr
        lines = table.stdout.splitlines()
        assert lines[0] == f"plugin API {answer['api_version']}"
        for plugin in answer["plugins"]:
            row = next(line for line in lines if line.startswith(f"│ {plugin['name']} "))
            where = f"agent {AGENT}" if plugin["loaded_in"] == "agent" else "server"
            assert f"│ {where} " in row and "│ loaded " in row, row
        executors_row = next(line for line in lines if "executors: " in line)
        assert "local" in executors_row and f"agent {AGENT}" in executors_row
        # Every plugin loaded: no error lines under the table.
        assert lines[-1].startswith("└")
    finally:
        agent.stop()
