"""A job's notification rules through the real `solvyd` command against a real server: `jobs
create` and `jobs edit` set them (shorthands and a rules file), `jobs show` prints them,
`jobs notify-test` has the server send to a webhook receiver on loopback and exits 1 when a
rule failed, and `builds show` lists what a build sent."""

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.helpers import run_cli
from tests.support.processes import ADMIN_PASSWORD, ServerProcess, start_agent

pytestmark = [
    pytest.mark.e2e,
    # The CLI's behaviour does not depend on the database: one is enough.
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]
PIPELINE = "steps:\n  - name: s\n    commands: [echo hi]\n"
FAILING = "steps:\n  - name: s\n    commands: ['echo failing', 'exit 3']\n"
SIGNING_KEY = "e2e-signing-key-0123456789"


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class WebhookReceiver:
    """A webhook receiver on loopback: /ok takes every request, /refuse answers 400."""

    url: str
    requests: list[Received] = field(default_factory=list)

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.requests) < count and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(self.requests) >= count, self.requests
        return self.requests


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    got = WebhookReceiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            got.requests.append(Received(self.path, dict(self.headers.items()), body))
            status = 400 if self.path.startswith("/refuse") else 204
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    got.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield got
    server.shutdown()
    server.server_close()


def _login(server: ServerProcess, tmp_path: Path) -> Path:
    config = tmp_path / "config.json"
    login = run_cli(
        config, "login", server.url, "-u", "admin", "--password-stdin", stdin=ADMIN_PASSWORD
    )
    assert login.returncode == 0, login.stderr
    return config


def _rules(server: ServerProcess, name: str) -> list[dict[str, Any]]:
    response = httpx.get(
        f"{server.url}/api/v1/jobs",
        params={"name": name},
        headers={"Authorization": f"Bearer {server.admin_token()}"},
        timeout=10,
    )
    (job,) = response.json()["items"]
    return list(job["notifications"])


def _own(rule: dict[str, Any]) -> dict[str, Any]:
    """A stored rule without the keys the server fills in when they were not given."""
    return {key: value for key, value in rule.items() if value not in (None, [])}


def _shown_rules(config: Path, name: str) -> list[str]:
    shown = run_cli(config, "jobs", "show", name)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("notifications:"))
    if lines[at] != "notifications:":
        return [lines[at]]
    return [line for line in lines[at + 1 :] if line.startswith("  [")]


