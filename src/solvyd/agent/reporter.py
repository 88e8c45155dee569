"""Delivers one build's reports to the server in the order they happened.

Log batches, step status and the final build status share one ordered outbox and one sender,
so the server (and anyone following the log) sees them in order. While the server is down the
sender retries with backoff; log lines beyond `max_buffered_bytes` are dropped and replaced by a
marker line, so a flood or a long outage cannot exhaust the agent's memory. Status reports are
never dropped.
"""

import asyncio
import contextlib
import uuid
from collections import deque

import structlog

from solvyd.agent.client import Rejected, ServerClient, ServerUnavailable
from solvyd.agent.log_shipper import LogBatcher
from solvyd.protocol import BuildStatusUpdate, LogBatch, StepStatusUpdate
from solvyd.shared.backoff import backoff_delays

log = structlog.get_logger(__name__)

FLUSH_INTERVAL_SECONDS = 0.2
MAX_BUFFERED_BYTES = 32 * 1024 * 1024

Report = LogBatch | tuple[str, StepStatusUpdate] | BuildStatusUpdate


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
        max_buffered_bytes: int = MAX_BUFFERED_BYTES,
        flush_interval: float = FLUSH_INTERVAL_SECONDS,
    ) -> None:
        self._client = client
        self._build_id = build_id
        self._batcher = LogBatcher()
        self._outbox: deque[Report] = deque()
        self._buffered_bytes = 0
        self._max_buffered_bytes = max_buffered_bytes
        self._dropped_lines = 0
        self._flush_interval = flush_interval
        self._wakeup = asyncio.Event()
        self._closing = False
        self._sender: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._sender = asyncio.create_task(self._send_loop(), name=f"reporter-{self._build_id}")

    # --- producers (never block the build) ---

    def log_line(self, step: str | None, text: str) -> None:
        if self._buffered_bytes + self._batcher.pending_bytes >= self._max_buffered_bytes:
            self._dropped_lines += 1
            return
        if self._dropped_lines:
            dropped, self._dropped_lines = self._dropped_lines, 0
            self._push(
                self._batcher.add(
                    step, f"[solvyd: {dropped} log lines dropped: the agent's buffer was full]"
                )
            )
        self._push(self._batcher.add(step, text))

    def step_status(self, step: str, update: StepStatusUpdate) -> None:
        self._push(self._batcher.seal())
        self._push((step, update))

    def build_status(self, update: BuildStatusUpdate) -> None:
        """A build status report in order with the rest (e.g. `running` again, with the commit
        the checkout resolved); the final one goes through `finish`."""
        self._push(self._batcher.seal())
        self._push(update)

    def _push(self, report: Report | None) -> None:
        if report is None:
            return
        self._outbox.append(report)
        self._buffered_bytes += _size(report)
        self._wakeup.set()

    # --- the end ---

    async def finish(self, final: BuildStatusUpdate, deadline: float) -> bool:
        """Queue the final status after everything else, then wait (at most `deadline`
        seconds) for the outbox to drain. True if everything was delivered."""
        self._push(self._batcher.seal())
        self._push(final)
        self._closing = True
        self._wakeup.set()
        assert self._sender is not None
        try:
            await asyncio.wait_for(asyncio.shield(self._sender), deadline)
        except TimeoutError:
            log.error(
                "gave up delivering build reports",
                build_id=str(self._build_id),
                undelivered=len(self._outbox),
            )
            self._sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sender
            return False
        return True

    # --- the sender ---

    async def _send_loop(self) -> None:
        while True:
            if not self._outbox:
                if self._closing:
                    return
                self._wakeup.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), self._flush_interval)
                self._push(self._batcher.seal())
                continue
            report = self._outbox[0]
            await self._deliver(report)
            self._outbox.popleft()
            self._buffered_bytes -= _size(report)

    async def _deliver(self, report: Report) -> None:
        delays = backoff_delays(base=0.2, cap=5.0)
        while True:
            try:
                await self._send(report)
                return
            except Rejected as exc:
                # 403/404/409: the build is no longer ours or the change is stale; drop it.
                log.warning(
                    "server refused a build report",
                    build_id=str(self._build_id),
                    report=type(report).__name__,
                    status=exc.status_code,
                    error=exc.message,
                )
                return
            except ServerUnavailable as exc:
                delay = next(delays)
                log.warning(
                    "server unavailable, retrying build report",
                    build_id=str(self._build_id),
                    error=str(exc),
                    delay=round(delay, 2),
                )
                await asyncio.sleep(delay)

    async def _send(self, report: Report) -> None:
        if isinstance(report, LogBatch):
            await self._client.send_logs(self._build_id, report)
        elif isinstance(report, BuildStatusUpdate):
            await self._client.update_build(self._build_id, report)
        else:
            step, update = report
            await self._client.update_step(self._build_id, step, update)
