"""Delivers one build's reports to the server in the order they happened.

Log batches, step status and build status share one ordered outbox and one sender, so the
server (and anyone following the log) sees them in order. The sender removes a report from the
outbox only once the server has answered it; while the server is down it retries with backoff,
and a log batch sent twice (its answer lost) is stored once, since the server keeps one batch
per seq.

The sender folds what has queued (while the last request was in flight, or during a short
linger) into one request, `POST /builds/{id}/reports`, which the server applies in order, all
or none. When it refuses a folded request (409/422: one report is stale or bad), the sender
sends that request's reports one by one: only the refused one is lost, as without folding, and
none is sent forever. Each answer says whether the build ended on the server (cancelled, timed
out): `on_stop` is then called, sooner than the cancel watcher may hear it.

The outbox is a FIFO whose tail may be on disk. Up to `max_memory_bytes` of log text it lives in
memory; beyond that, reports are appended to the build's spool file (`agent/spool.py`) and read
back in order once the memory part has been delivered. Once anything is spooled, everything
after it is spooled too, until the spool has been read back: that keeps the order of all
reports, status included. Only when the spool holds `max_spool_bytes` are new log lines dropped,
and a marker line says how many. Status reports are never dropped.
"""

import asyncio
import contextlib
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path

import structlog

from solvyd.agent.client import Rejected, ServerClient, ServerUnavailable
from solvyd.agent.log_shipper import LogBatcher
from solvyd.agent.metrics import AgentMetrics
from solvyd.agent.spool import Report, ReportSpool
from solvyd.protocol import (
    AnyReport,
    BuildReports,
    BuildStatusReport,
    BuildStatusUpdate,
    GraphReport,
    LogBatch,
    LogReport,
    StepGraph,
    StepReport,
    StepStatusUpdate,
)
from solvyd.shared.backoff import backoff_delays
from solvyd.shared.log_text import cut_long_line, storable
from solvyd.shared.redaction import Masker

log = structlog.get_logger(__name__)

FLUSH_INTERVAL_SECONDS = 0.2
LINGER_SECONDS = 0.005
MAX_MEMORY_BYTES = 8 * 1024 * 1024
MAX_SPOOL_BYTES = 1024 * 1024 * 1024
# How much the sender reads back from the spool at a time (it reads only when the memory part
# is empty), so a read never stalls the event loop for long.
SPOOL_READ_BYTES = 1024 * 1024
# How much one request folds: well under the server's limits (`MAX_REPORTS_PER_REQUEST`, the
# request body limit), and small enough that a refused one is cheap to send again one by one.
MAX_FOLDED_REPORTS = 100
MAX_FOLDED_BYTES = 1024 * 1024
# A step prints this and a value to have the value masked from then on.
ADD_MASK = "::add-mask::"


def _size(report: Report) -> int:
    if isinstance(report, LogBatch):
        return sum(len(line.text) + 1 for line in report.lines)
    return 0


