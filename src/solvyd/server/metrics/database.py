"""The gauges that describe the shared database (queued and running builds, workers) and this
process's connection pool, as a prometheus-client collector.

The scrape endpoint reads the database in async code (`services.gauges`) and hands the result
here with `update` just before it renders, so `collect`, which prometheus-client calls
synchronously, never touches the database and never blocks the event loop. The pool is read
in `collect` itself: that is in-process bookkeeping."""

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.pool import Pool

# More distinct label sets than this in one scrape are summed under OTHER_LABELS: a label's
# values must stay bounded even when every job asks for labels of its own.
MAX_LABEL_SETS = 50
OTHER_LABELS = "other"
# A job's labels are its owner's text: a longer set is counted under OTHER_LABELS too.
MAX_LABEL_SET_CHARS = 200
WORKER_STATES = ("online", "busy", "draining", "offline")


@dataclass(frozen=True)
class DatabaseGauges:
    """Builds by their required labels (sorted, comma-joined), workers by state."""

    queued: Mapping[str, int] = field(default_factory=dict)
    running: Mapping[str, int] = field(default_factory=dict)
    workers: Mapping[str, int] = field(default_factory=dict)


def bounded_label_sets(counts: Mapping[str, int]) -> dict[str, int]:
    """The MAX_LABEL_SETS largest entries; the rest, and any label set longer than
    MAX_LABEL_SET_CHARS, summed under OTHER_LABELS."""
    if any(len(labels) > MAX_LABEL_SET_CHARS for labels in counts):
        short: dict[str, int] = {}
        for labels, count in counts.items():
            key = labels if len(labels) <= MAX_LABEL_SET_CHARS else OTHER_LABELS
            short[key] = short.get(key, 0) + count
        counts = short
    if len(counts) <= MAX_LABEL_SETS:
        return dict(counts)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    kept = dict(ranked[:MAX_LABEL_SETS])
    kept[OTHER_LABELS] = kept.get(OTHER_LABELS, 0) + sum(n for _, n in ranked[MAX_LABEL_SETS:])
    return kept


def pool_connections(pool: Pool) -> dict[str, int]:
    """in_use, idle and overflow connections of a pool that counts them (QueuePool and its
    async variant, SQLite's included); zeros for one that does not."""
    checked_out: Callable[[], int] | None = getattr(pool, "checkedout", None)
    checked_in: Callable[[], int] | None = getattr(pool, "checkedin", None)
    overflow: Callable[[], int] | None = getattr(pool, "overflow", None)
    return {
        "in_use": checked_out() if checked_out else 0,
        "idle": checked_in() if checked_in else 0,
        # QueuePool counts below zero while it holds fewer connections than its size.
        "overflow": max(0, overflow()) if overflow else 0,
    }


class DatabaseCollector(Collector):
    def __init__(self, *, pool_family: bool = True) -> None:
        """`pool_family`: whether this collector renders solvyd_db_pool_connections (not when
        the server's processes share their metrics: ServerMetrics renders it then)."""
        self._gauges: DatabaseGauges | None = None
        self._pool: Pool | None = None
        self._pool_family = pool_family

    def watch_pool(self, pool: Pool) -> None:
        self._pool = pool

    def update(self, gauges: DatabaseGauges | None) -> None:
        """What the database said for this scrape; None: it could not be read."""
        self._gauges = gauges

    def describe(self) -> Iterator[GaugeMetricFamily]:
        # Said up front so the registry does not call `collect` to learn the names.
        return iter(self._families(DatabaseGauges(), {}))

    def collect(self) -> Iterator[GaugeMetricFamily]:
        pool = pool_connections(self._pool) if self._pool is not None else {}
        return iter(self._families(self._gauges, pool))

    def _families(
        self, gauges: DatabaseGauges | None, pool: Mapping[str, int]
    ) -> list[GaugeMetricFamily]:
        queued = GaugeMetricFamily(
            "solvyd_builds_queued", "Queued builds now, by required labels", labels=["labels"]
        )
        running = GaugeMetricFamily(
            "solvyd_builds_running", "Running builds now, by required labels", labels=["labels"]
        )
        workers = GaugeMetricFamily(
            "solvyd_workers",
            "Workers now, by state (busy ones count as online too)",
            labels=["state"],
        )
        connections = GaugeMetricFamily(
            "solvyd_db_pool_connections", "This process's database connections", labels=["state"]
        )
        # Before the first scrape read the database there is nothing true to say: the
        # families stay empty rather than claim zeros.
        if gauges is not None:
            for family, counts in ((queued, gauges.queued), (running, gauges.running)):
                # An empty queue is a 0, not a missing series: `sum()` over it says 0.
                for labels, count in (bounded_label_sets(counts) or {"": 0}).items():
                    family.add_metric([labels], count)
            for state in WORKER_STATES:
                workers.add_metric([state], gauges.workers.get(state, 0))
        if not self._pool_family:
            return [queued, running, workers]
        for state, count in pool.items():
            connections.add_metric([state], count)
        return [queued, running, workers, connections]
