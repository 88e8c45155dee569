"""A small HTTP relay in front of a real server, which a test can make answer some requests
itself: to play a server (or something in the way) that sends what an agent cannot parse.

It listens on a free loopback port; every request is forwarded to the upstream as it came and
the upstream's answer is sent back, except for requests matching an `answer()` rule, which get
the rule's status and body without reaching the upstream. Threads serve the requests (an
agent's long polls wait side by side); every wait is bounded by httpx's timeout.
"""

import re
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

# Headers of one hop (RFC 9110, section 7.6.1) and those the relay recomputes.
_NOT_FORWARDED = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "proxy-connection",
    "host",
    "content-length",
    # httpx hands the relay the decoded body.
    "content-encoding",
    # The relay's own handler sends these.
    "server",
    "date",
}
UPSTREAM_TIMEOUT_SECONDS = 90.0


@dataclass(frozen=True)
class _Rule:
    method: str
    path: re.Pattern[str]
    status: int
    body: bytes
    content_type: str


class HttpRelay:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self._rules: list[_Rule] = []
        self._lock = threading.Lock()
        self.answered: list[str] = []  # "METHOD path" of the requests a rule answered
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def answer(
        self,
        method: str,
        path_pattern: str,
        status: int,
        body: bytes,
        content_type: str = "application/json",
    ) -> None:
        """From now on, answer `method` requests whose path matches `path_pattern` (a regex,
        matched in full) with `status` and `body`, instead of forwarding them."""
        rule = _Rule(method.upper(), re.compile(path_pattern), status, body, content_type)
        with self._lock:
            self._rules.append(rule)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)

    def _rule_for(self, method: str, path: str) -> _Rule | None:
        with self._lock:
            for rule in self._rules:
                if rule.method == method and rule.path.fullmatch(path.partition("?")[0]):
                    self.answered.append(f"{method} {path}")
                    return rule
        return None

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        relay = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass  # the test's output is the agent's and the server's

            def _relay(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                rule = relay._rule_for(self.command, self.path)
                if rule is not None:
                    self._send(rule.status, {"content-type": rule.content_type}, rule.body)
                    return
                headers = {
                    name: value
                    for name, value in self.headers.items()
                    if name.lower() not in _NOT_FORWARDED
                }
                try:
                    with httpx.Client(timeout=UPSTREAM_TIMEOUT_SECONDS) as client:
                        response = client.request(
                            self.command,
                            relay.upstream + self.path,
                            content=body,
                            headers=headers,
                        )
                except httpx.TransportError as exc:
                    self._send(502, {"content-type": "text/plain"}, str(exc).encode())
                    return
                kept = {
                    name: value
                    for name, value in response.headers.items()
                    if name.lower() not in _NOT_FORWARDED
                }
                self._send(response.status_code, kept, response.content)

            def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except ConnectionError:
                    # The client went away (an agent that exits leaves its long polls).
                    self.close_connection = True

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _relay

        return Handler
