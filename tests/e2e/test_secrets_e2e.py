"""Secrets end to end: set through the real `solvyd secrets` command, fetched by a real agent,
given only to the steps that ask, and never in the stored log, the live stream, the server's
output, its data directory or database files, or the agent's output: not raw, not in base64,
not URL-encoded. Both for a pipeline the server planned and one read from the repository."""

import base64
import hashlib
import json
import os
import subprocess
import sys
import urllib.parse
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from httpx_sse import connect_sse

from tests.e2e.helpers import UserApi
from tests.support.git_repos import make_repo
from tests.support.processes import Process, ServerProcess, start_agent

pytestmark = pytest.mark.e2e

VALUE = "deploy-K3y/with+odd&chars=and spaces"
GLOBAL_VALUE = "global-fallback-Xq71Lm0"
SHA256 = hashlib.sha256(VALUE.encode()).hexdigest()
FORBIDDEN = [
    VALUE,
    base64.b64encode(VALUE.encode()).decode().rstrip("="),
    base64.urlsafe_b64encode(VALUE.encode()).decode().rstrip("="),
    urllib.parse.quote(VALUE, safe=""),
    urllib.parse.quote_plus(VALUE),
    GLOBAL_VALUE,
]
# The value is never in the pipeline: the step that has it proves so through its hash.
STEPS = [
    {
        "name": "deploy",
        "secrets": ["DEPLOY_KEY", "NOT_SET_ANYWHERE"],
        "commands": [
            'echo "raw: $DEPLOY_KEY"',
            'printf "%s" "$DEPLOY_KEY" | base64 -w0; echo',
            "python3 -c \"import os, urllib.parse as u; print(u.quote(os.environ['DEPLOY_KEY'], "
            "safe=''))\"",
            f'test "$(printf "%s" "$DEPLOY_KEY" | sha256sum | cut -d" " -f1)" = {SHA256} '
            "&& echo has-key",
            'echo "missing: ${NOT_SET_ANYWHERE:-unset}"',
        ],
    },
    {"name": "other", "commands": ['echo "other: ${DEPLOY_KEY:-unset}"']},
]


@pytest.fixture
def agent(server: ServerProcess, log_dir: Path, tmp_path: Path) -> Iterator[Process]:
    process = start_agent(server.url, log_dir, tmp_path / "work", name="secrets-agent")
    yield process
    process.stop()


