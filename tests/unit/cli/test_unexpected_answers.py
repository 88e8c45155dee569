"""The CLI never shows a traceback for a server's answer, even one of a shape it does not know
(another Solvyd version, or a server that is not Solvyd): one line and exit 1."""

import json
import os
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.support.processes import SOLVYD

BUILD_ID = "00000000-0000-4000-8000-000000000001"

# JSON an older or foreign server might answer: the right type, not the fields this CLI reads.
ANSWERS: dict[str, object] = {
    f"/api/v1/builds/{BUILD_ID}": {"id": BUILD_ID, "steps": [{"state": "ok"}]},
    "/api/v1/jobs": {"jobs": "none"},
}


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps(ANSWERS.get(self.path.split("?")[0], {})).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    "args", [["builds", "show", BUILD_ID], ["jobs", "list"]], ids=["builds-show", "jobs-list"]
)
def test_an_answer_of_an_unknown_shape_is_one_line_not_a_traceback(
    server_url: str, args: list[str]
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "SOLVYD_DEBUG"}
    env |= {"SOLVYD_URL": server_url, "SOLVYD_TOKEN": "not-checked", "NO_COLOR": "1"}
    result = subprocess.run(
        [*SOLVYD, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: the server's answer is not what this CLI expects")
