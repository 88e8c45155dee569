"""A small TCP proxy that a test can cut and restore, to play a network outage.

It listens on a free loopback port and forwards each connection to a target, two threads per
connection (one per direction). `cut()` closes the listening socket (new connections are
refused) and resets every open connection (the client gets an RST, not a polite FIN); `restore()`
listens again on the same port; `close()` cuts for good. Every wait is bounded: the threads poll
with a short select timeout, so a cut takes effect within a fraction of a second.
"""

import contextlib
import select
import socket
import struct
import threading

from tests.support.processes import free_port

POLL_SECONDS = 0.05
JOIN_SECONDS = 5.0
IO_TIMEOUT_SECONDS = 5.0


def _reset(sock: socket.socket) -> None:
    """Close with SO_LINGER 0: the kernel answers the peer with an RST."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


class _Link:
    """One proxied connection: client <-> upstream."""

    def __init__(self, client: socket.socket, upstream: socket.socket) -> None:
        self.client = client
        self.upstream = upstream
        self.done = threading.Event()
        self.aborted = False
        self._lock = threading.Lock()
        self._running = 2
        self.threads = [
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True),
            threading.Thread(target=self._pump, args=(upstream, client), daemon=True),
        ]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while not self.done.is_set():
                ready, _, _ = select.select([source], [], [], POLL_SECONDS)
                if not ready:
                    continue
                data = source.recv(65536)
                if not data:
                    break
                target.sendall(data)
        except OSError:
            pass
        finally:
            self.done.set()  # either side ending ends the link
            with self._lock:
                self._running -= 1
                last = self._running == 0
            if last:  # only when no thread uses the sockets any more
                self._close()

    def _close(self) -> None:
        if self.aborted:
            _reset(self.client)
            _reset(self.upstream)
            return
        for sock in (self.client, self.upstream):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def abort(self) -> None:
        self.aborted = True
        self.done.set()

    def join(self, timeout: float) -> None:
        for thread in self.threads:
            thread.join(timeout)


class TcpProxy:
    def __init__(self, target_host: str, target_port: int, *, port: int | None = None) -> None:
        self.target = (target_host, target_port)
        self.port = port or free_port()
        self._lock = threading.Lock()
        self._links: set[_Link] = set()
        self._listener: socket.socket | None = None
        self._accepting = threading.Event()
        self._acceptor: threading.Thread | None = None
        self.connections_accepted = 0
        self.connections_reset = 0
        self.restore()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def is_cut(self) -> bool:
        return self._listener is None

    def restore(self) -> None:
        """Listen again (on the same port) and forward new connections."""
        assert self._listener is None, "already listening"
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        listener.settimeout(POLL_SECONDS)
        self._listener = listener
        self._accepting.set()
        self._acceptor = threading.Thread(target=self._accept_loop, args=(listener,), daemon=True)
        self._acceptor.start()

    def cut(self) -> None:
        """Refuse new connections and reset every open one."""
        listener, acceptor = self._listener, self._acceptor
        if listener is None or acceptor is None:
            return
        self._accepting.clear()
        acceptor.join(JOIN_SECONDS)
        assert not acceptor.is_alive(), "the accept thread did not stop"
        listener.close()
        self._listener = self._acceptor = None
        with self._lock:
            links, self._links = list(self._links), set()
        for link in links:
            link.abort()
        for link in links:
            link.join(JOIN_SECONDS)
        self.connections_reset += len(links)

    def close(self) -> None:
        self.cut()

    def _accept_loop(self, listener: socket.socket) -> None:
        while self._accepting.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=IO_TIMEOUT_SECONDS)
            except OSError:
                _reset(client)
                continue
            for sock in (client, upstream):
                sock.settimeout(IO_TIMEOUT_SECONDS)  # bounds sendall; recv follows select
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            link = _Link(client, upstream)
            with self._lock:
                self._links = {known for known in self._links if not known.done.is_set()}
                self._links.add(link)
                self.connections_accepted += 1
            link.start()
