"""Plugins installed beside a real server and a real agent: refused and failed ones are
listed with why while the rest work, and a third-party executor runs a real build.

The plugins are real installed distributions (a dist-info folder with METADATA and
entry_points.txt, and the module) in a directory on the processes' PYTHONPATH."""

import json
import os
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from solvyd.plugins import PLUGIN_API_VERSION
from tests.e2e.helpers import UserApi
from tests.support.plugin_dists import install_plugin
from tests.support.processes import Process, ServerProcess, start_agent, start_server

pytestmark = pytest.mark.e2e

REFUSED = """
SOLVYD_PLUGIN_API = "2.0"
"""

IMPORT_BOOM = """
raise RuntimeError("boom at import")
"""

HOOK_BOOM = """
from solvyd.plugins import hookimpl

SOLVYD_PLUGIN_API = "1.0"

@hookimpl
def solvyd_forges():
    raise ValueError("hook exploded")
"""

PAGER = """
from solvyd.plugins import Notifier, hookimpl

SOLVYD_PLUGIN_API = "1.0"

class Pager(Notifier):
    type = "pager"

    def rule_problems(self, rule):
        return []

    async def send(self, notice, rule, ctx):
        return None

@hookimpl
def solvyd_notifiers():
    return [Pager()]
"""

# A third-party executor wrapping the built-in local one (a plugin may build on any backend
# it can import): it marks each step's output, so the build's log shows it ran the steps.
SHOUT = """
from solvyd.pipeline.executors.local import LocalExecutor
from solvyd.plugins import hookimpl

SOLVYD_PLUGIN_API = "1.0"

class ShoutExecutor(LocalExecutor):
    name = "shout"

    def stream_output(self, job, step):
        return self._shout(job, step)

    async def _shout(self, job, step):
        yield f"[shout] running {step.name}"
        async for line in super().stream_output(job, step):
            yield line.upper()

@hookimpl
def solvyd_executors():
    return {
        "shout": lambda root, options: ShoutExecutor(
            root,
            isolation=options.isolation,
            hidden_paths=options.hidden_paths,
            env_passthrough=options.env_passthrough,
        )
    }
"""

# A forge of the plugin's own making (no third party's format): a JSON push announced with
# its secret in a header, and a commit status posted as JSON with the token.
ACME_FORGE = """
import hmac
import json

from solvyd.plugins import ForgeEvent, ForgeProvider, PayloadError, StatusRequest, hookimpl

SOLVYD_PLUGIN_API = "1.0"

class Acme(ForgeProvider):
    name = "acme"
    event_header = "X-Acme-Event"
    delivery_headers = ("X-Acme-Delivery",)
    secret_headers = ("X-Acme-Token",)

    def parse(self, headers, body):
        try:
            push = json.loads(body)
            return [
                ForgeEvent(
                    kind="push",
                    repository_urls=(push["repository"],),
                    branch=push["branch"],
                    commit_sha=push["sha"],
                    after=push["sha"],
                )
            ]
        except (ValueError, KeyError, TypeError) as exc:
            raise PayloadError(f"not an Acme push: {exc}") from None

    def verify(self, headers, body, secret):
        given = {key.lower(): value for key, value in headers.items()}.get("x-acme-token", "")
        return hmac.compare_digest(given.encode(), secret.encode())

    def status_request(self, report, token):
        return StatusRequest(
            url=f"{report.api_url}/statuses/{report.repository}/{report.sha}",
            headers={"Authorization": f"Acme {token}"},
            body={"state": report.state, "context": report.context},
        )

@hookimpl
def solvyd_forges():
    return [Acme()]
"""

LOCAL_THIEF = """
from solvyd.plugins import hookimpl

SOLVYD_PLUGIN_API = "1.0"

@hookimpl
def solvyd_executors():
    return {"local": lambda root, options: None}
"""


