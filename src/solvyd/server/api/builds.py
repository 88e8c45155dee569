import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, Request, status
from fastapi.responses import PlainTextResponse, Response
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import AfterValidator

from solvyd.protocol import (
    BuildReportAck,
    BuildReports,
    BuildStatus,
    BuildStatusUpdate,
    CancelState,
    LogBatch,
    StepGraph,
    StepStatusUpdate,
)
from solvyd.protocol.messages import MAX_STEP_NAME_LENGTH, STEP_NAME_OUTLINE, check_step_name
from solvyd.server.api.compression import text_stream_response
from solvyd.server.api.deps import (
    AsDeveloper,
    AsViewer,
    ClientIp,
    Ctx,
    CurrentWorker,
    StillSignedIn,
)
from solvyd.server.api.long_poll import unless_disconnected
from solvyd.server.api.middleware import TEXT_REPLACED
from solvyd.server.schemas.builds import (
    BuildList,
    BuildRead,
    CancelResult,
    LogAccepted,
    LogPage,
    StepRead,
)
from solvyd.server.services.audit import Actor
from solvyd.server.services.builds import (
    approve,
    cancel,
    log_stream,
    logs,
    read,
    reports,
    retry,
    update,
)

router = APIRouter(prefix="/builds", tags=["builds"])

MAX_SEQ = logs.MAX_SEQ


@router.get("", operation_id="list_builds")
async def list_builds(
    ctx: Ctx,
    _: AsViewer,
    job_id: uuid.UUID | None = None,
    status: BuildStatus | None = None,
    branch: str | None = None,
    worker_id: uuid.UUID | None = None,
    number: Annotated[
        int | None, Query(ge=1, le=2**31 - 1, description="the build with this number (per job)")
    ] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> BuildList:
    return await read.list_builds(
        ctx,
        job_id=job_id,
        number=number,
        status=status,
        branch=branch,
        worker_id=worker_id,
        cursor=cursor,
        limit=limit,
    )


@router.get("/{build_id}", operation_id="get_build")
async def get_build(ctx: Ctx, _: AsViewer, build_id: uuid.UUID) -> BuildRead:
    return await read.get_build(ctx, build_id)


@router.post("/{build_id}/cancel", operation_id="cancel_build")
async def cancel_build(
    ctx: Ctx, user: AsDeveloper, ip: ClientIp, build_id: uuid.UUID
) -> CancelResult:
    build = await cancel.cancel_build(ctx, build_id, Actor.of(user, ip))
    return CancelResult(id=build.id, status=BuildStatus(build.status))


@router.post("/{build_id}/retry", status_code=status.HTTP_201_CREATED, operation_id="retry_build")
async def retry_build(ctx: Ctx, user: AsDeveloper, ip: ClientIp, build_id: uuid.UUID) -> BuildRead:
    """Run a finished build again: a new build of the same job, branch, commit and variables,
    whose `retry_of` names this one."""
    build = await retry.retry_build(ctx, build_id, Actor.of(user, ip))
    return await read.get_build(ctx, build.id)


@router.post("/{build_id}/approve", operation_id="approve_build")
async def approve_build(
    ctx: Ctx, user: AsDeveloper, ip: ClientIp, build_id: uuid.UUID
) -> BuildRead:
    """Let a build of a pull request from a fork, which its job (`fork_approval`) holds in the
    queue, run. 409 if the build does not await an approval or has finished."""
    await approve.approve_build(ctx, build_id, Actor.of(user, ip))
    return await read.get_build(ctx, build_id)


@router.get(
    "/{build_id}/logs",
    operation_id="get_build_logs",
    response_model=LogPage,
    responses={200: {"content": {"text/plain": {}}}},
)
async def get_build_logs(
    ctx: Ctx,
    request: Request,
    _: AsViewer,
    build_id: uuid.UUID,
    after: Annotated[
        int, Query(ge=-1, le=MAX_SEQ, description="return batches with seq above this")
    ] = -1,
    line: Annotated[
        int,
        Query(ge=0, le=MAX_SEQ, description="resume within batch `after` from this line"),
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=logs.MAX_BATCHES_PER_PAGE)] = logs.MAX_BATCHES_PER_PAGE,
    step: str | None = None,
    wait: Annotated[float, Query(ge=0, le=60, description="seconds to hold for new lines")] = 0,
    format: Annotated[str, Query(pattern="^(json|text)$")] = "json",
    strip_ansi: Annotated[bool, Query(description="remove ANSI colour and cursor codes")] = False,
) -> LogPage | Response:
    """A page of the log (`after`, `limit` in batches; at most 10,000 lines and 1 MiB of text,
    resumed with `next_after` and `next_line`), or with `format=text` the whole log as plain
    text, streamed, gzip-compressed when the client accepts it."""
    if format == "text":
        await read.get_build(ctx, build_id)  # 404 now, not in the middle of a stream
        chunks = logs.log_text_chunks(ctx, build_id, step=step, strip_ansi=strip_ansi)
        return text_stream_response(request, chunks)
    read_page = logs.read_log_page(
        ctx,
        build_id,
        after=after,
        line=line,
        limit=limit,
        step=step,
        wait=wait,
        strip_ansi=strip_ansi,
    )
    page = await unless_disconnected(request, read_page)
    # None: the reader went away, nobody reads this answer.
    return page or PlainTextResponse("", status_code=499)