class BuildReporter:
    def __init__(
        self,
        client: ServerClient,
        build_id: uuid.UUID,
        *,
        spool_dir: Path | None = None,
        attempt: int | None = None,
        mask: Iterable[str] = (),
        max_memory_bytes: int = MAX_MEMORY_BYTES,
        max_spool_bytes: int = MAX_SPOOL_BYTES,
        flush_interval: float = FLUSH_INTERVAL_SECONDS,
        metrics: AgentMetrics | None = None,
        on_stop: Callable[[], None] | None = None,
    ) -> None:
        """Without `spool_dir` nothing goes to disk: log lines past the memory bound are
        dropped. `metrics` (the agent's) is told what the outbox holds and what was sent.
        `on_stop` is called when an answer says the build ended on the server."""
        self._client = client
        self._build_id = build_id
        self._attempt = attempt
        self._batcher = LogBatcher()
        self._masker = Masker(mask)
        # The outbox: `_memory` first, then what `_spool` holds.
        self._memory: deque[Report] = deque()
        self._memory_bytes = 0
        self._max_memory_bytes = max_memory_bytes
        self._spool = ReportSpool(spool_dir / f"{build_id}.jsonl") if spool_dir else None
        self._max_spool_bytes = max_spool_bytes
        self._dropped_lines = 0
        self._dropped_step: str | None = None
        self._flush_interval = flush_interval
        self._wakeup = asyncio.Event()
        self._closing = False
        self._sender: asyncio.Task[None] | None = None
        self._outbox = (metrics or AgentMetrics("unknown")).outbox()
        self._on_stop = on_stop

    @property
    def spool_path(self) -> Path | None:
        return self._spool.path if self._spool is not None else None

    def start(self) -> None:
        self._sender = asyncio.create_task(self._send_loop(), name=f"reporter-{self._build_id}")

    # --- producers (never block the build) ---

    def mask(self, values: Iterable[str]) -> None:
        """From now on, replace these values (and their encoded forms) by *** in the log."""
        self._masker.add(*values)

    def masked(self, text: str) -> str:
        """``text`` with what this build's log masks masked (for names the agent shows)."""
        return self._masker(text)

    def log_line(self, step: str | None, text: str) -> None:
        if text.startswith(ADD_MASK):
            # A step marks a value it computed as secret (GitHub Actions' convention).
            self._masker.add(text.removeprefix(ADD_MASK).strip())
        # Storable: the server refuses a folded request with text it cannot store.
        text = storable(cut_long_line(self._masker(text)))
        if self._dropped_lines and step != self._dropped_step:
            self._push_dropped_marker()
        if not self._has_room():
            self._dropped_lines += 1
            self._dropped_step = step
            return
        self._push_dropped_marker()
        self._push(self._batcher.add(step, text))
        self._wakeup.set()

    def step_status(self, step: str, update: StepStatusUpdate) -> None:
        self._seal()
        self._push((step, update))

    def step_graph(self, graph: StepGraph) -> None:
        """The graph of the plan that runs, before the first step's status."""
        self._seal()
        self._push(graph)

    def build_status(self, update: BuildStatusUpdate) -> None:
        """A build status report in order with the rest (e.g. `running` again, with the commit
        the checkout resolved); the final one goes through `finish`."""
        self._seal()
        self._push(update)

    def _has_room(self) -> bool:
        """Room for one more log line: in memory, or else on disk."""
        pending = self._batcher.pending_bytes
        memory_full = self._memory_bytes + pending >= self._max_memory_bytes
        if self._spool is not None and (self._spool or memory_full):
            return not self._spool.failed and self._spool.size + pending < self._max_spool_bytes
        return not memory_full

    def _push_dropped_marker(self) -> None:
        """The marker for the lines dropped so far, in their step and in order with the rest.
        It goes out whatever the bounds: one line, and only after lines were dropped."""
        if self._dropped_lines:
            dropped, self._dropped_lines = self._dropped_lines, 0
            text = f"[solvyd: {dropped} log lines dropped: the agent's buffer was full]"
            self._push(self._batcher.add(self._dropped_step, text))

    def _seal(self) -> None:
        self._push_dropped_marker()
        self._push(self._batcher.seal())

    def _push(self, report: Report | None) -> None:
        if report is None:
            return
        size = _size(report)
        spill = self._memory_bytes + size > self._max_memory_bytes
        if self._spool is not None and (self._spool or spill):
            self._spool.append(report)
        else:
            self._memory.append(report)
            self._memory_bytes += size
        self._account()
        self._wakeup.set()

    def _account(self) -> None:
        """Tell the agent's gauges what this outbox holds now (O(1))."""
        spooled = self._spool.entries if self._spool is not None else 0
        spooled_bytes = self._spool.size if self._spool is not None else 0
        self._outbox.holds(len(self._memory) + spooled, spooled_bytes)

    # --- the end ---

    async def finish(self, final: BuildStatusUpdate, deadline: float) -> bool:
        """Queue the final status after everything else, then wait (at most `deadline`
        seconds) for the outbox to drain. True if everything was delivered. The spool file is
        gone afterwards either way."""
        self._seal()
        self._push(final)
        self._closing = True
        self._wakeup.set()
        assert self._sender is not None  # noqa: S101 - narrows a type; guards nothing
        try:
            await asyncio.wait_for(asyncio.shield(self._sender), deadline)
        except TimeoutError:
            log.error(
                "gave up delivering build reports",
                build_id=str(self._build_id),
                undelivered_in_memory=len(self._memory),
                undelivered_spooled_bytes=self._spool.size if self._spool is not None else 0,
            )
            self._sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sender
            return False
        finally:
            if self._spool is not None:
                self._spool.discard()
            self._outbox.close()
        return True

    # --- the sender ---

    async def _send_loop(self) -> None:
        while True:
            if not self._memory and self._spool:
                self._refill()
            if not self._memory:
                if self._closing:
                    return
                if not self._batcher.pending_bytes:
                    self._wakeup.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wakeup.wait(), self._flush_interval)
                if self._memory or self._batcher.pending_bytes:
                    # Idle sender, a new report or new lines: send them now (a viewer sees a
                    # line within milliseconds), after a moment that lets the rest of a burst
                    # join them in one request. While a request is in flight, reports pile
                    # up and go as the next one.
                    await asyncio.sleep(LINGER_SECONDS)
                self._push(self._batcher.seal())
                continue
            folded = self._fold()
            await self._deliver(folded, folded=self._client.server_folds_reports)
            for _ in folded:
                self._memory_bytes -= _size(self._memory.popleft())
            self._account()

    def _fold(self) -> list[Report]:
        """The reports at the head of the outbox that go in the next request."""
        folded: list[Report] = []
        size = 0
        # A server older than folded reports takes them one request each.
        most = MAX_FOLDED_REPORTS if self._client.server_folds_reports else 1
        for report in self._memory:
            size += _size(report)
            if folded and (len(folded) >= most or size > MAX_FOLDED_BYTES):
                break
            folded.append(report)
        return folded

    def _refill(self) -> None:
        """Move the next reports from the spool into memory (which is empty)."""
        assert self._spool is not None  # noqa: S101 - narrows a type; guards nothing
        for report in self._spool.read(min(SPOOL_READ_BYTES, self._max_memory_bytes)):
            self._memory.append(report)
            self._memory_bytes += _size(report)
        self._account()

    async def _deliver(self, reports: list[Report], *, folded: bool) -> None:
        """Deliver the reports (retrying while the server is unavailable). A request of several
        refused for one of them (409/422) is sent again one report at a time; a refused single
        report, or any refused for the build (403/404), is dropped. A folded request answered
        404 is sent again on each report's own endpoint first: a server (a replica, in a
        rolling upgrade) older than folded reports has no such route, and answers 404 too."""
        try:
            await self._deliver_once(reports, folded=folded)
        except Rejected as exc:
            if exc.status_code == 404 and folded:
                log.info(
                    "server has no folded build reports; sending them on their own endpoints",
                    build_id=str(self._build_id),
                    reports=len(reports),
                )
                for report in reports:
                    await self._deliver([report], folded=False)
                return
            if len(reports) == 1 or exc.status_code in (403, 404):
                # 403/404: the build is gone or no longer ours, for every report alike.
                # 409/422 of a single report: the change is stale or bad.
                log.warning(
                    "server refused a build report",
                    build_id=str(self._build_id),
                    reports=[type(report).__name__ for report in reports],
                    status=exc.status_code,
                    error=exc.message,
                )
                return
            log.info(
                "server refused folded build reports; sending them one by one",
                build_id=str(self._build_id),
                reports=len(reports),
                status=exc.status_code,
                error=exc.message,
            )
            for report in reports:
                await self._deliver([report], folded=folded)

    async def _deliver_once(self, reports: list[Report], *, folded: bool) -> None:
        """Send until the server answers; `Rejected` is raised."""
        delays = backoff_delays(base=0.2, cap=5.0)
        while True:
            try:
                if folded:
                    ack = await self._client.send_reports(
                        self._build_id, BuildReports(reports=[self._wire(r) for r in reports])
                    )
                else:
                    for report in reports:
                        await self._client.send_report_alone(self._build_id, self._wire(report))
                    ack = None
            except ServerUnavailable as exc:
                delay = next(delays)
                log.warning(
                    "server unavailable, retrying build reports",
                    build_id=str(self._build_id),
                    error=str(exc),
                    delay=round(delay, 2),
                )
                await asyncio.sleep(delay)
                continue
            lines = sum(len(r.lines) for r in reports if isinstance(r, LogBatch))
            if lines:
                self._outbox.sent_log_lines(lines)
            if ack is not None and ack.stop and self._on_stop is not None:
                self._on_stop()
            return

    def _wire(self, report: Report) -> AnyReport:
        """The report as sent. Each names the attempt it is about, so the server can refuse a
        stale run's."""
        attempt = {"attempt": self._attempt}
        if isinstance(report, LogBatch):
            return LogReport(batch=report.model_copy(update=attempt))
        if isinstance(report, BuildStatusUpdate):
            return BuildStatusReport(update=report.model_copy(update=attempt))
        if isinstance(report, StepGraph):
            return GraphReport(graph=report.model_copy(update=attempt))
        step, update = report
        return StepReport(step=step, update=update.model_copy(update=attempt))
