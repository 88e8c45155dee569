"""Live logs end to end: real server and agent processes, a viewer on the Server-Sent Events
stream. Every line arrives once and in order, across a reconnect and across two servers;
secrets never reach the stored or streamed log; the size limits hold and the build goes on."""

import base64
import json
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from httpx_sse import connect_sse

from tests.e2e.helpers import UserApi, one_step
from tests.support.processes import Process, ServerProcess, start_agent, start_server

pytestmark = pytest.mark.e2e

LINES = 2000
# Prints LINES numbered lines in about 2 s, in bursts.
NUMBERED = (
    f'for i in $(seq 1 {LINES}); do echo "line $i"; '
    "if [ $((i % 200)) -eq 0 ]; then sleep 0.2; fi; done"
)
STREAM_TIMEOUT = 60.0


@dataclass
class StreamRead:
    lines: list[str] = field(default_factory=list)
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    last_id: str | None = None
    # Per line: seconds from the agent reading it to this viewer receiving it.
    delays: list[float] = field(default_factory=list)

    @property
    def ended(self) -> dict[str, Any] | None:
        return next((data for kind, data in self.events if kind == "end"), None)


def read_stream(
    api: UserApi,
    build_id: str,
    *,
    last_event_id: str | None = None,
    stop_after_lines: int | None = None,
    read: StreamRead | None = None,
) -> StreamRead:
    """Read the stream until its end event (or `stop_after_lines` more lines, then hang up)."""
    read = read or StreamRead()
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    wanted = None if stop_after_lines is None else len(read.lines) + stop_after_lines
    timeout = httpx.Timeout(STREAM_TIMEOUT, connect=10)
    url = f"/builds/{build_id}/logs/stream"
    with connect_sse(api.http, "GET", url, headers=headers, timeout=timeout) as source:
        assert source.response.status_code == 200
        for sse in source.iter_sse():
            data = json.loads(sse.data)
            read.events.append((sse.event, data))
            if sse.event == "lines":
                received = time.time()
                for line in data["lines"]:
                    read.lines.append(line["text"])
                    read.delays.append(received - datetime.fromisoformat(line["ts"]).timestamp())
                read.last_id = sse.id
            if sse.event == "end" or (wanted is not None and len(read.lines) >= wanted):
                break
    return read


