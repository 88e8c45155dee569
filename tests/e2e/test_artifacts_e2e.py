"""Artifacts end to end: a real agent runs a step that writes a file, uploads it after the
steps, and a user downloads the same bytes from a real server."""

import hashlib
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.helpers import UserApi, wait_for_step_pid
from tests.support.processes import Process, ServerProcess, start_agent

pytestmark = pytest.mark.e2e


@pytest.fixture
def agent(server: ServerProcess, log_dir: Path, tmp_path: Path) -> Iterator[Process]:
    name = f"agent-{uuid.uuid4().hex[:6]}"
    process = start_agent(server.url, log_dir, tmp_path / "work", name=name)
    yield process
    process.stop()


PIPELINE = """\
artifacts: [dist/*.bin, ../outside.bin]
steps:
  - name: build
    commands:
      - mkdir -p dist
      - head -c 300000 /dev/urandom > dist/out.bin
      - echo not kept > dist/notes.txt
      - sha256sum dist/out.bin
"""


def test_a_built_file_is_uploaded_and_downloads_identically(
    api: UserApi, agent: Process, server: ServerProcess
) -> None:
    job = api.create_job(f"job-{uuid.uuid4().hex[:8]}", PIPELINE)
    build = api.trigger(job["id"])
    finished = api.wait_for_finish(build["id"], timeout=60)
    assert finished["status"] == "success", finished

    log = api.log_text(build["id"])
    # The step printed the file's hash; the agent logged the upload with the server's hash.
    printed = re.search(r"^([0-9a-f]{64})  dist/out.bin$", log, re.MULTILINE)
    assert printed, log
    assert f"uploaded dist/out.bin: 293.0 KiB (300000 B), sha256 {printed.group(1)}" in log, log
    assert "'../outside.bin' refused" in log, log

    listed = api.http.get(f"/builds/{build['id']}/artifacts").json()["items"]
    assert [(a["name"], a["size_bytes"]) for a in listed] == [("dist/out.bin", 300000)]
    assert listed[0]["sha256"] == printed.group(1)

    download = api.http.get(f"/builds/{build['id']}/artifacts/dist/out.bin")
    assert download.status_code == 200
    assert len(download.content) == 300000
    assert hashlib.sha256(download.content).hexdigest() == printed.group(1)
    tail = api.http.get(
        f"/builds/{build['id']}/artifacts/dist/out.bin", headers={"Range": "bytes=-10"}
    )
    assert tail.status_code == 206 and tail.content == download.content[-10:]


def test_a_failed_build_still_uploads_and_a_cancelled_one_does_not(
    api: UserApi, agent: Process
) -> None:
    failing = api.create_job(
        f"job-{uuid.uuid4().hex[:8]}",
        "artifacts: [log.txt]\nsteps:\n  - name: s\n"
        "    commands: ['echo why > log.txt', 'exit 3']\n",
    )
    failed = api.wait_for_finish(api.trigger(failing["id"])["id"], timeout=60)
    assert failed["status"] == "failure"
    items = api.http.get(f"/builds/{failed['id']}/artifacts").json()["items"]
    assert [a["name"] for a in items] == ["log.txt"]
    assert api.http.get(f"/builds/{failed['id']}/artifacts/log.txt").text == "why\n"

    cancelled_job = api.create_job(
        f"job-{uuid.uuid4().hex[:8]}",
        "artifacts: [log.txt]\nsteps:\n  - name: s\n"
        "    commands: ['echo partial > log.txt', 'echo pid=$$', 'sleep 60']\n",
    )
    build = api.trigger(cancelled_job["id"])
    wait_for_step_pid(api, build["id"])
    assert api.cancel(build["id"])["status"] == "cancelled"
    deadline = time.monotonic() + 20
    while "[artifacts] not collected: the build ended cancelled" not in api.log_text(build["id"]):
        assert time.monotonic() < deadline, api.log_text(build["id"])
        time.sleep(0.1)
    assert api.http.get(f"/builds/{build['id']}/artifacts").json()["items"] == []
