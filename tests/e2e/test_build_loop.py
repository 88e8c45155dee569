"""The build loop end to end: a real server process and real agent processes, on SQLite and
PostgreSQL, with the local executor running real shell commands."""

import contextlib
import os
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.e2e.helpers import UserApi, pid_alive, wait_for_step_pid
from tests.support.processes import Process, ServerProcess, start_agent

pytestmark = pytest.mark.e2e

AgentFactory = Callable[..., Process]


@pytest.fixture
def agents(server: ServerProcess, log_dir: Path, tmp_path: Path) -> Iterator[AgentFactory]:
    started: list[Process] = []

    def start(name: str | None = None, **kwargs: object) -> Process:
        name = name or f"agent-{uuid.uuid4().hex[:6]}"
        process = start_agent(server.url, log_dir, tmp_path / "work" / name, name=name, **kwargs)  # type: ignore[arg-type]
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


def _job_name() -> str:
    return f"job-{uuid.uuid4().hex[:8]}"


def test_build_succeeds_with_its_log(api: UserApi, agents: AgentFactory) -> None:
    agents("a1")
    api.wait_for_worker("a1")
    job = api.create_job(
        _job_name(),
        "steps:\n"
        "  - name: hello\n"
        "    commands:\n"
        "      - echo hello from $SOLVYD_JOB_NAME build $SOLVYD_BUILD_NUMBER\n"
        "      - echo to stderr >&2\n"
        "  - name: second\n"
        "    commands: ['echo step=$SOLVYD_STEP_NAME ci=$CI',"
        " 'echo event=$SOLVYD_EVENT tag=[$SOLVYD_TAG] pr=[$SOLVYD_PULL_REQUEST]']\n",
    )
    build = api.trigger(job["id"])
    finished = api.wait_for_finish(build["id"])
    assert finished["status"] == "success", finished
    assert finished["exit_code"] == 0
    assert [s["status"] for s in finished["steps"]] == ["success", "success"]
    log = api.log_text(build["id"])
    assert f"hello from {job['name']} build 1" in log
    assert "to stderr" in log
    assert "step=second ci=true" in log
    # What started it reaches the step; what is not known is empty.
    assert "event=manual tag=[] pr=[]" in log


def test_failing_command_fails_the_build_with_its_exit_code(
    api: UserApi, agents: AgentFactory
) -> None:
    agents("a1")
    job = api.create_job(
        _job_name(),
        "steps:\n"
        "  - name: breaks\n    commands: ['echo about to fail', 'exit 7']\n"
        "  - name: never\n    commands: ['echo should not run']\n",
    )
    finished = api.wait_for_finish(api.trigger(job["id"])["id"])
    assert finished["status"] == "failure"
    assert finished["exit_code"] == 7
    assert [s["status"] for s in finished["steps"]] == ["failure", "skipped"]
    assert "should not run" not in api.log_text(finished["id"])


def test_cancel_stops_a_silent_running_build_within_two_seconds(
    api: UserApi, agents: AgentFactory
) -> None:
    agents("a1")
    job = api.create_job(
        _job_name(), "steps:\n  - name: wait\n    commands: ['echo pid=$$', 'sleep 60']\n"
    )
    build = api.trigger(job["id"])
    shell_pid = wait_for_step_pid(api, build["id"])
    assert pid_alive(shell_pid)

    started = time.monotonic()
    assert api.cancel(build["id"])["status"] == "cancelled"
    while pid_alive(shell_pid):
        assert time.monotonic() - started < 2.0, "the step's process outlived the cancel by 2 s"
        time.sleep(0.02)
    finished = api.build(build["id"])
    assert finished["status"] == "cancelled"


def test_cancelled_queued_build_never_starts(api: UserApi, agents: AgentFactory) -> None:
    job = api.create_job(
        _job_name(), "steps:\n  - name: s\n    commands: ['echo ran']\n", labels=["nobody-has-this"]
    )
    build = api.trigger(job["id"])
    assert api.cancel(build["id"])["status"] == "cancelled"
    agents("a1", labels="nobody-has-this")
    api.wait_for_worker("a1")
    other = api.trigger(job["id"])
    assert api.wait_for_finish(other["id"])["status"] == "success"
    final = api.build(build["id"])
    assert final["status"] == "cancelled"
    assert final["started_at"] is None
    assert api.log_text(build["id"]) == ""


def test_agent_killed_mid_build_does_not_leave_it_running(
    api: UserApi, agents: AgentFactory, server: ServerProcess
) -> None:
    agent = agents("doomed")
    job = api.create_job(
        _job_name(), "steps:\n  - name: s\n    commands: ['echo pid=$$', 'sleep 30']\n"
    )
    build = api.trigger(job["id"])
    shell_pid = wait_for_step_pid(api, build["id"])
    try:
        os.kill(agent.pid, signal.SIGKILL)
        agent.popen.wait(10)
        # Restarting the agent under the same name tells the server its old builds are lost.
        agents("doomed")
        finished = api.wait_for_finish(build["id"], timeout=20)
        assert finished["status"] == "error"
        assert "worker" in finished["error_message"]
    finally:
        # The killed agent could not clean up: its step's process group is ours to stop.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(shell_pid, signal.SIGKILL)
