"""Steps are hostile code (issue 14, items 1 and 10), with real `solvyd up`, `solvyd server`
and `solvyd agent` processes: a step of the embedded default cannot read what the server
holds, the data directory is private, a step dies with its agent even on SIGKILL, a retried
attempt gets a workspace of its own, and an agent that cannot isolate says so in one line."""

import os
import re
import shutil
import stat
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.helpers import UserApi, one_step
from tests.support.processes import (
    ADMIN_PASSWORD,
    Process,
    ServerProcess,
    spawn,
    start_agent,
    start_embedded,
    start_server,
)

pytestmark = pytest.mark.e2e

UP_AGENT_TOKEN = "up-agent-token-" + uuid.uuid4().hex
FAST_HEARTBEATS = {
    "SOLVYD_HEARTBEAT_INTERVAL_SECONDS": "0.5",
    "SOLVYD_HEARTBEAT_TTL_INTERVALS": "3",
    "SOLVYD_REAPER_INTERVAL_SECONDS": "0.5",
    # The requeued attempt starts at once.
    "SOLVYD_RETRY_BACKOFF_SECONDS": "0",
}
WARNING = "build steps are NOT isolated"
VENV_BIN = str(Path(sys.prefix) / "bin")
PROXY = "http://proxy.invalid:3128"

# What a developer's pipeline tried (issue 14): the server's files, and every process's
# environment and command line. The patterns are bracketed so that they do not match the
# step's own command line.
SNOOP = r"""
D="$DATA_DIR"
for f in "$D/secret-key" "$D/solvyd.db" "$D/agent-token"; do
  if cat "$f" > /dev/null 2>&1; then echo "READ $f"; else echo "DENIED $f"; fi
done
echo "LISTING $(ls -A "$D" 2> /dev/null | tr '\n' ' ')"
for f in /proc/[0-9]*/environ /proc/[0-9]*/cmdline; do
  if grep -qa -e 'SOLVYD_ADMIN_PASS[W]ORD' -e 'SOLVYD_AGENT_TOK[E]N' \
       -e 'up-agent-toke[n]' "$f" 2> /dev/null; then
    echo "LEAK $f"
  fi
done
echo "scanned $(ls -d /proc/[0-9]* | wc -l) processes"
"""


@pytest.fixture
def embedded(log_dir: Path) -> Iterator[tuple[Process, str, Path]]:
    """`solvyd up` as a newcomer runs it (SQLite under ./.solvyd), with both secrets set in its
    environment."""
    # Outside /tmp, which the sandbox replaces anyway: the data directory must be hidden by
    # the sandbox's own masking.
    workdir = Path(tempfile.mkdtemp(prefix="solvyd-newcomer-", dir="/var/tmp"))
    env = {
        "SOLVYD_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "SOLVYD_AGENT_TOKEN": UP_AGENT_TOKEN,
        "SOLVYD_DATABASE_URL": "",
        "SOLVYD_DATA_DIR": str(workdir / ".solvyd"),
        # As under `make run`: Solvyd's own virtual environment first on PATH and active.
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}",
        "VIRTUAL_ENV": sys.prefix,
        # A machine's proxy, passed to steps by name; the other variable is not named.
        "SOLVYD_ENV_PASSTHROUGH": "HTTPS_PROXY",
        "HTTPS_PROXY": PROXY,
        "NOT_NAMED": "host-only",
    }
    try:
        process, url = start_embedded(workdir, env, log_dir)
    except RuntimeError:
        shutil.rmtree(workdir)
        raise
    try:
        yield process, url, workdir / ".solvyd"
    finally:
        process.stop()
        shutil.rmtree(workdir)


def _api(url: str) -> UserApi:
    return UserApi(ServerProcess(process=None, url=url))  # type: ignore[arg-type]