def test_rules_from_options_and_files_shown_and_tested(
    server: ServerProcess, receiver: WebhookReceiver, tmp_path: Path
) -> None:
    config = _login(server, tmp_path)
    pipeline = tmp_path / "pipeline.yml"
    pipeline.write_text(PIPELINE)

    create = ["jobs", "create", "notified", "--pipeline", str(pipeline)]
    created = run_cli(config, *create, "--notify-email", "dev@example.com")
    assert created.returncode == 0, created.stderr
    assert [_own(rule) for rule in _rules(server, "notified")] == [
        {"type": "email", "to": ["dev@example.com"], "on": ["failure", "fixed"]}
    ]
    # Creating it again is idempotent, however the server filled in the rule's defaults.
    again = run_cli(config, *create, "--notify-email", "dev@example.com")
    assert again.returncode == 0 and "already exists, unchanged" in again.stderr

    secret = run_cli(
        config, "secrets", "set", "HOOK_KEY", "--job", "notified", "--value-stdin",
        stdin=SIGNING_KEY,
    )  # fmt: skip
    assert secret.returncode == 0, secret.stderr
    # The shorthands alone add a rule to the job's.
    added = run_cli(
        config, "jobs", "edit", "notified",
        "--notify-webhook", f"{receiver.url}/ok", "--notify-webhook-secret", "HOOK_KEY",
        "--notify-on", "failure,success", "--notify-branches", "main",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert "updated job notified: notifications" in added.stderr
    assert [_own(rule) for rule in _rules(server, "notified")] == [
        {"type": "email", "to": ["dev@example.com"], "on": ["failure", "fixed"]},
        {
            "type": "webhook",
            "url": f"{receiver.url}/ok",
            "signing_secret": "HOOK_KEY",
            "on": ["failure", "success"],
            "branches": ["main"],
        },
    ]
    assert _shown_rules(config, "notified") == [
        "  [0] email  to dev@example.com  on failure,fixed",
        f"  [1] webhook  {receiver.url}/ok, signed with secret HOOK_KEY  "
        "on failure,success  branches main",
    ]

    # One rule tested: the receiver gets one signed request (docs/notifications.md: HMAC-SHA256
    # of "<X-Solvyd-Timestamp>.<body>" keyed with the secret's value).
    tested = run_cli(config, "jobs", "notify-test", "notified", "--rule", "1")
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert tested.stdout.splitlines() == [f"[1] webhook {receiver.url}/ok: ok"]
    (request,) = receiver.wait_for(1)
    assert request.path == "/ok"
    headers = {key.lower(): value for key, value in request.headers.items()}
    signed = headers["x-solvyd-timestamp"].encode() + b"." + request.body
    digest = hmac.new(SIGNING_KEY.encode(), signed, hashlib.sha256).hexdigest()
    assert headers["x-solvyd-signature-256"] == f"sha256={digest}"
    assert headers["x-solvyd-delivery"]
    assert json.loads(request.body)["job"]["name"] == "notified"
    assert SIGNING_KEY not in tested.stdout + tested.stderr

    # A rules file replaces the job's rules; a rule that fails makes the test exit 1.
    rules = tmp_path / "rules.yml"
    rules.write_text(
        f"- type: webhook\n  url: {receiver.url}/ok\n  on: [always]\n"
        f"- type: webhook\n  url: {receiver.url}/refuse\n"
    )
    replaced = run_cli(config, "jobs", "edit", "notified", "--notifications", str(rules))
    assert replaced.returncode == 0, replaced.stderr
    assert [_own(rule) for rule in _rules(server, "notified")] == [
        {"type": "webhook", "url": f"{receiver.url}/ok", "on": ["always"]},
        {"type": "webhook", "url": f"{receiver.url}/refuse", "on": ["failure", "fixed"]},
    ]
    both = run_cli(config, "jobs", "notify-test", "notified")
    assert both.returncode == 1, both.stdout + both.stderr
    ok_line, failed_line = both.stdout.splitlines()
    assert ok_line == f"[0] webhook {receiver.url}/ok: ok"
    assert failed_line.startswith(f"[1] webhook {receiver.url}/refuse: failed: ")
    assert "400" in failed_line
    assert "1 of 2 test notifications failed" in both.stderr
    assert sorted(r.path for r in receiver.wait_for(3)[1:]) == ["/ok", "/refuse"]
    # Unsigned: the rule names no signing secret.
    assert not any(key.lower() == "x-solvyd-signature-256" for key in receiver.requests[1].headers)

    missing = run_cli(config, "jobs", "notify-test", "notified", "--rule", "5")
    assert missing.returncode == 1 and "there is no rule 5" in missing.stderr

    # A bad file is one line and changes nothing; so is a rule the server refuses.
    rules.write_text("- type: webhook\n  url: [unclosed\n")
    bad = run_cli(config, "jobs", "edit", "notified", "--notifications", str(rules))
    assert bad.returncode == 1
    (line,) = bad.stderr.strip().splitlines()
    assert f"{rules}:3:1: not YAML or JSON" in line
    rules.write_text("- type: carrier-pigeon\n  to: [loft]\n")
    refused = run_cli(config, "jobs", "edit", "notified", "--notifications", str(rules))
    assert refused.returncode == 1
    assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    assert "rule 0" in refused.stderr and "type" in refused.stderr
    assert len(_rules(server, "notified")) == 2

    cleared = run_cli(config, "jobs", "edit", "notified", "--notifications", "none")
    assert cleared.returncode == 0, cleared.stderr
    assert _rules(server, "notified") == []
    assert _shown_rules(config, "notified") == ["notifications: none"]
    nothing = run_cli(config, "jobs", "notify-test", "notified")
    assert nothing.returncode == 1 and "has no notification rules" in nothing.stderr


def test_builds_show_lists_what_a_build_sent(
    server: ServerProcess, receiver: WebhookReceiver, tmp_path: Path, log_dir: Path
) -> None:
    config = _login(server, tmp_path)
    agent = start_agent(server.url, log_dir, tmp_path / "work", name="notify-agent")
    try:
        pipeline = tmp_path / "failing.yml"
        pipeline.write_text(FAILING)
        created = run_cli(
            config, "jobs", "create", "failing", "--pipeline", str(pipeline),
            "--notify-webhook", f"{receiver.url}/ok", "--notify-on", "failure",
            "--notify-webhook", f"{receiver.url}/refuse",
        )  # fmt: skip
        assert created.returncode == 0, created.stderr
        run = run_cli(config, "jobs", "trigger", "failing", "--follow")
        assert run.returncode == 3, run.stdout + run.stderr
        receiver.wait_for(2)
        # The deliveries are rows the sender updates after the request: wait for both to end.
        deadline = time.monotonic() + 30
        while True:
            shown = run_cli(config, "builds", "show", "failing")
            assert shown.returncode == 0, shown.stderr
            lines = shown.stdout.splitlines()
            if "pending" not in shown.stdout or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    finally:
        agent.stop()
    deliveries = lines[lines.index("  notifications:") + 1 :]
    sent = f"    [0] webhook {receiver.url}/ok build.finished (failure): sent, 1 attempt"
    failed = f"    [1] webhook {receiver.url}/refuse build.finished (failure): failed, 1 attempt"
    assert sent in deliveries and failed in deliveries, shown.stdout
    last_error = deliveries[deliveries.index(failed) + 1]
    assert last_error.startswith("      last error: ") and "400" in last_error
