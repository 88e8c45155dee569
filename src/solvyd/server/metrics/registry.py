"""Every metric a server process exposes, in a registry of its own (never prometheus-client's
global one: tests run several apps in one process, and each must count only itself).

Counting here is in-process and O(1): the dispatch path (claim, status report, log ingest)
pays a dictionary lookup and an addition, never a query."""

from collections.abc import Sequence
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from solvyd.server.metrics.database import DatabaseCollector

# Queue time: from a build waiting for an idle agent (milliseconds) to one waiting for busy
# agents or a retry's backoff (minutes).
QUEUE_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
# Build durations: a trivial pipeline runs in a second, a big one in an hour or more.
DURATION_BUCKETS = (1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400)
HTTP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
# Methods outside these count as `other`: the method is the client's to choose, a label's
# values must be bounded.
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


@dataclass(frozen=True)
class BuildFinished:
    """A build reached a final status: counted once its transaction has committed."""

    job: str
    status: str
    trigger: str
    # started -> finished; None for a build that never started (a cancelled queued one).
    duration_seconds: float | None


class ServerMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry
        self.server_info = Gauge(
            "solvyd_server_info",
            "This server process is up",
            ["version", "database"],
            registry=registry,
        )
        self.builds = Counter(
            "solvyd_builds",
            "Builds finished, as recorded by this process",
            ["job", "status", "trigger"],
            registry=registry,
        )
        self.build_queue_seconds = Histogram(
            "solvyd_build_queue_seconds",
            "Time from queued to claimed by a worker",
            buckets=QUEUE_BUCKETS,
            registry=registry,
        )
        self.build_duration_seconds = Histogram(
            "solvyd_build_duration_seconds",
            "Time from started to finished",
            ["job", "status"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.log_lines = Counter("solvyd_log_lines", "Log lines ingested", registry=registry)
        self.log_bytes = Counter("solvyd_log_bytes", "Log bytes ingested", registry=registry)
        self.live_log_viewers = Gauge(
            "solvyd_live_log_viewers", "Open live log streams", registry=registry
        )
        self.http_requests = Counter(
            "solvyd_http_requests",
            "HTTP requests answered",
            ["method", "route", "status"],
            registry=registry,
        )
        self.http_request_duration_seconds = Histogram(
            "solvyd_http_request_duration_seconds",
            "Time to the start of the answer",
            ["method", "route"],
            buckets=HTTP_BUCKETS,
            registry=registry,
        )
        self.webhook_deliveries = Counter(
            "solvyd_webhook_deliveries",
            "Webhook requests received",
            ["forge", "result"],
            registry=registry,
        )
        self.notifications = Counter(
            "solvyd_notifications",
            "Notification delivery attempts",
            ["type", "result"],
            registry=registry,
        )
        self.commit_statuses = Counter(
            "solvyd_commit_statuses",
            "Commit status reports to forges",
            ["forge", "result"],
            registry=registry,
        )
        # Queue, running builds, workers and the pool: read when scraped, not counted.
        self.database = DatabaseCollector()
        registry.register(self.database)

    def observe_committed(self, facts: Sequence[object]) -> None:
        """What a committed transaction left for us (`db.session.after_commit`)."""
        for fact in facts:
            if isinstance(fact, BuildFinished):
                self.builds.labels(fact.job, fact.status, fact.trigger).inc()
                if fact.duration_seconds is not None:
                    self.build_duration_seconds.labels(fact.job, fact.status).observe(
                        fact.duration_seconds
                    )

    def http_method(self, method: str) -> str:
        return method if method in HTTP_METHODS else "other"
