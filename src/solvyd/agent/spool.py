"""The on-disk tail of a build's report outbox (see `agent/reporter.py`).

While the server is unreachable, reports that do not fit in the reporter's memory bound are
appended here, one JSON record per line with a type tag, and read back in order from a kept
offset once the reports before them are delivered. The file is deleted as soon as it has been
read to its end, so its size is what the spool costs on disk.

Nothing here is fsynced: a spool only outlives its agent process by accident (a crash), and the
builds it belongs to cannot be reported by a new process anyway (the server requeued or ended
them when the old agent went silent), so an agent removes its leftovers when it starts.
"""

import contextlib
import re
from collections import deque
from pathlib import Path
from typing import Annotated, BinaryIO, Literal

import structlog
from pydantic import BaseModel, Field, RootModel, ValidationError

from solvyd.protocol import BuildStatusUpdate, LogBatch, StepGraph, StepStatusUpdate

log = structlog.get_logger(__name__)

# One report in a build's outbox: a log batch, a step's status (with the step's name), the
# build's status or the graph of its plan.
Report = LogBatch | tuple[str, StepStatusUpdate] | BuildStatusUpdate | StepGraph


class _LogRecord(BaseModel):
    type: Literal["log"] = "log"
    batch: LogBatch


class _StepRecord(BaseModel):
    type: Literal["step"] = "step"
    step: str
    update: StepStatusUpdate


class _BuildRecord(BaseModel):
    type: Literal["build"] = "build"
    update: BuildStatusUpdate


class _GraphRecord(BaseModel):
    type: Literal["graph"] = "graph"
    graph: StepGraph


_AnyRecord = _LogRecord | _StepRecord | _BuildRecord | _GraphRecord


class _Record(RootModel[Annotated[_AnyRecord, Field(discriminator="type")]]):
    pass


def _encode(report: Report) -> bytes:
    record: _AnyRecord
    if isinstance(report, LogBatch):
        record = _LogRecord(batch=report)
    elif isinstance(report, BuildStatusUpdate):
        record = _BuildRecord(update=report)
    elif isinstance(report, StepGraph):
        record = _GraphRecord(graph=report)
    else:
        record = _StepRecord(step=report[0], update=report[1])
    return _Record(record).model_dump_json().encode() + b"\n"


def _decode(line: bytes) -> Report:
    record = _Record.model_validate_json(line).root
    if isinstance(record, _LogRecord):
        return record.batch
    if isinstance(record, _StepRecord):
        return (record.step, record.update)
    if isinstance(record, _GraphRecord):
        return record.graph
    return record.update


class ReportSpool:
    """A FIFO of reports in one file: `append` at the end, `read` from the front.

    If the disk fails (full, gone), the spool keeps the failed report and everything appended
    after it in memory, behind what is on disk, so the order holds; it counts as full then, so
    the reporter drops log lines instead of growing that list (status reports are never dropped).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: BinaryIO | None = None
        self._written = 0  # bytes appended to the file since it was created
        self._read = 0  # offset of the first record not read back yet
        self._records = 0  # records in the file not read back yet
        self._unwritten: deque[Report] = deque()  # behind the file, when the disk failed

    def __bool__(self) -> bool:
        """True while the spool holds reports not read back yet."""
        return self._read < self._written or bool(self._unwritten)

    @property
    def size(self) -> int:
        """Bytes the spool takes on disk."""
        return self._written

    @property
    def entries(self) -> int:
        """Reports the spool holds, on disk or behind it."""
        return self._records + len(self._unwritten)

    @property
    def failed(self) -> bool:
        return bool(self._unwritten)

    def append(self, report: Report) -> None:
        """Add a report at the end: one small write (a sealed batch is at most ~64 KiB of
        text), cheap enough for the build's producers to make directly."""
        if self._unwritten:
            self._unwritten.append(report)
            return
        data = _encode(report)
        try:
            if self._file is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._file = self.path.open("wb")
            self._file.write(data)
            self._file.flush()
        except OSError as exc:
            log.error("cannot spool build reports to disk", path=str(self.path), error=str(exc))
            self._unwritten.append(report)
            return
        self._written += len(data)
        self._records += 1

    def read(self, max_bytes: int) -> list[Report]:
        """The next reports in order: about `max_bytes` of records, at least one if the spool
        holds any. Once everything has been read back, the file is deleted."""
        reports: list[Report] = []
        if self._read < self._written:
            try:
                self._read_file(max_bytes, reports)
            except (OSError, ValidationError) as exc:
                # Someone removed or damaged the file: what is left of it is lost.
                log.error(
                    "lost spooled build reports",
                    path=str(self.path),
                    error=str(exc),
                    lost_bytes=self._written - self._read,
                )
                self._read = self._written
                self._records = 0
        if self._read >= self._written:
            reports.extend(self._unwritten)
            self.discard()
        return reports

    def _read_file(self, max_bytes: int, reports: list[Report]) -> None:
        start = self._read
        with self.path.open("rb") as file:
            file.seek(start)
            while self._read < self._written and self._read - start < max_bytes:
                line = file.readline()
                if not line.endswith(b"\n"):
                    raise OSError(f"the file ends early, at byte {self._read + len(line)}")
                reports.append(_decode(line))
                self._read += len(line)
                self._records -= 1

    def discard(self) -> None:
        """Forget everything not read yet and delete the file. Idempotent."""
        if self._file is not None:
            # Closing flushes what a failed append left buffered, which may fail again.
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None
        try:
            self.path.unlink(missing_ok=True)
        except OSError as exc:
            log.warning("cannot remove a report spool", path=str(self.path), error=str(exc))
        self._written = self._read = self._records = 0
        self._unwritten.clear()


def agent_spool_dir(root: Path, agent_name: str) -> Path:
    """This agent's own spool directory under `root`: agents that share a work directory must
    not remove each other's spools when they start."""
    safe_name = re.sub(r"[^A-Za-z0-9_.-]", "_", agent_name).lstrip(".") or "agent"
    return root / safe_name


def remove_stale_spools(directory: Path) -> None:
    """Remove the spools an earlier process of this agent left (it crashed or was killed): their
    builds were requeued or ended by the server when that process went silent, so they can
    never be delivered."""
    stale = list(directory.glob("*.jsonl")) if directory.is_dir() else []
    for path in stale:
        path.unlink(missing_ok=True)
    if stale:
        log.info("removed stale report spools", directory=str(directory), count=len(stale))