def wait_for_lines(api: UserApi, build_id: str, count: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while api.log_text(build_id).count("\n") < count:
        assert time.monotonic() < deadline, f"fewer than {count} lines within {timeout} s"
        time.sleep(0.05)


@pytest.fixture
def agent(server: ServerProcess, log_dir: Path, tmp_path: Path) -> Iterator[Process]:
    process = start_agent(server.url, log_dir, tmp_path / "work", name="logs-agent")
    yield process
    process.stop()


def _expected() -> list[str]:
    return [f"line {i}" for i in range(1, LINES + 1)]


def _output(lines: list[str]) -> list[str]:
    """The lines the commands printed (the executor also echoes each command, `$ ...`)."""
    return [line for line in lines if not line.startswith("$ ")]


def test_viewer_joining_mid_build_gets_every_line_once_in_order_across_a_reconnect(
    api: UserApi, agent: Process
) -> None:
    job = api.create_job(f"live-{uuid.uuid4().hex[:8]}", one_step(NUMBERED))
    build_id = api.trigger(job["id"])["id"]
    wait_for_lines(api, build_id, 300)

    first = read_stream(api, build_id, stop_after_lines=700)
    assert first.ended is None and first.last_id is not None
    rest = read_stream(api, build_id, last_event_id=first.last_id)

    assert _output(first.lines + rest.lines) == _expected()
    assert rest.ended is not None and rest.ended["status"] == "success"
    # Step boundaries arrive as their own events: the step ran, then succeeded, before the end.
    steps = [
        (data["name"], data["status"])
        for kind, data in first.events + rest.events
        if kind == "step"
    ]
    assert ("s", "success") in steps
    assert [kind for kind, _ in rest.events][-1] == "end"


def test_stream_of_a_finished_build_replays_it_and_ends(api: UserApi, agent: Process) -> None:
    job = api.create_job(f"done-{uuid.uuid4().hex[:8]}", one_step("echo one", "exit 3"))
    build_id = api.trigger(job["id"])["id"]
    api.wait_for_finish(build_id)
    read = read_stream(api, build_id)
    assert _output(read.lines) == ["one"]
    assert read.ended is not None
    assert (read.ended["status"], read.ended["exit_code"]) == ("failure", 3)
    # `after` skips what the viewer has: nothing is sent twice.
    after = read.last_id.split(".")[1] if read.last_id else "-1"
    again = api.http.get(f"/builds/{build_id}/logs/stream", params={"after": after})
    assert "event: lines" not in again.text and "event: end" in again.text


def test_stream_of_an_unknown_build_or_bad_position_is_refused(api: UserApi) -> None:
    assert api.http.get(f"/builds/{uuid.uuid4()}/logs/stream").status_code == 404
    job = api.create_job(f"bad-{uuid.uuid4().hex[:8]}", one_step("true"))
    build_id = api.trigger(job["id"])["id"]
    response = api.http.get(
        f"/builds/{build_id}/logs/stream", headers={"Last-Event-ID": "not-an-id"}
    )
    assert response.status_code == 422


def test_a_stream_stops_once_its_viewer_logs_out(api: UserApi, agent: Process) -> None:
    """The token is checked again while the stream goes on, not only when it opens."""
    name, password = f"viewer-{uuid.uuid4().hex[:6]}", "viewer-password"
    created = api.http.post(
        "/users", json={"username": name, "password": password, "role": "viewer"}
    )
    assert created.status_code == 201, created.text
    login = api.http.post("/auth/login", json={"username": name, "password": password}).json()
    viewer = {"Authorization": f"Bearer {login['access_token']}"}
    job = api.create_job(
        f"slow-{uuid.uuid4().hex[:8]}",
        one_step("for i in $(seq 1 300); do echo tick $i; sleep 0.1; done"),
    )
    build_id = api.trigger(job["id"])["id"]
    events: list[str] = []
    url = f"/builds/{build_id}/logs/stream"
    timeout = httpx.Timeout(STREAM_TIMEOUT, connect=10)
    with connect_sse(api.http, "GET", url, headers=viewer, timeout=timeout) as source:
        assert source.response.status_code == 200
        for sse in source.iter_sse():
            events.append(sse.event)
            if sse.event == "lines" and "logout" not in events:
                assert api.http.post("/auth/logout", headers=viewer).status_code == 204
                logged_out_at = time.monotonic()
                events.append("logout")
        stopped_after = time.monotonic() - logged_out_at

    assert "end" not in events
    # The recheck interval (5 s) and one more pass of the stream.
    assert stopped_after < 10, stopped_after
    assert api.build(build_id)["status"] == "running"
    assert api.http.get(url, headers=viewer).status_code == 401
    api.cancel(build_id)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_lines_posted_to_one_server_reach_a_viewer_on_another_and_resume_on_the_first(
    database_url: str, tmp_path: Path, log_dir: Path
) -> None:
    started: list[Process] = []
    apis: list[UserApi] = []
    try:
        # Long idle re-checks: only a cross-server wake-up delivers lines within seconds.
        servers = []
        for name in ("a", "b"):
            server = start_server(database_url, tmp_path / name, log_dir)
            started.append(server.process)
            servers.append(server)
        agent = start_agent(servers[0].url, log_dir, tmp_path / "work", name="on-a")
        started.append(agent)
        api_a, api_b = UserApi(servers[0]), UserApi(servers[1])
        apis += [api_a, api_b]

        job = api_b.create_job(f"replica-{uuid.uuid4().hex[:8]}", one_step(NUMBERED))
        build_id = api_b.trigger(job["id"])["id"]
        wait_for_lines(api_b, build_id, 100)
        on_b = read_stream(api_b, build_id, stop_after_lines=900)
        assert on_b.ended is None and on_b.last_id is not None
        on_a = read_stream(api_a, build_id, last_event_id=on_b.last_id)

        assert _output(on_b.lines + on_a.lines) == _expected()
        assert on_a.ended is not None and on_a.ended["status"] == "success"
        # Lines the agent sent to A while the viewer was on B reached it through B's wake-up,
        # far sooner than B's idle re-check (15 s) would have.
        live = on_b.delays[-500:]
        assert max(live) < 2.0, sorted(live)[-5:]
    finally:
        for user_api in apis:
            user_api.http.close()
        for process in reversed(started):
            process.stop()


SECRET = "s3cr3t Value/with+chars&more"


def test_secrets_never_reach_the_stored_or_streamed_log(api: UserApi, agent: Process) -> None:
    pipeline = {
        "mask": ["DEPLOY_TOKEN"],
        "steps": [
            {
                "name": "leaky",
                "commands": [
                    'echo "plain: $DEPLOY_TOKEN"',
                    # The value split across two writes of the process, 0.3 s apart.
                    'printf "split: %s" "${DEPLOY_TOKEN%????}"; sleep 0.3; '
                    'printf "%s\\n" "${DEPLOY_TOKEN#${DEPLOY_TOKEN%????}}"',
                    'printf "%s" "$DEPLOY_TOKEN" | base64',
                    'printf "user:%s" "$DEPLOY_TOKEN" | base64 -w0; echo',
                    'python3 -c "import os, urllib.parse as u; '
                    "print(u.quote(os.environ['DEPLOY_TOKEN'], safe=''))\"",
                    'echo "::add-mask::runtime-$((6 * 7))-value"',
                    "echo computed: runtime-42-value",
                    "echo still-visible",
                ],
            }
        ],
    }
    job = api.create_job(
        f"secret-{uuid.uuid4().hex[:8]}", json.dumps(pipeline), env={"DEPLOY_TOKEN": SECRET}
    )
    build_id = api.trigger(job["id"])["id"]
    streamed = read_stream(api, build_id)
    assert streamed.ended is not None and streamed.ended["status"] == "success"
    stored = api.log_text(build_id)

    forbidden = [
        SECRET,
        base64.b64encode(SECRET.encode()).decode(),
        base64.b64encode(f"user:{SECRET}".encode()).decode(),
        urllib.parse.quote(SECRET, safe=""),
        "runtime-42-value",
    ]
    for text in (stored, "\n".join(streamed.lines)):
        assert "still-visible" in text and "plain: ***" in text and "split: ***" in text
        for value in forbidden:
            assert value not in text
        # What is left of a base64 line does not decode back to the secret either.
        for line in text.splitlines():
            raw = line.replace("***", "")
            try:
                decoded = base64.b64decode(raw + "==", validate=False)
            except ValueError:
                continue
            assert SECRET.encode() not in decoded


def test_long_lines_are_cut_and_the_log_cap_ends_storage_not_the_build(
    database_url: str, tmp_path: Path, log_dir: Path
) -> None:
    cap = 200_000
    server = start_server(
        database_url, tmp_path / "server-data", log_dir, SOLVYD_MAX_LOG_BYTES=str(cap)
    )
    agent = start_agent(server.url, log_dir, tmp_path / "work", name="cap-agent")
    user_api = UserApi(server)
    try:
        commands = [
            "python3 -c \"print('x' * 100000)\"",
            "echo after-the-long-line",
            'for i in $(seq 1 5000); do echo "filler line $i with some padding text"; done',
            "echo done > result.txt",
        ]
        job = user_api.create_job(f"cap-{uuid.uuid4().hex[:8]}", one_step(*commands))
        build_id = user_api.trigger(job["id"])["id"]
        build = user_api.wait_for_finish(build_id, timeout=60)
        assert build["status"] == "success"

        lines = user_api.log_text(build_id).splitlines()
        lines = _output(lines)
        long_line = lines[0]
        assert long_line.startswith("x" * 1000)
        assert long_line.endswith("[solvyd: line cut, it had 100000 bytes]")
        assert len(long_line.encode()) <= 65536
        assert lines[1] == "after-the-long-line"
        assert "log truncated" in lines[-1]
        assert not any(line.startswith("filler line 5000 ") for line in lines)
        stored = sum(len(line.encode()) + 1 for line in lines)
        assert stored <= cap + len(lines[-1]) + 1
    finally:
        user_api.http.close()
        agent.stop()
        server.process.stop()


def test_a_flood_of_output_is_stored_whole_while_a_viewer_follows(
    api: UserApi, agent: Process
) -> None:
    count = 300_000
    job = api.create_job(f"flood-{uuid.uuid4().hex[:8]}", one_step(f"seq 1 {count}"))
    build_id = api.trigger(job["id"])["id"]
    streamed = read_stream(api, build_id)
    assert streamed.ended is not None and streamed.ended["status"] == "success"
    assert _output(streamed.lines) == [str(i) for i in range(1, count + 1)]
    stored = _output(api.log_text(build_id).splitlines())
    assert len(stored) == count and stored[-1] == str(count)