@pytest.fixture
def plugin_env(tmp_path: Path) -> dict[str, str]:
    site = tmp_path / "site-packages"
    suffix = uuid.uuid4().hex[:8]
    for entry_point, source, version in (
        ("from-the-future", REFUSED, "3.0.0"),
        ("import-boom", IMPORT_BOOM, "0.1.0"),
        ("hook-boom", HOOK_BOOM, "0.2.0"),
        ("pager", PAGER, "1.2.3"),
        ("shout", SHOUT, "0.9.0"),
        ("local-thief", LOCAL_THIEF, "0.0.1"),
        ("acme", ACME_FORGE, "4.5.6"),
    ):
        module = f"solvyd_e2e_{entry_point.replace('-', '_')}_{suffix}"
        install_plugin(site, entry_point=entry_point, module=module, source=source, version=version)
    path = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH", "")) if p)
    return {"PYTHONPATH": path}


@pytest.fixture
def plugin_server(
    database_url: str, tmp_path: Path, log_dir: Path, plugin_env: dict[str, str]
) -> Iterator[ServerProcess]:
    server = start_server(database_url, tmp_path / "server-data", log_dir, **plugin_env)
    yield server
    server.process.stop()


@pytest.fixture
def api(plugin_server: ServerProcess) -> Iterator[UserApi]:
    user_api = UserApi(plugin_server)
    yield user_api
    user_api.http.close()


@pytest.fixture
def shout_agent(
    plugin_server: ServerProcess, log_dir: Path, tmp_path: Path, plugin_env: dict[str, str]
) -> Iterator[Process]:
    agent = start_agent(
        plugin_server.url,
        log_dir,
        tmp_path / "work",
        name="shouter",
        executor="shout",
        extra_env=plugin_env,
    )
    yield agent
    agent.stop()


def _listed(api: UserApi) -> dict[tuple[str, str, str | None], dict[str, Any]]:
    response = api.http.get("/plugins")
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["api_version"] == PLUGIN_API_VERSION
    return {(p["loaded_in"], p["name"], p["worker"]): p for p in answer["plugins"]}


def test_the_server_lists_refused_and_failed_plugins_and_serves_the_rest(
    plugin_server: ServerProcess, api: UserApi
) -> None:
    listed = _listed(api)
    forges = listed[("server", "solvyd.forges", None)]
    assert forges["builtin"] is True
    assert forges["status"] == "loaded"
    assert forges["provides"]["forges"] == ["github", "gitlab", "gitea", "bitbucket"]
    stores = listed[("server", "solvyd.artifact_stores", None)]
    assert stores["provides"]["artifact_stores"] == ["local", "s3"]

    refused = listed[("server", "from-the-future", None)]
    assert (refused["status"], refused["version"], refused["builtin"]) == (
        "refused",
        "3.0.0",
        False,
    )
    assert refused["error"] == (
        "it is built for plugin API 2.0, this Solvyd offers "
        f"{PLUGIN_API_VERSION} (major versions differ)"
    )
    assert listed[("server", "import-boom", None)]["status"] == "failed"
    assert listed[("server", "import-boom", None)]["error"] == "RuntimeError: boom at import"
    hook_boom = listed[("server", "hook-boom", None)]
    assert (hook_boom["status"], hook_boom["error"]) == ("failed", "ValueError: hook exploded")
    pager = listed[("server", "pager", None)]
    assert pager["status"] == "loaded"
    assert pager["provides"] == {
        "executors": [],
        "notifiers": ["pager"],
        "forges": [],
        "artifact_stores": [],
    }

    log = plugin_server.process.output()
    assert "plugin from-the-future 3.0.0 refused: it is built for plugin API 2.0" in log
    assert "plugin import-boom 0.1.0 failed: RuntimeError: boom at import" in log
    # The built-in forges still receive webhooks: a GitHub ping is answered.
    ping = api.http.post(
        "/hooks/github", headers={"X-GitHub-Event": "ping"}, content=b'{"zen": "hi"}'
    )
    assert ping.status_code == 200, ping.text


