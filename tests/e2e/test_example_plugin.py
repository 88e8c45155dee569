"""The example plugin as a user installs it: Solvyd and `examples/plugins/solvyd-discord` put
into a fresh virtual environment with pip's usual path (no editable install, no system site
packages), a server and an agent started from there, `discord` listed by `GET /plugins`, and a
failing build's notification arriving at a Discord stand-in on loopback.

One SQLite file is enough here: the database has nothing to do with how a plugin is found."""

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.processes import (
    ADMIN_PASSWORD,
    AGENT_TOKEN,
    Process,
    free_port,
    wait_until_healthy,
)

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "plugins" / "solvyd-discord"
UV = REPO / ".tools" / "bin" / "uv"
# The webhook's token is in its URL: the URL is the secret, and must show up nowhere.
WEBHOOK_TOKEN = "tOkEn-of-the-discord-webhook-4f9a"
WEBHOOK_PATH = f"/api/webhooks/112233445566778899/{WEBHOOK_TOKEN}"
AGENT = "venv-agent"


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new virtual environment holding Solvyd from this checkout and the example plugin,
    each from its local path; the rest at the versions of uv.lock, from uv's cache."""
    assert UV.exists(), "uv is missing: run `make sync` first"
    root = tmp_path_factory.mktemp("plugin-venv")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    constraints = root / "constraints.txt"
    subprocess.run(
        [
            str(UV),
            "export",
            "--frozen",
            "--no-dev",
            "--no-hashes",
            "--no-emit-project",
            "--format",
            "requirements-txt",
            "--quiet",
            "-o",
            str(constraints),
        ],
        cwd=REPO,
        check=True,
    )
    installed = subprocess.run(
        [
            str(UV),
            "pip",
            "install",
            "--quiet",
            "--python",
            str(venv / "bin" / "python"),
            "-c",
            str(constraints),
            str(REPO),
            str(EXAMPLE),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert installed.returncode == 0, installed.stderr
    return venv


def _clean_env(**extra: str) -> dict[str, str]:
    # Nothing of the test's own environment may lead the venv's Python back to the checkout.
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    return {**env, **extra}


def _spawn(venv: Path, name: str, args: list[str], env: dict[str, str], log_dir: Path) -> Process:
    log_path = log_dir / f"{name}-{int(time.time() * 1000)}.log"
    with log_path.open("wb") as handle:
        popen = subprocess.Popen(
            [str(venv / "bin" / "solvyd"), *args],
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    return Process(name, popen, log_path)


@dataclass
class DiscordStandIn:
    url: str = ""
    received: list[tuple[str, dict[str, str], Any]] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)


@pytest.fixture
def discord() -> Iterator[DiscordStandIn]:
    """Answers an Execute Webhook call as Discord does without `?wait=true`: 204, no body."""
    stand_in = DiscordStandIn()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers["Content-Length"]))
            stand_in.received.append((self.path, dict(self.headers), json.loads(raw)))
            self.send_response(204)
            self.end_headers()
            stand_in.arrived.set()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    stand_in.url = f"http://127.0.0.1:{server.server_address[1]}{WEBHOOK_PATH}"
    yield stand_in
    server.shutdown()
    server.server_close()


def _check_discord_body(body: Any) -> None:
    """The Execute Webhook body as Discord documents it:
    https://discord.com/developers/docs/resources/webhook#execute-webhook, with embeds as on
    https://discord.com/developers/docs/resources/message#embed-object and its limits."""
    assert set(body) <= {"content", "username", "avatar_url", "tts", "embeds", "allowed_mentions"}
    assert body["allowed_mentions"] == {"parse": []}
    [embed] = body["embeds"]
    assert set(embed) <= {"title", "description", "url", "color", "fields", "timestamp"}
    assert 0 < len(embed["title"]) <= 256 and len(embed.get("description", "")) <= 4096
    assert isinstance(embed["color"], int) and 0 <= embed["color"] <= 0xFFFFFF
    datetime.fromisoformat(embed["timestamp"])
    for item in embed["fields"]:
        assert set(item) == {"name", "value", "inline"} and item["name"] and item["value"]


def _wait_for(what: str, check: Any, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"{what} did not happen within {timeout}s")


