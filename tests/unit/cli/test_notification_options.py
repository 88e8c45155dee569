"""`jobs create` and `jobs edit` read the notification options before they send anything: a bad
rules file or shorthand is one line, exit 1, and the server hears not a single request."""

import os
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.support.processes import SOLVYD


class _Recorder(BaseHTTPRequestHandler):
    requests: list[str] = []

    def _record(self) -> None:
        self.requests.append(f"{self.command} {self.path}")
        self.send_response(500)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = do_PATCH = _record

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server_url() -> Iterator[str]:
    _Recorder.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("command", ["create", "edit"])
@pytest.mark.parametrize(
    ("options", "file_text", "message"),
    [
        (["--notifications", "{file}"], "- type: email\n  to: [a@x\n", ":3:1: not YAML or JSON"),
        (["--notifications", "{file}"], "- {to: [a@x]}\n", ": rule 0 needs a type"),
        (["--notifications", "{missing}"], None, "cannot read"),
        (["--notify-email", "a@x", "--notify-on", "sometimes"], None, "--notify-on: 'sometimes'"),
        (["--notify-on", "failure"], None, "apply to --notify-email"),
        (["--notify-webhook-secret", "KEY"], None, "signs one --notify-webhook"),
        (
            ["--notifications", "-", "--webhook-secret-stdin"],
            None,
            "cannot both read stdin",
        ),
    ],
    ids=["yaml", "no-type", "missing", "bad-on", "on-alone", "secret-alone", "two-stdins"],
)
def test_bad_notification_options_send_nothing(
    server_url: str,
    tmp_path: Path,
    command: str,
    options: list[str],
    file_text: str | None,
    message: str,
) -> None:
    rules = tmp_path / "rules.yml"
    if file_text is not None:
        rules.write_text(file_text)
    args = [a.format(file=rules, missing=tmp_path / "missing.yml") for a in options]
    env = {k: v for k, v in os.environ.items() if k != "SOLVYD_DEBUG"}
    env |= {"SOLVYD_URL": server_url, "SOLVYD_TOKEN": "not-checked", "NO_COLOR": "1"}
    result = subprocess.run(
        [*SOLVYD, "jobs", command, "hello", *args],
        capture_output=True,
        text=True,
        env=env,
        input="",
        timeout=60,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert _Recorder.requests == []