def test_a_step_of_solvyd_up_cannot_read_the_servers_files_or_environments(
    embedded: tuple[Process, str, Path],
) -> None:
    up, url, data_dir = embedded
    api = _api(url)
    try:
        job = api.create_job("snoop", one_step(SNOOP), env={"DATA_DIR": str(data_dir)})
        build = api.wait_for_finish(api.trigger(job["id"])["id"], timeout=30)
        log = api.log_text(build["id"])
    finally:
        api.http.close()
    assert build["status"] == "success", log
    secret_key = (data_dir / "secret-key").read_text().strip()
    for name in ("secret-key", "solvyd.db", "agent-token"):
        assert f"DENIED {data_dir / name}" in log, log
    # (The step's script is echoed into the log too: look at whole lines.)
    assert not re.search(r"^(READ|LEAK) /", log, re.MULTILINE), log
    assert re.search(r"LISTING\s*$", log, re.MULTILINE), log
    for value in (secret_key, ADMIN_PASSWORD, UP_AGENT_TOKEN):
        assert value not in log
    # Its own PID namespace: only the sandbox's few processes, not the machine's.
    scanned = int(re.search(r"scanned (\d+) processes", log).group(1))  # type: ignore[union-attr]
    assert scanned < 10, log
    assert WARNING not in up.output()


def test_a_step_of_solvyd_up_gets_no_venv_of_solvyd_and_only_the_host_variables_named(
    embedded: tuple[Process, str, Path],
) -> None:
    up, url, _ = embedded
    api = _api(url)
    script = (
        'echo "path=$PATH"; echo "python3=$(command -v python3 || echo none)"; '
        'echo "venv=${VIRTUAL_ENV-unset} proxy=${HTTPS_PROXY-unset} other=${NOT_NAMED-unset}"'
    )
    try:
        job = api.create_job("host-env", one_step(script))
        build = api.wait_for_finish(api.trigger(job["id"])["id"], timeout=30)
        log = api.log_text(build["id"])
    finally:
        api.http.close()
    assert build["status"] == "success", log
    path = re.search(r"^path=(.*)$", log, re.MULTILINE).group(1)  # type: ignore[union-attr]
    assert VENV_BIN not in path.split(os.pathsep), log
    python3 = re.search(r"^python3=(.*)$", log, re.MULTILINE).group(1)  # type: ignore[union-attr]
    assert not python3.startswith(sys.prefix), log
    assert f"venv=unset proxy={PROXY} other=unset" in log
    assert "steps also get these variables of this machine: HTTPS_PROXY" in up.output()
    assert PROXY not in up.output()


def test_the_data_directory_and_everything_in_it_are_private(
    embedded: tuple[Process, str, Path],
) -> None:
    _, url, data_dir = embedded
    api = _api(url)
    try:
        # A build, so that the database has written its -wal and the agent its work dir.
        job = api.create_job("private", one_step("echo hi"))
        assert api.wait_for_finish(api.trigger(job["id"])["id"])["status"] == "success"
    finally:
        api.http.close()
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    seen = set()
    for directory, dirs, files in os.walk(data_dir):
        for name in dirs:
            path = Path(directory, name)
            assert stat.S_IMODE(path.lstat().st_mode) == 0o700, path
        for name in files:
            path = Path(directory, name)
            assert stat.S_IMODE(path.lstat().st_mode) == 0o600, path
            seen.add(name)
    assert {"secret-key", "solvyd.db", "solvyd.db-wal"} <= seen


def test_an_existing_data_directory_is_made_private_at_start(tmp_path: Path, log_dir: Path) -> None:
    data_dir = tmp_path / "old-install"
    data_dir.mkdir(mode=0o755)
    os.chmod(data_dir, 0o755)  # noqa: S103 (an install made before the data dir was private)
    (data_dir / "secret-key").write_text("an-old-secret-key-of-enough-length\n")
    os.chmod(data_dir / "secret-key", 0o644)
    database = data_dir / "solvyd.db"
    server = start_server(f"sqlite:///{database}", data_dir, log_dir)
    server.process.stop()
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((data_dir / "secret-key").stat().st_mode) == 0o600
    assert stat.S_IMODE(database.stat().st_mode) == 0o600