def test_the_example_plugin_installs_lists_and_delivers(
    venv: Path, discord: DiscordStandIn, tmp_path: Path, log_dir: Path
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = _clean_env(
        SOLVYD_DATABASE_URL=f"sqlite:///{tmp_path / 'solvyd.db'}",
        SOLVYD_DATA_DIR=str(tmp_path / "data"),
        SOLVYD_ADMIN_PASSWORD=ADMIN_PASSWORD,
        SOLVYD_AGENT_TOKEN=AGENT_TOKEN,
        SOLVYD_PUBLIC_URL=url,
    )
    server = _spawn(
        venv, "server", ["server", "--host", "127.0.0.1", "--port", str(port)], env, log_dir
    )
    agent: Process | None = None
    try:
        wait_until_healthy(server, url)
        agent = _spawn(
            venv,
            "agent",
            [
                "agent",
                "--server",
                url,
                "--name",
                AGENT,
                "--executor",
                "local",
                "--work-dir",
                str(tmp_path / "agent"),
            ],
            _clean_env(SOLVYD_AGENT_TOKEN=AGENT_TOKEN),
            log_dir,
        )
        login = httpx.post(
            f"{url}/api/v1/auth/login",
            json={"username": "admin", "password": ADMIN_PASSWORD},
            timeout=10,
        )
        token = login.raise_for_status().json()["access_token"]
        with httpx.Client(
            base_url=f"{url}/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=30
        ) as api:
            plugins = api.get("/plugins").raise_for_status().json()["plugins"]
            [listed] = [p for p in plugins if p["name"] == "discord"]
            assert listed["loaded_in"] == "server" and listed["worker"] is None
            assert listed["status"] == "loaded" and listed["error"] is None
            assert listed["builtin"] is False and listed["version"] == "0.1.0"
            assert listed["provides"]["notifiers"] == ["discord"]

            _wait_for(
                "the agent's registration",
                lambda: any(w["name"] == AGENT for w in api.get("/workers").json()["items"]),
            )
            job = api.post(
                "/jobs",
                json={
                    "name": "fails-loudly",
                    "pipeline": {
                        "steps": [
                            {"name": "test", "commands": ["echo the-last-words-of-it", "exit 3"]}
                        ]
                    },
                },
            )
            job_id = job.raise_for_status().json()["id"]
            secret = api.put(f"/jobs/{job_id}/secrets/DISCORD_WEBHOOK", json={"value": discord.url})
            secret.raise_for_status()
            # No "on": a rule speaks on failure and fixed by default.
            rule = {"type": "discord", "webhook_url_secret": "DISCORD_WEBHOOK"}
            patched = api.patch(f"/jobs/{job_id}", json={"notifications": [rule]})
            assert patched.status_code == 200, patched.text
            assert patched.json()["notifications"][0]["webhook_url_secret"] == "DISCORD_WEBHOOK"

            build_id = api.post(f"/jobs/{job_id}/trigger", json={}).raise_for_status().json()["id"]
            finished = _wait_for(
                "the build's end",
                lambda: (
                    (b := api.get(f"/builds/{build_id}").json())["status"]
                    in {"success", "failure", "error", "cancelled"}
                    and b
                ),
            )
            assert finished["status"] == "failure", finished

            assert discord.arrived.wait(30), "no message reached the Discord stand-in"
            [(path, headers, body)] = discord.received
            assert path == WEBHOOK_PATH and headers["Content-Type"] == "application/json"
            _check_discord_body(body)
            [embed] = body["embeds"]
            assert embed["title"] == "fails-loudly #1 failed"
            assert build_id in embed["url"]
            assert "the-last-words-of-it" in embed["description"]

            delivery = _wait_for(
                "the delivery marked sent",
                lambda: [
                    d
                    for d in api.get(f"/builds/{build_id}").json()["notifications"]
                    if d["status"] == "sent"
                ],
            )
            [sent] = delivery
            assert sent["type"] == "discord" and sent["rule"] == 0
            assert sent["event"] == "build.finished" and sent["outcome"] == "failure"
            assert sent["target"] == "Discord (secret DISCORD_WEBHOOK)"
            assert sent["attempts"] == 1 and sent["last_error"] is None
            # Exactly once: nothing more came while the delivery was being marked.
            assert len(discord.received) == 1
            assert WEBHOOK_TOKEN not in server.output() + agent.output()
    finally:
        if agent is not None:
            agent.stop()
        server.stop()


def test_the_examples_own_tests_pass() -> None:
    """The example's unit tests (run `send` against an HTTP server on loopback), run as its
    author runs them: pytest in the example's directory, with its own configuration."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:asyncio"],
        cwd=EXAMPLE,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert " passed" in result.stdout and "skipped" not in result.stdout