def _cli(server: ServerProcess, api: UserApi, *args: str, stdin: str | None = None) -> str:
    """`solvyd ...` as a user would run it; answers stdout + stderr, which must not hold a
    value either."""
    token = str(api.http.headers["Authorization"]).removeprefix("Bearer ")
    result = subprocess.run(
        [sys.executable, "-m", "solvyd.cli", *args],
        env={**os.environ, "SOLVYD_URL": server.url, "SOLVYD_TOKEN": token, "COLUMNS": "200"},
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    _assert_clean(output, "the CLI's output")
    return output


def _assert_clean(text: str, where: str) -> None:
    for form in FORBIDDEN:
        assert form not in text, f"{where} holds a form of a secret: {form!r}"


def _stream(api: UserApi, build_id: str) -> tuple[str, list[str], str]:
    """The whole live stream (every event's data), its log lines, and the status its end
    event gives."""
    events: list[str] = []
    lines: list[str] = []
    status = ""
    timeout = httpx.Timeout(60, connect=10)
    with connect_sse(api.http, "GET", f"/builds/{build_id}/logs/stream", timeout=timeout) as sse:
        assert sse.response.status_code == 200
        for event in sse.iter_sse():
            events.append(event.data)
            if event.event == "lines":
                lines += [line["text"] for line in json.loads(event.data)["lines"]]
            if event.event == "end":
                status = json.loads(event.data)["status"]
                break
    return "\n".join(events), lines, status


def _files_under(root: Path) -> Iterator[Path]:
    for path in root.rglob("*"):
        if path.is_file():
            yield path


def _check_build(api: UserApi, build_id: str) -> str:
    streamed, streamed_lines, status = _stream(api, build_id)
    assert status == "success", api.build(build_id)
    stored = api.log_text(build_id)
    _assert_clean(streamed, "the live stream")
    _assert_clean(stored, "the stored log")
    for lines in (stored.splitlines(), streamed_lines):
        # Whole lines: the executor also echoes each command (`$ ...`).
        assert "raw: ***" in lines
        assert "has-key" in lines  # the step that asked had the value
        assert "other: unset" in lines  # the step that did not ask had nothing
        assert "[solvyd: secret NOT_SET_ANYWHERE is not set]" in lines
        assert "missing: unset" in lines
    # What is left of the base64 line does not decode back to the value.
    for line in stored.splitlines():
        try:
            decoded = base64.b64decode(line.replace("***", "") + "==")
        except ValueError:
            continue
        assert VALUE.encode() not in decoded
    _assert_clean(json.dumps(api.build(build_id)), "the build")
    return stored


def _check_at_rest(server: ServerProcess, agent: Process, database_url: str) -> None:
    """Nothing the server or agent wrote holds a value: their output, the server's data
    directory, and (for SQLite) the database files themselves."""
    _assert_clean(server.process.output(), "the server's output")
    _assert_clean(agent.output(), "the agent's output")
    roots = [Path(server.env["SOLVYD_DATA_DIR"])]
    if database_url.startswith("sqlite:///"):
        roots.append(Path(database_url.removeprefix("sqlite:///")).parent)
    for root in roots:
        for path in _files_under(root):
            data = path.read_bytes()
            for form in FORBIDDEN:
                assert form.encode() not in data, f"{path} holds a form of a secret"


def test_a_step_gets_its_secret_and_no_log_or_file_shows_it(
    server: ServerProcess, api: UserApi, agent: Process, database_url: str
) -> None:
    name = f"secrets-{uuid.uuid4().hex[:8]}"
    job = api.create_job(name, json.dumps({"steps": STEPS}))
    _cli(server, api, "secrets", "set", "DEPLOY_KEY", "--value-stdin", stdin=GLOBAL_VALUE + "\n")
    created = _cli(
        server, api, "secrets", "set", "DEPLOY_KEY", "--job", name, "--value-stdin", stdin=VALUE
    )
    assert f"created secret DEPLOY_KEY of job {name}" in created
    updated = _cli(
        server, api, "secrets", "set", "DEPLOY_KEY", "--job", name, "--value-stdin", stdin=VALUE
    )
    assert "updated" in updated
    assert "DEPLOY_KEY" in _cli(server, api, "secrets", "list", "--job", name)
    assert "global" in _cli(server, api, "secrets", "list")

    build_id = api.trigger(job["id"])["id"]
    _check_build(api, build_id)
    _assert_clean(json.dumps(api.http.get(f"/jobs/{job['id']}").json()), "the job")

    # Without the job's own secret, the global one is what the step gets (its hash differs).
    _cli(server, api, "secrets", "rm", "DEPLOY_KEY", "--job", name)
    assert "DEPLOY_KEY" not in _cli(server, api, "secrets", "list", "--job", name)
    fallback = api.trigger(job["id"])["id"]
    streamed, _, status = _stream(api, fallback)
    assert status == "success"
    stored = api.log_text(fallback)
    assert "raw: ***" in stored.splitlines() and "has-key" not in stored.splitlines()
    _assert_clean(stored + streamed, "the log of the fallback build")

    _check_at_rest(server, agent, database_url)


def test_a_repository_pipeline_gets_its_secrets_after_the_checkout(
    server: ServerProcess, api: UserApi, agent: Process, database_url: str, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "repos", json.dumps({"steps": STEPS}))
    name = f"repo-secrets-{uuid.uuid4().hex[:8]}"
    job = api.create_job(name, None, scm_url=repo.file_url)  # type: ignore[arg-type]
    _cli(server, api, "secrets", "set", "DEPLOY_KEY", "--job", name, "--value-stdin", stdin=VALUE)

    build_id = api.trigger(job["id"])["id"]
    stored = _check_build(api, build_id)
    assert "steps: deploy, other" in stored
    _check_at_rest(server, agent, database_url)


def test_the_cli_never_takes_a_value_without_a_terminal_or_stdin(
    server: ServerProcess, api: UserApi
) -> None:
    token = str(api.http.headers["Authorization"]).removeprefix("Bearer ")
    result = subprocess.run(
        [sys.executable, "-m", "solvyd.cli", "secrets", "set", "DEPLOY_KEY"],
        env={**os.environ, "SOLVYD_URL": server.url, "SOLVYD_TOKEN": token},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "--value-stdin" in result.stderr
    # There is no way to give the value as an argument.
    result = subprocess.run(
        [sys.executable, "-m", "solvyd.cli", "secrets", "set", "DEPLOY_KEY", VALUE],
        env={**os.environ, "SOLVYD_URL": server.url, "SOLVYD_TOKEN": token},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert api.http.get("/secrets").json()["items"] == []
