"""A real git server over HTTP on loopback: `git http-backend` (git's own smart-HTTP server,
a CGI program) behind a small threaded HTTP server that may demand Basic auth.

Python's `http.server.CGIHTTPRequestHandler` is deprecated (removed in 3.13), so the CGI
call is made here: the request's method, path, query and body go to `git http-backend` in the
CGI variables it documents (git-http-backend(1)), and its answer (CGI headers, a `Status:`
line, the body) is sent back. `protocol_v2=False` keeps the client on protocol v0, where the
server refuses to send a commit no ref advertises (as many hosted servers do); v2 sends any.
"""

import base64
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from tests.support.git_repos import git_env

REALM = "solvyd-test-git"


@dataclass
class SeenRequest:
    path: str
    authorization: str | None
    status: int


@dataclass
class GitHttpServer:
    root: Path
    port: int
    username: str | None
    password: str | None
    protocol_v2: bool
    requests: list[SeenRequest] = field(default_factory=list)

    def url(self, relative: str) -> str:
        return f"http://127.0.0.1:{self.port}/{relative}"

    def expected_authorization(self) -> str | None:
        if self.username is None or self.password is None:
            return None
        pair = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(pair).decode()


def _handler(server: GitHttpServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass  # quiet: the test reads `server.requests`

        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def _serve(self) -> None:
            authorization = self.headers.get("Authorization")
            expected = server.expected_authorization()
            if expected is not None and authorization != expected:
                self._record(401, authorization)
                self.send_response(401)
                self.send_header("WWW-Authenticate", f'Basic realm="{REALM}"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            env = git_env(server.root)
            env.update(
                GIT_PROJECT_ROOT=str(server.root),
                GIT_HTTP_EXPORT_ALL="1",
                GATEWAY_INTERFACE="CGI/1.1",
                REQUEST_METHOD=self.command,
                PATH_INFO=parts.path,
                QUERY_STRING=parts.query,
                CONTENT_TYPE=self.headers.get("Content-Type", ""),
                CONTENT_LENGTH=str(len(body)),
                REMOTE_ADDR=self.client_address[0],
                REMOTE_USER=server.username or "",
            )
            if self.headers.get("Content-Encoding"):
                env["HTTP_CONTENT_ENCODING"] = self.headers["Content-Encoding"]
            if server.protocol_v2 and self.headers.get("Git-Protocol"):
                env["GIT_PROTOCOL"] = self.headers["Git-Protocol"]
            result = subprocess.run(
                ["git", "http-backend"],
                input=body,
                env=env,
                capture_output=True,
                timeout=60,
                check=False,
            )
            head, _, payload = result.stdout.partition(b"\r\n\r\n")
            if not _:
                head, _, payload = result.stdout.partition(b"\n\n")
            status = 200
            headers: list[tuple[str, str]] = []
            for line in head.decode("latin-1").splitlines():
                name, _, value = line.partition(":")
                if name.lower() == "status":
                    status = int(value.strip().split()[0])
                elif name:
                    headers.append((name.strip(), value.strip()))
            self._record(status, authorization)
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _record(self, status: int, authorization: str | None) -> None:
            server.requests.append(SeenRequest(self.path, authorization, status))

    return Handler


@contextmanager
def serve_git_http(
    root: Path,
    *,
    username: str | None = None,
    password: str | None = None,
    protocol_v2: bool = True,
) -> Iterator[GitHttpServer]:
    """Serve every repository under `root` at http://127.0.0.1:PORT/<path under root>;
    with `username` and `password`, every request must carry them as Basic auth (else 401)."""
    state = GitHttpServer(root, 0, username, password, protocol_v2)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.daemon_threads = True
    state.port = int(httpd.server_address[1])
    thread = threading.Thread(target=httpd.serve_forever, name="git-http", daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(10)