def _processes_with(marker: str) -> list[int]:
    """Live processes whose command line holds `marker`."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                if marker.encode() not in handle.read():
                    continue
            with open(f"/proc/{entry}/stat") as handle:
                if handle.read().rpartition(")")[2].split()[0] in ("Z", "X"):
                    continue
        except OSError:
            continue
        found.append(int(entry))
    return found


@pytest.fixture
def fast_server(database_url: str, tmp_path: Path, log_dir: Path) -> Iterator[ServerProcess]:
    process = start_server(database_url, tmp_path / "data", log_dir, **FAST_HEARTBEATS)
    try:
        yield process
    finally:
        process.process.stop()


@pytest.mark.timeout(90)
@pytest.mark.parametrize("isolation", ["auto", "none"])
def test_a_step_dies_with_its_sigkilled_agent_and_its_retry_gets_a_new_workspace(
    fast_server: ServerProcess, log_dir: Path, tmp_path: Path, isolation: str
) -> None:
    api = UserApi(fast_server)
    marker = f"marker-{uuid.uuid4().hex}"
    work = tmp_path / "work"
    script = (
        'echo "ws=$SOLVYD_WORKSPACE"; '
        f"sh -c 'sleep 300; echo {marker}-child' & "
        f"sleep 300; echo {marker}"
    )
    options = ["--isolation", isolation]
    first = start_agent(fast_server.url, log_dir, work, name="mortal", extra_args=options)
    second: Process | None = None
    try:
        job = api.create_job("mortal", one_step(script), max_retries=1)
        build_id = api.trigger(job["id"])["id"]
        deadline = time.monotonic() + 20
        first_ws: list[str] = []
        while len(_processes_with(marker)) < 2 or not first_ws:
            assert time.monotonic() < deadline, api.log_text(build_id)
            time.sleep(0.05)
            first_ws = re.findall(r"ws=(/\S+)", api.log_text(build_id))
        first.kill()
        deadline = time.monotonic() + 5
        while alive := _processes_with(marker):
            assert time.monotonic() < deadline, f"the step outlived its agent: {alive}"
            time.sleep(0.05)

        # The server requeues the lost build; the agent, restarted, runs attempt 2.
        second = start_agent(fast_server.url, log_dir, work, name="mortal", extra_args=options)
        deadline = time.monotonic() + 30
        workspaces: list[str] = []
        while not workspaces:
            assert time.monotonic() < deadline, api.log_text(build_id)
            time.sleep(0.1)
            if api.build(build_id)["attempt"] == 2:
                # The requeue deleted attempt 1's log: lines read after it are attempt 2's.
                workspaces = re.findall(r"ws=(/\S+)", api.log_text(build_id))
        assert len(first_ws) == 1
        assert workspaces[-1] != first_ws[0], api.log_text(build_id) + str(api.build(build_id))
        api.cancel(build_id)
    finally:
        first.kill()
        if second is not None:
            second.stop()
        api.http.close()


def _path_without_bwrap(tmp_path: Path) -> str:
    """A PATH with a shell and the tools an agent needs, but no bubblewrap."""
    bin_dir = tmp_path / "bin-without-bwrap"
    bin_dir.mkdir()
    for tool in ("sh", "git", "setpriv"):
        for directory in [*os.defpath.split(":"), "/usr/local/bin"]:
            if os.path.exists(os.path.join(directory, tool)):
                (bin_dir / tool).symlink_to(os.path.join(directory, tool))
                break
    return str(bin_dir)


@pytest.mark.parametrize("isolation", ["auto", "none"])
def test_an_agent_that_cannot_isolate_says_so_in_one_line(
    server: ServerProcess, log_dir: Path, tmp_path: Path, isolation: str
) -> None:
    agent = spawn(
        "agent-bare",
        [
            "agent",
            "--server",
            server.url,
            "--token",
            "test-agent-token",
            "--name",
            "bare",
            "--work-dir",
            str(tmp_path / "work"),
            "--isolation",
            isolation,
        ],
        {"PATH": _path_without_bwrap(tmp_path) if isolation == "auto" else os.environ["PATH"]},
        log_dir,
    )
    api = UserApi(server)
    try:
        api.wait_for_worker("bare")
        job = api.create_job("bare", one_step("echo ran"))
        assert api.wait_for_finish(api.trigger(job["id"])["id"])["status"] == "success"
    finally:
        agent.stop()
        api.http.close()
    warnings = [line for line in agent.output().splitlines() if WARNING in line]
    assert len(warnings) == 1, agent.output()


def test_an_agent_told_to_isolate_refuses_to_start_without_a_sandbox(
    server: ServerProcess, log_dir: Path, tmp_path: Path
) -> None:
    agent = spawn(
        "agent-strict",
        [
            "agent",
            "--server",
            server.url,
            "--token",
            "test-agent-token",
            "--work-dir",
            str(tmp_path / "work"),
            "--isolation",
            "bwrap",
        ],
        {"PATH": _path_without_bwrap(tmp_path)},
        log_dir,
    )
    assert agent.popen.wait(30) != 0
    assert "bubblewrap (bwrap) is not installed" in agent.output()
