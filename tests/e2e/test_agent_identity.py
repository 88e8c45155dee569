"""The agent's credentials end to end (real server and agent processes, SQLite and
PostgreSQL): the registration token comes from the environment or a file and never sits on the
command line, the worker token is kept 0600 out of the steps' sight, a step sees neither nor
the agent's environment, a restarted agent gets its name back, and a stranger with the
registration token alone does not."""

import os
import stat
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.e2e.helpers import UserApi
from tests.support.processes import (
    ADMIN_PASSWORD,
    AGENT_TOKEN,
    ServerProcess,
    start_agent,
    start_embedded,
)

pytestmark = pytest.mark.e2e

# A step that prints what it can see of its environment and of its agent process.
PROBE = """steps:
  - name: probe
    commands:
      - env
      - "tr '\\\\0' ' ' < /proc/$PPID/cmdline || true"
"""


def _worker_token_file(work_dir: Path, name: str) -> Path:
    return work_dir / ".agent" / f"{name}.worker-token"


def _wait_for_exit(popen: "subprocess.Popen[bytes]", timeout: float = 30.0) -> int:
    try:
        return popen.wait(timeout)
    except subprocess.TimeoutExpired:
        raise AssertionError("the agent did not exit") from None


@pytest.mark.parametrize("token_via", ["env", "file"])
def test_the_agent_runs_with_no_token_on_its_command_line_and_steps_see_none(
    api: UserApi, server: ServerProcess, log_dir: Path, tmp_path: Path, token_via: str
) -> None:
    name = f"quiet-{token_via}"
    work_dir = tmp_path / "work" / name
    agent = start_agent(server.url, log_dir, work_dir, name=name, token_via=token_via)  # type: ignore[arg-type]
    try:
        api.wait_for_worker(name)
        cmdline = Path(f"/proc/{agent.pid}/cmdline").read_bytes()
        assert AGENT_TOKEN.encode() not in cmdline
        assert b"--token" not in cmdline.replace(b"--token-file", b"")

        token_file = _worker_token_file(work_dir, name)
        # Saved as soon as the server's answer arrives, a moment after the server lists it.
        deadline = time.monotonic() + 10
        while not token_file.exists():
            assert time.monotonic() < deadline, agent.output()
            time.sleep(0.05)
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        assert stat.S_IMODE(token_file.parent.stat().st_mode) == 0o700
        worker_token = token_file.read_text()
        assert worker_token.startswith("svw_")

        # The registration token's file is the agent user's own: a step running as that user
        # (an agent that is not root) must still not read it.
        registration_file = work_dir.parent / f"{name}.registration-token"
        probe = PROBE + f'      - "cat {registration_file} || echo unreadable"\n'
        job = api.create_job(f"probe-{uuid.uuid4().hex[:6]}", probe)
        build = api.wait_for_finish(api.trigger(job["id"])["id"])
        assert build["status"] == "success", build
        log = api.log_text(build["id"])
        assert "SOLVYD_STEP_NAME=probe" in log  # the step did print its environment
        for held_by_the_agent in (AGENT_TOKEN, worker_token, "SOLVYD_AGENT_TOKEN", "SOLVYD_DATA"):
            assert held_by_the_agent not in log
        assert AGENT_TOKEN not in agent.output() and worker_token not in agent.output()
        assert "deprecated" not in agent.output()
    finally:
        agent.stop()


def test_the_deprecated_token_argument_still_works_and_warns_once(
    api: UserApi, server: ServerProcess, log_dir: Path, tmp_path: Path
) -> None:
    name = "old-style"
    agent = start_agent(
        server.url, log_dir, tmp_path / "work" / name, name=name, token_via="argument"
    )
    try:
        api.wait_for_worker(name)
        job = api.create_job(
            f"old-{uuid.uuid4().hex[:6]}", "steps:\n  - name: s\n    commands: [echo ok]\n"
        )
        assert api.wait_for_finish(api.trigger(job["id"])["id"])["status"] == "success"
    finally:
        agent.stop()
    output = agent.output()
    assert output.count("--token is deprecated") == 1, output
    assert "SOLVYD_AGENT_TOKEN" in output and "--token-file" in output
    assert AGENT_TOKEN not in output


def test_a_restarted_agent_keeps_its_name_and_a_stranger_gets_409(
    api: UserApi, server: ServerProcess, log_dir: Path, tmp_path: Path
) -> None:
    name = "keeper"
    work_dir = tmp_path / "work" / name
    first = start_agent(server.url, log_dir, work_dir, name=name)
    try:
        worker_id = api.wait_for_worker(name)["id"]
    finally:
        assert first.stop() == 0
    again = start_agent(server.url, log_dir, work_dir, name=name)
    try:
        deadline = time.monotonic() + 30
        while "registered" not in again.output():
            assert again.popen.poll() is None, again.output()
            assert time.monotonic() < deadline, again.output()
            time.sleep(0.1)
        assert api.wait_for_worker(name)["id"] == worker_id

        # Same name, the registration token, but not that worker's token (another machine,
        # or a step that read the registration token): refused, and the agent says why.
        stranger = start_agent(server.url, log_dir, tmp_path / "elsewhere", name=name)
        assert _wait_for_exit(stranger.popen) != 0
        assert "already registered" in stranger.output()
        assert not os.path.exists(tmp_path / "elsewhere" / ".agent" / f"{name}.worker-token")
        # The running agent was not disturbed.
        job = api.create_job(
            f"keep-{uuid.uuid4().hex[:6]}", "steps:\n  - name: s\n    commands: [echo ok]\n"
        )
        assert api.wait_for_finish(api.trigger(job["id"])["id"])["status"] == "success"
        assert api.wait_for_worker(name)["id"] == worker_id
    finally:
        again.stop()


