"""Every metric a server process exposes, in a registry of its own (never prometheus-client's
global one: tests run several apps in one process, and each must count only itself).

Counting here is in-process and O(1): the dispatch path (claim, status report, log ingest)
pays a dictionary lookup and an addition, never a query.

`solvyd server --workers N` runs N processes behind one port, and a scrape lands on any one
of them: there the metrics are prometheus-client's multiprocess kind (each process writes its
values to files in PROMETHEUS_MULTIPROC_DIR, a private directory the parent made before
starting them, and the scrape sums every process's files), so one scrape says what the whole
server did."""

from collections.abc import Sequence
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, values
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy.pool import Pool

from solvyd.server.metrics.database import DatabaseCollector, pool_connections

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


@dataclass(frozen=True)
class BuildsRemoved:
    """Retention removed finished builds of a kind (branch, pull_requests): counted once its
    transaction has committed."""

    kind: str
    count: int


class ServerMetrics:
    def __init__(self, *, shared_by_processes: bool = False) -> None:
        """`shared_by_processes`: this is one of the processes of `solvyd server --workers N`,
        whose parent set PROMETHEUS_MULTIPROC_DIR before prometheus-client was imported."""
        if shared_by_processes and values.ValueClass is values.MutexValue:
            raise RuntimeError("metrics shared by processes need PROMETHEUS_MULTIPROC_DIR")
        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry
        # A gauge's `multiprocess_mode` says how the processes' values combine (unused when
        # there is one process): `live*` ones forget a process once it died.
        self.server_info = Gauge(
            "solvyd_server_info",
            "This server process is up",
            ["version", "database"],
            registry=registry,
            multiprocess_mode="livemax",
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
        self.builds_removed = Counter(
            "solvyd_builds_removed",
            "Finished builds removed by retention, as recorded by this process",
            ["kind"],
            registry=registry,
        )
        self.log_lines = Counter("solvyd_log_lines", "Log lines ingested", registry=registry)
        self.log_bytes = Counter("solvyd_log_bytes", "Log bytes ingested", registry=registry)
        self.live_log_viewers = Gauge(
            "solvyd_live_log_viewers",
            "Open live log streams",
            registry=registry,
            multiprocess_mode="livesum",
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
        self.database = DatabaseCollector(pool_family=not shared_by_processes)
        registry.register(self.database)
        # What a scrape renders.
        self.exposition = registry
        self._pool: Pool | None = None
        self._pool_gauge: Gauge | None = None
        if shared_by_processes:
            # The scraped process cannot read the others' pools: each writes its own to the
            # shared files (`sample_pool`), and the scrape sums the live processes'.
            self._pool_gauge = Gauge(
                "solvyd_db_pool_connections",
                "This server's database connections, summed over its processes",
                ["state"],
                registry=registry,
                multiprocess_mode="livesum",
            )
            # Every process's files, and the database's gauges read for this scrape (their
            # own `registry` would render this process's values a second time).
            self.exposition = CollectorRegistry()
            MultiProcessCollector(self.exposition)  # type: ignore[no-untyped-call]
            self.exposition.register(self.database)

    @property
    def shared_by_processes(self) -> bool:
        return self._pool_gauge is not None

    def watch_pool(self, pool: Pool) -> None:
        self._pool = pool
        if self._pool_gauge is None:
            self.database.watch_pool(pool)

    def sample_pool(self) -> None:
        """Write this process's pool connections to the shared metrics (a no-op for a lone
        process, whose scrape reads its pool itself)."""
        if self._pool_gauge is None or self._pool is None:
            return
        for state, count in pool_connections(self._pool).items():
            self._pool_gauge.labels(state).set(count)

    def observe_committed(self, facts: Sequence[object]) -> None:
        """What a committed transaction left for us (`db.session.after_commit`)."""
        for fact in facts:
            if isinstance(fact, BuildFinished):
                self.builds.labels(fact.job, fact.status, fact.trigger).inc()
                if fact.duration_seconds is not None:
                    self.build_duration_seconds.labels(fact.job, fact.status).observe(
                        fact.duration_seconds
                    )
            elif isinstance(fact, BuildsRemoved):
                self.builds_removed.labels(fact.kind).inc(fact.count)

    def http_method(self, method: str) -> str:
        return method if method in HTTP_METHODS else "other"