async def stream_start(
    ctx: Ctx,
    build_id: uuid.UUID,
    after: Annotated[
        int | None,
        Query(ge=-1, le=MAX_SEQ, description="start after this batch seq of the current attempt"),
    ] = None,
    last_event_id: Annotated[str | None, Header()] = None,
) -> log_stream.StreamPosition:
    """Where the stream starts; checked before the response starts, so a bad position or an
    unknown build answers 4xx instead of an empty stream."""
    start = log_stream.StreamPosition.parse(last_event_id, after)
    await read.get_build(ctx, build_id)
    return start


@router.get(
    "/{build_id}/logs/stream",
    response_class=EventSourceResponse,
    operation_id="stream_build_logs",
)
async def stream_build_logs(
    ctx: Ctx,
    _: AsViewer,
    still_signed_in: StillSignedIn,
    build_id: uuid.UUID,
    start: Annotated[log_stream.StreamPosition, Depends(stream_start)],
    step: str | None = None,
) -> AsyncIterator[ServerSentEvent]:
    """The log as Server-Sent Events: `lines` (one stored batch; its id resumes the stream
    via `Last-Event-ID`), `step` and `status` changes, `reset` when a retry restarts the log,
    and `end` with the final status once the last line was sent. The stream stops, without
    `end`, once the viewer's token stops working (logout, revocation, a disabled user): a
    reconnect then gets 401."""
    # Closed with this stream, at once: the live viewer count drops when the viewer leaves.
    events = log_stream.follow_build_log(ctx, build_id, start, step=step)
    async with contextlib.aclosing(events):
        async for event in events:
            if not await still_signed_in():
                return
            if event.raw is not None:
                yield ServerSentEvent(event=event.kind, raw_data=event.raw, id=event.id)
            else:
                yield ServerSentEvent(event=event.kind, data=event.data, id=event.id)


@router.put("/{build_id}/status", operation_id="update_build_status")
async def update_build_status(
    ctx: Ctx, worker: CurrentWorker, build_id: uuid.UUID, body: BuildStatusUpdate
) -> BuildReportAck:
    """The worker's report of the build's status; the answer is where the build stands
    (`GET /builds/{id}` has the rest)."""
    build = await update.update_build_status(ctx, worker.id, build_id, body)
    return reports.acknowledge(build, reports_finish=body.status.finished)


@router.post("/{build_id}/reports", operation_id="report_build")
async def report_build(
    ctx: Ctx, worker: CurrentWorker, build_id: uuid.UUID, body: BuildReports
) -> BuildReportAck:
    """Several reports of the build at once, in the order they happened (log batches, step
    status, build status, the graph), each as its own endpoint takes it: applied in order in
    one transaction, all or (one refused: its error names its index) none. Unlike `POST
    /logs`, text that cannot be stored (NUL, a lone surrogate) is refused here, log lines
    included: the agent replaces it before it folds log batches."""
    return await reports.apply_reports(ctx, worker.id, build_id, body.reports)


@router.put("/{build_id}/steps/{step_name:path}", operation_id="update_step_status")
async def update_step_status(
    ctx: Ctx,
    worker: CurrentWorker,
    build_id: uuid.UUID,
    step_name: Annotated[
        str,
        Path(min_length=1, max_length=MAX_STEP_NAME_LENGTH, pattern=STEP_NAME_OUTLINE),
        AfterValidator(check_step_name),
    ],
    body: StepStatusUpdate,
) -> StepRead:
    step = await update.update_step_status(ctx, worker.id, build_id, step_name, body)
    return StepRead.model_validate(step)


@router.put(
    "/{build_id}/graph", status_code=status.HTTP_204_NO_CONTENT, operation_id="report_step_graph"
)
async def report_step_graph(
    ctx: Ctx, worker: CurrentWorker, build_id: uuid.UUID, body: StepGraph
) -> None:
    """The worker holding the build reports the graph of the plan it runs (once per attempt,
    before the first step starts); `GET /builds/{id}` then draws the steps by it. Names must
    be step names, unique, `depends_on` only names steps of the same graph, and there is no
    cycle; else 422 and nothing is kept."""
    await update.record_step_graph(ctx, worker.id, build_id, body)


@router.post(
    "/{build_id}/logs",
    operation_id="append_build_logs",
    openapi_extra={TEXT_REPLACED: "replaced"},
)
async def append_build_logs(
    ctx: Ctx, worker: CurrentWorker, build_id: uuid.UUID, body: LogBatch
) -> LogAccepted:
    stored = await logs.append_log_batch(ctx, worker.id, build_id, body)
    return LogAccepted(seq=body.seq, stored=stored)


@router.get("/{build_id}/cancel-wait", operation_id="wait_for_build_cancel")
async def wait_for_cancel(
    ctx: Ctx,
    request: Request,
    worker: CurrentWorker,
    build_id: uuid.UUID,
    wait: Annotated[float, Query(ge=0, le=60)] = 30,
) -> CancelState:
    cancelled = await unless_disconnected(
        request, cancel.wait_for_cancel(ctx, worker.id, build_id, wait)
    )
    return CancelState(cancelled=bool(cancelled))
