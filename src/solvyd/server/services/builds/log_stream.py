"""A build's live log as a sequence of events: stored lines, then new ones as they arrive,
step and build status changes in between, and an end event once the build has finished.

Resumable by position: an event's id is `<attempt>.<seq>` of the last batch it carries, and a
stream started after that position sends exactly the batches that follow it. When the build is
retried (a new attempt starts its log from scratch) a `reset` event says so and the new
attempt's log follows from its beginning.

Order: the agent reports a step's lines before the step's final status, and every line before
the build's final status. Each pass reads the statuses first and the lines second, so a status
seen is never ahead of lines still unread, and `end` comes after the last line.
"""

import contextlib
import json
import uuid
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Any

from solvyd.protocol import BuildStatus
from solvyd.server.events import build_topic
from solvyd.server.schemas.builds import BuildRead, StepRead
from solvyd.server.services.builds import logs, read
from solvyd.server.services.builds.log_archive import StoredBatch
from solvyd.server.services.context import ServerContext
from solvyd.server.services.errors import InvalidInput

# Batches read per pass (fewer when they hold more than a page of lines); a stream catching
# up on a long log reads again at once.
BATCHES_PER_PASS = 200
# A stream with nothing new still re-reads this often (a missed wake-up costs at most this).
IDLE_RECHECK_SECONDS = 15.0


@dataclass(frozen=True)
class LogEvent:
    """`kind` is one of: lines, step, status, reset, end."""

    kind: str
    data: dict[str, Any]
    id: str | None = None
    # The data already as JSON text, for `lines` events.
    raw: str | None = None


@dataclass(frozen=True)
class StreamPosition:
    """Where a stream resumes: after batch `seq` of attempt `attempt` (None: any attempt)."""

    attempt: int | None = None
    seq: int = -1

    @classmethod
    def parse(cls, last_event_id: str | None, after: int | None) -> "StreamPosition":
        if last_event_id:
            attempt, _, seq = last_event_id.partition(".")
            try:
                position = cls(attempt=int(attempt), seq=int(seq))
            except ValueError:
                position = None
            # Both are INTEGER columns: a larger number would fail in the query, mid-stream.
            if position is None or not (
                1 <= (position.attempt or 0) <= logs.MAX_SEQ and -1 <= position.seq <= logs.MAX_SEQ
            ):
                raise InvalidInput(f"Last-Event-ID {last_event_id!r} is not one this server sent")
            return position
        return cls(seq=-1 if after is None else after)

    def event_id(self) -> str:
        return f"{self.attempt}.{self.seq}"


@dataclass
class _Seen:
    """What this stream has told its client, to send changes only."""

    status: BuildStatus | None = None
    steps: dict[str, tuple[Any, ...]] = field(default_factory=dict)


def _step_key(step: StepRead) -> tuple[Any, ...]:
    return (step.status, step.exit_code, step.started_at, step.completed_at)


def _step_event(step: StepRead) -> LogEvent:
    return LogEvent("step", step.model_dump(mode="json"))


async def follow_build_log(
    ctx: ServerContext,
    build_id: uuid.UUID,
    start: StreamPosition,
    *,
    step: str | None = None,
) -> AsyncGenerator[LogEvent, None]:
    """Events from `start` on, until the build has finished and its last line was sent, or
    the server shuts down (then the stream just stops; the client resumes elsewhere)."""
    # Counted while the stream is open: a viewer who goes away closes this generator.
    with ctx.metrics.live_log_viewers.track_inprogress():
        async with contextlib.aclosing(_follow(ctx, build_id, start, step)) as events:
            async for event in events:
                yield event


async def _follow(
    ctx: ServerContext, build_id: uuid.UUID, start: StreamPosition, step: str | None
) -> AsyncGenerator[LogEvent, None]:
    position = start
    seen = _Seen()
    while not ctx.events.closed:
        signal = ctx.events.listen(build_topic(build_id))
        build = await read.get_build(ctx, build_id)
        if position.attempt is not None and position.attempt != build.attempt:
            yield LogEvent("reset", {"attempt": build.attempt})
            seen = _Seen()
            position = StreamPosition(attempt=build.attempt)
        position = StreamPosition(attempt=build.attempt, seq=position.seq)
        page = await logs.read_batches(ctx, build_id, position.seq, BATCHES_PER_PASS, step=step)
        batches = page.batches
        for event in _events_of_pass(build, batches, seen, step):
            yield event
        position = StreamPosition(attempt=build.attempt, seq=page.next_after)
        if build.status.finished and page.finished:
            yield LogEvent(
                "end",
                {
                    "status": build.status,
                    "exit_code": build.exit_code,
                    "error_message": build.error_message,
                    "number": build.number,
                },
            )
            return
        if page.more:
            continue  # more is stored already
        await signal.wait(IDLE_RECHECK_SECONDS)


def _events_of_pass(
    build: BuildRead, batches: list[StoredBatch], seen: _Seen, step_filter: str | None
) -> list[LogEvent]:
    """This pass's events: status and step changes placed around the batches they belong to
    (a step's start before its lines, its end after them)."""
    events: list[LogEvent] = []
    if build.status != seen.status:
        seen.status = build.status
        events.append(LogEvent("status", {"status": build.status, "attempt": build.attempt}))
    changed = {
        s.name: s
        for s in build.steps
        if (step_filter is None or s.name == step_filter) and seen.steps.get(s.name) != _step_key(s)
    }

    def flush(name: str | None) -> None:
        if name is not None and name in changed:
            step = changed.pop(name)
            seen.steps[name] = _step_key(step)
            events.append(_step_event(step))

    previous: str | None = None
    for batch in batches:
        if batch.step != previous:
            flush(previous)
            flush(batch.step)
            previous = batch.step
        # Serialised here, as stored: a batch can hold thousands of lines, and the generic
        # encoder would walk each of them.
        raw = json.dumps({"seq": batch.seq, "step": batch.step, "lines": batch.lines})
        events.append(LogEvent("lines", {}, id=f"{build.attempt}.{batch.seq}", raw=raw))
    flush(previous)
    for step in sorted(changed.values(), key=lambda s: s.position):
        flush(step.name)
    return events