def test_a_third_party_executor_runs_a_real_build_and_the_agent_reports_its_plugins(
    api: UserApi, shout_agent: Process
) -> None:
    worker = api.wait_for_worker("shouter")
    assert worker["executors"] == ["shout"]
    reported = {plugin["name"]: plugin for plugin in worker["plugins"]}
    assert reported["shout"]["status"] == "loaded"
    assert reported["shout"]["provides"] == {"executors": ["shout"]}
    assert reported["solvyd.executors"]["builtin"] is True
    assert "local" in reported["solvyd.executors"]["provides"]["executors"]
    assert reported["local-thief"]["status"] == "refused"
    assert "'local', a name a built-in already provides" in reported["local-thief"]["error"]

    listed = _listed(api)
    on_agent = listed[("agent", "shout", "shouter")]
    assert on_agent["version"] == "0.9.0"
    assert on_agent["provides"]["executors"] == ["shout"]
    assert listed[("agent", "import-boom", "shouter")]["status"] == "failed"

    job = api.create_job(
        f"shout-{uuid.uuid4().hex[:8]}",
        "steps:\n  - name: greet\n    commands: ['echo hello from a plugin']\n",
    )
    finished = api.wait_for_finish(api.trigger(job["id"])["id"])
    assert finished["status"] == "success", finished
    log = api.log_text(finished["id"])
    assert "[shout] running greet" in log
    assert "HELLO FROM A PLUGIN" in log


class _StatusReceiver(ThreadingHTTPServer):
    received: list[tuple[str, dict[str, str], Any]]


class _StatusHandler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        assert isinstance(self.server, _StatusReceiver)
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.server.received.append((self.path, dict(self.headers), json.loads(body)))
        self.send_response(201)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture
def acme_api() -> Iterator[_StatusReceiver]:
    receiver = _StatusReceiver(("127.0.0.1", 0), _StatusHandler)
    receiver.received = []
    thread = threading.Thread(target=receiver.serve_forever, daemon=True)
    thread.start()
    yield receiver
    receiver.shutdown()
    receiver.server_close()


def test_a_plugin_forge_starts_builds_from_its_webhooks_and_gets_their_statuses(
    plugin_server: ServerProcess, api: UserApi, acme_api: _StatusReceiver
) -> None:
    port = acme_api.server_address[1]
    job = api.create_job(
        f"acme-{uuid.uuid4().hex[:8]}",
        "steps:\n  - name: greet\n    commands: ['echo hi']\n",
        scm_url="https://acme.example/team/app.git",
        webhook_secret="acme-webhook-secret",
        forge={"type": "acme", "api_url": f"http://127.0.0.1:{port}", "token_secret": "ACME"},
    )
    secret = api.http.put(f"/jobs/{job['id']}/secrets/ACME", json={"value": "acme-token-1"})
    assert secret.status_code in (200, 201), secret.text
    sha = "a" * 40
    push = {"repository": "https://acme.example/team/app.git", "branch": "main", "sha": sha}
    headers = {"X-Acme-Event": "push", "X-Acme-Delivery": "d-1"}

    forged = api.http.post(
        "/hooks/acme", headers={**headers, "X-Acme-Token": "wrong"}, content=json.dumps(push)
    )
    assert forged.status_code == 401, forged.text
    response = api.http.post(
        "/hooks/acme",
        headers={**headers, "X-Acme-Token": "acme-webhook-secret"},
        content=json.dumps(push),
    )
    assert response.status_code == 202, response.text
    [queued] = response.json()["builds"]
    assert queued["job_id"] == job["id"]

    deadline = time.monotonic() + 30
    while not acme_api.received and time.monotonic() < deadline:
        time.sleep(0.05)
    path, sent_headers, body = acme_api.received[0]
    assert path == f"/statuses/team/app/{sha}"
    assert sent_headers["Authorization"] == "Acme acme-token-1"
    assert body == {"state": "queued", "context": f"solvyd/{job['name']}"}
    # The delivery log keeps no header that carries the forge's secret.
    deliveries = api.http.get("/hooks/deliveries").json()["items"]
    assert deliveries and all(
        "x-acme-token" not in {name.lower() for name in delivery.get("headers", {})}
        for delivery in deliveries
    )
