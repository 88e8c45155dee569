"""The agent's Prometheus metrics (docs/metrics.md) and the listener that serves them.

Every update is a counter or gauge step under prometheus-client's lock: no request to the
server and nothing proportional to the number of builds or log lines. The metrics live in a
registry of their own, not the process-wide default one, so `solvyd up` (a server and an agent
in one process) never mixes the agent's into the server's `/metrics`.
"""

import threading
from dataclasses import dataclass, field
from datetime import datetime
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from solvyd import __version__
from solvyd.protocol import BuildStatus

# Steps run from a second to hours; the buckets follow.
STEP_DURATION_BUCKETS = (1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400)
FINISHED_STATUSES = (
    BuildStatus.SUCCESS,
    BuildStatus.FAILURE,
    BuildStatus.ERROR,
    BuildStatus.CANCELLED,
)


class AgentMetrics:
    def __init__(self, executor: str) -> None:
        self.registry = CollectorRegistry()
        self.executor = executor
        info = Gauge(
            "solvyd_agent_info",
            "This agent is up (always 1).",
            ["version", "executor"],
            registry=self.registry,
        )
        info.labels(__version__, executor).set(1)
        self.builds_running = Gauge(
            "solvyd_agent_builds_running", "Builds this agent runs now.", registry=self.registry
        )
        self.builds = Counter(
            "solvyd_agent_builds_total",
            "Builds this agent finished, by the status it reported (queued: handed back).",
            ["status"],
            registry=self.registry,
        )
        self.step_duration = Histogram(
            "solvyd_agent_step_duration_seconds",
            "Durations of the steps this agent ran, by their status.",
            ["status"],
            buckets=STEP_DURATION_BUCKETS,
            registry=self.registry,
        )
        self.executor_errors = Counter(
            "solvyd_agent_executor_errors_total",
            "Builds that ended in error because the executor faulted.",
            ["executor"],
            registry=self.registry,
        )
        self.log_lines_sent = Counter(
            "solvyd_agent_log_lines_sent_total",
            "Log lines the server accepted from this agent.",
            registry=self.registry,
        )
        self.spool_entries = Gauge(
            "solvyd_agent_spool_entries",
            "Reports and log batches waiting in the builds' outboxes (memory and spool).",
            registry=self.registry,
        )
        self.spool_bytes = Gauge(
            "solvyd_agent_spool_bytes",
            "Bytes the builds' spool files take on disk.",
            registry=self.registry,
        )
        # Series that exist from the start read 0, not "no data", until something happens,
        # so rates and alerts over them work on a fresh agent.
        for status in FINISHED_STATUSES:
            self.builds.labels(status.value)
        self.executor_errors.labels(executor)

    def build_finished(self, status: BuildStatus, *, executor_failed: bool = False) -> None:
        self.builds.labels(status.value).inc()
        if executor_failed and status is BuildStatus.ERROR:
            self.executor_errors.labels(self.executor).inc()

    def step_finished(
        self, status: str, started_at: datetime | None, completed_at: datetime | None
    ) -> None:
        """A step that never started (skipped) has no duration and is not observed."""
        if started_at is not None and completed_at is not None:
            seconds = max((completed_at - started_at).total_seconds(), 0.0)
            self.step_duration.labels(status).observe(seconds)

    def outbox(self) -> "OutboxShare":
        return OutboxShare(self)


@dataclass
class OutboxShare:
    """One build's part of the spool gauges: its reporter says how much it holds now, and the
    agent-wide gauges move by the difference. `close` takes the build's part out."""

    metrics: AgentMetrics
    _entries: int = field(default=0, init=False)
    _bytes: int = field(default=0, init=False)

    def holds(self, entries: int, spooled_bytes: int) -> None:
        if entries != self._entries:
            self.metrics.spool_entries.inc(entries - self._entries)
            self._entries = entries
        if spooled_bytes != self._bytes:
            self.metrics.spool_bytes.inc(spooled_bytes - self._bytes)
            self._bytes = spooled_bytes

    def sent_log_lines(self, count: int) -> None:
        self.metrics.log_lines_sent.inc(count)

    def close(self) -> None:
        self.holds(0, 0)


class MetricsListener:
    """Serves `registry` at http://host:port/metrics from prometheus-client's own HTTP server,
    in a thread: a scrape is answered even while the agent's event loop is busy, and the loop
    never waits for a slow scraper. `stop` closes the socket and ends the thread."""

    def __init__(self, registry: CollectorRegistry, host: str, port: int) -> None:
        self._registry = registry
        self.host = host
        self.port = port
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Raises OSError when the address cannot be bound (in use, not this machine's)."""
        self._server, self._thread = start_http_server(
            self.port, addr=self.host, registry=self._registry
        )

    def stop(self) -> None:
        if self._server is None or self._thread is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        self._server = self._thread = None