def _cli(server: ServerProcess, api: UserApi, *args: str, stdin: str = "") -> tuple[str, str]:
    token = str(api.http.headers["Authorization"]).removeprefix("Bearer ")
    result = subprocess.run(
        [sys.executable, "-m", "solvyd.cli", *args],
        env={**os.environ, "SOLVYD_URL": server.url, "SOLVYD_TOKEN": token, "COLUMNS": "200"},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout, result.stderr


def test_the_cli_makes_label_scoped_tokens_protected_secrets_and_frees_names(
    api: UserApi, server: ServerProcess, log_dir: Path, tmp_path: Path
) -> None:
    out, err = _cli(server, api, "agent-tokens", "create", "rack", "--labels", "linux,local")
    token = out.strip()
    assert token.startswith("sva_") and "linux,local" in err and token not in err
    listed, _ = _cli(server, api, "agent-tokens", "list")
    assert "linux,local" in listed and token not in listed

    # An agent given that token in a file registers within its labels...
    token_file = tmp_path / "rack.token"
    token_file.write_text(token)
    token_file.chmod(0o600)
    args = ["--token-file", str(token_file)]
    agent = start_agent(
        server.url, log_dir, tmp_path / "w1", name="racked", labels="linux", extra_args=args
    )
    try:
        worker = api.wait_for_worker("racked")
        assert worker["labels"] == ["linux", "local"]
    finally:
        agent.stop()
    # ...and not beyond them: it ends with the server's reason.
    wide = start_agent(
        server.url, log_dir, tmp_path / "w2", name="wide", labels="gpu", extra_args=args
    )
    assert _wait_for_exit(wide.popen) != 0
    assert "does not grant the labels gpu" in wide.output()

    # An admin frees a name that is gone for good.
    _, err = _cli(server, api, "workers", "rm", "racked")
    assert "removed worker racked" in err
    names = [w["name"] for w in api.http.get("/workers").json()["items"]]
    assert "racked" not in names

    job = api.create_job(
        f"cli-{uuid.uuid4().hex[:6]}", "steps:\n  - name: s\n    commands: [echo]\n"
    )
    _, err = _cli(
        server,
        api,
        *("secrets", "set", "DEPLOY_KEY", "--job", job["name"], "--value-stdin"),
        *("--protected-branch", "main", "--protected-branch", "release/*"),
        stdin="cli-protected-value",
    )
    assert "only for branches main, release/*" in err
    listed, _ = _cli(server, api, "secrets", "list", "--job", job["name"])
    assert "main,release/*" in listed and "cli-protected-value" not in listed


def test_solvyd_up_keeps_its_agents_name_across_restarts_even_without_a_saved_token(
    tmp_path: Path, log_dir: Path
) -> None:
    """`up`'s own agent is the server's: restarted on the same data, even one from before
    worker tokens were saved (no `.agent` directory), it gets its name back and builds."""
    workdir = tmp_path / "embedded"
    workdir.mkdir()
    env = {"SOLVYD_ADMIN_PASSWORD": ADMIN_PASSWORD, "SOLVYD_DATABASE_URL": ""}
    saved = workdir / ".solvyd" / "work" / ".agent" / "local.worker-token"
    worker_ids = []
    for run in range(2):
        # Bounds for a loaded machine: `up` migrates, hashes and starts an agent first.
        process, url = start_embedded(workdir, env, log_dir, timeout=90)
        try:
            http = ServerProcess(process, url)
            api = UserApi(http)
            worker_ids.append(api.wait_for_worker("local")["id"])
            deadline = time.monotonic() + 10
            while not saved.exists():
                assert time.monotonic() < deadline, process.output()
                time.sleep(0.05)
            assert stat.S_IMODE(saved.stat().st_mode) == 0o600
            [job] = [j for j in api.http.get("/jobs").json()["items"] if j["name"] == "hello"]
            build = api.wait_for_finish(api.trigger(job["id"])["id"], timeout=60)
            assert build["status"] == "success", process.output()
            api.http.close()
        except BaseException:
            process.stop()
            raise
        assert process.stop(timeout=60) == 0, process.output()
        if run == 0:
            saved.unlink()  # as a data directory from before tokens were saved
    assert worker_ids[0] == worker_ids[1]
