"""Talking to a real server as a user would: over HTTP, with bounded waits."""

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from tests.support.processes import ServerProcess

REPO = Path(__file__).resolve().parents[2]


def run_cli(
    config: Path, *args: str, stdin: str | None = None, columns: int = 200
) -> subprocess.CompletedProcess[str]:
    """`solvyd <args>` as a user runs it, with `config` as its CLI config file; a traceback on
    stderr fails the test whatever the exit code (every error must read as a message)."""
    result = subprocess.run(
        [sys.executable, "-m", "solvyd.cli", *args],
        env={**os.environ, "SOLVYD_CLI_CONFIG": str(config), "COLUMNS": str(columns)},
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        input=stdin,
        check=False,
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result


class UserApi:
    def __init__(self, server: ServerProcess) -> None:
        self.http = httpx.Client(
            base_url=f"{server.url}/api/v1",
            headers={"Authorization": f"Bearer {server.admin_token()}"},
            timeout=30,
        )

    def create_job(self, name: str, pipeline: str, **fields: Any) -> dict[str, Any]:
        response = self.http.post("/jobs", json={"name": name, "pipeline": pipeline, **fields})
        response.raise_for_status()
        return dict(response.json())

    def trigger(self, job_id: str, **body: Any) -> dict[str, Any]:
        response = self.http.post(f"/jobs/{job_id}/trigger", json=body)
        response.raise_for_status()
        return dict(response.json())

    def build(self, build_id: str) -> dict[str, Any]:
        response = self.http.get(f"/builds/{build_id}")
        response.raise_for_status()
        return dict(response.json())

    def log_text(self, build_id: str) -> str:
        response = self.http.get(f"/builds/{build_id}/logs", params={"format": "text"})
        response.raise_for_status()
        return response.text

    def cancel(self, build_id: str) -> dict[str, Any]:
        response = self.http.post(f"/builds/{build_id}/cancel")
        response.raise_for_status()
        return dict(response.json())

    def wait_for_status(
        self, build_id: str, statuses: set[str], timeout: float = 30.0
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            build = self.build(build_id)
            if build["status"] in statuses:
                return build
            if time.monotonic() > deadline:
                raise AssertionError(f"build stayed {build['status']}, wanted {statuses}: {build}")
            time.sleep(0.05)

    def wait_for_finish(self, build_id: str, timeout: float = 30.0) -> dict[str, Any]:
        return self.wait_for_status(build_id, {"success", "failure", "cancelled", "error"}, timeout)

    def wait_for_worker(self, name: str, timeout: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for worker in self.http.get("/workers").json()["items"]:
                if worker["name"] == name and worker["status"] == "online":
                    return dict(worker)
            time.sleep(0.05)
        raise AssertionError(f"worker {name} did not register within {timeout}s")


def pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            state = handle.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"  # a zombie has exited; its parent just has not reaped it


def one_step(*commands: str, name: str = "s") -> str:
    """A pipeline of one step (JSON is YAML too)."""
    return json.dumps({"steps": [{"name": name, "commands": list(commands)}]})


def wait_for_step_pid(api: UserApi, build_id: str, timeout: float = 15.0) -> int:
    """The step's shell prints its pid (`echo pid=$$`); wait until that line is stored. The
    answer is the pid on this machine: in the local executor's sandbox `$$` is a pid of the
    step's own PID namespace, so the shell is found by its build id and namespaced pid."""
    deadline = time.monotonic() + timeout
    while not (match := re.search(r"pid=(\d+)", api.log_text(build_id))):
        assert time.monotonic() < deadline, "the step never printed its pid"
        time.sleep(0.05)
    inner = int(match.group(1))
    return host_pid(build_id, inner) or inner


def host_pid(build_id: str, inner_pid: int) -> int | None:
    """The pid on this machine of the step process of `build_id` whose innermost pid is
    `inner_pid` (the same number outside a PID namespace)."""
    wanted = f"SOLVYD_BUILD_ID={build_id}".encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as handle:
                if wanted not in handle.read().split(b"\0"):
                    continue
            with open(f"/proc/{entry}/status") as handle:
                nspid = next(line for line in handle if line.startswith("NSpid:"))
        except (OSError, StopIteration):
            continue
        if int(nspid.split()[-1]) == inner_pid:
            return int(entry)
    return None
