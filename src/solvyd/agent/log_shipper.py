"""Batches a build's output lines into seq-numbered log batches.

A batch is sealed when its step changes, when it reaches `max_batch_bytes`, or when the
reporter's idle sender takes what is pending (within about 5 ms of a line). Seq numbers are
given at sealing and never reused, so a batch retried after a lost answer is stored once by
the server.
"""

from dataclasses import dataclass, field

from solvyd.protocol import LogBatch, LogLine
from solvyd.shared.clock import utcnow

MAX_BATCH_BYTES = 64 * 1024


@dataclass
class LogBatcher:
    max_batch_bytes: int = MAX_BATCH_BYTES
    _next_seq: int = 0
    _step: str | None = None
    _lines: list[LogLine] = field(default_factory=list)
    _bytes: int = 0

    def add(self, step: str | None, text: str) -> LogBatch | None:
        """Add one line; returns a sealed batch when this line closed one."""
        sealed = self.seal() if step != self._step else None
        self._step = step
        self._lines.append(LogLine(text=text, ts=utcnow()))
        self._bytes += len(text.encode()) + 1
        if self._bytes >= self.max_batch_bytes:
            # Only one batch can be sealed per line: a step change seals the old batch before
            # this line is added, and then the new one holds this line alone.
            return sealed or self.seal()
        return sealed

    def seal(self) -> LogBatch | None:
        if not self._lines:
            return None
        batch = LogBatch(seq=self._next_seq, step=self._step, lines=self._lines)
        self._next_seq += 1
        self._lines = []
        self._bytes = 0
        return batch

    @property
    def pending_bytes(self) -> int:
        return self._bytes
