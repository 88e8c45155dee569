"""BuildReporter against a real HTTP endpoint that stands in for the server: an outage longer
than the memory bound spills the outbox to disk, and every report still arrives once, in order.

The stand-in stores what the real server stores (log batches deduplicated by seq, step and
build status) in arrival order, from the folded requests the reporter sends (`POST /reports`,
all or nothing) and from single ones; it can refuse connections (not started), answer 503,
store a request's reports and answer 503 (a lost answer: the agent must resend, the server must
store each batch once), refuse a request holding a given step's report (409), or answer that
the build ended on the server.
"""

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from tests.support.processes import free_port

from solvyd.agent.client import ServerClient
from solvyd.agent.metrics import AgentMetrics
from solvyd.agent.reporter import BuildReporter
from solvyd.protocol import (
    BuildReports,
    BuildStatus,
    BuildStatusReport,
    BuildStatusUpdate,
    LogBatch,
    LogReport,
    StepReport,
    StepStatus,
    StepStatusUpdate,
)

Event = tuple[str, ...]
RUNNING = StepStatusUpdate(status=StepStatus.RUNNING)
SUCCESS = StepStatusUpdate(status=StepStatus.SUCCESS)
FINAL = BuildStatusUpdate(status=BuildStatus.SUCCESS, exit_code=0)


def _marker(count: int) -> str:
    return f"[solvyd: {count} log lines dropped: the agent's buffer was full]"


@dataclass
class StandIn:
    events: list[Event] = field(default_factory=list)
    seqs: set[int] = field(default_factory=set)
    refusing: bool = True  # answer 503 to everything
    lose_answers: int = 0  # store the next N requests with a new log batch, but answer 503
    lost_batches: int = 0  # new log batches in requests whose answer was lost
    refused: int = 0
    resent: int = 0  # log batches received again after they were stored
    refuse_step: str | None = None  # answer 409 to a request with this step's report
    conflicts: int = 0
    stop: bool = False  # answer that the build ended on the server
    forbid: bool = False  # answer 403 (the build is not this worker's any more)
    folds: bool = True  # False: a server older than folded reports (no POST /reports route)
    requests: list[int] = field(default_factory=list)  # reports per request, in order

    def _unavailable(self) -> JSONResponse:
        return JSONResponse({"error": {"code": "unavailable", "message": "down"}}, 503)

    async def logs(self, request: Request) -> JSONResponse:
        if self.refusing:
            self.refused += 1
            return self._unavailable()
        batch = LogBatch.model_validate_json(await request.body())
        if batch.seq in self.seqs:
            self.resent += 1
            return JSONResponse({"stored": 0})
        self.seqs.add(batch.seq)
        self.events += [("log", batch.step or "", line.text) for line in batch.lines]
        if self.lose_answers:
            self.lose_answers -= 1
            self.lost_batches += 1
            return self._unavailable()
        return JSONResponse({"stored": len(batch.lines)})

    async def build_status(self, request: Request) -> JSONResponse:
        if self.refusing:
            self.refused += 1
            return self._unavailable()
        update = BuildStatusUpdate.model_validate_json(await request.body())
        self.events.append(("build", update.status.value))
        return JSONResponse({})

    async def step_status(self, request: Request) -> JSONResponse:
        if self.refusing:
            self.refused += 1
            return self._unavailable()
        update = StepStatusUpdate.model_validate_json(await request.body())
        self.events.append(("step", request.path_params["name"], update.status.value))
        return JSONResponse({})

    async def reports(self, request: Request) -> JSONResponse:
        if self.refusing:
            self.refused += 1
            return self._unavailable()
        body = BuildReports.model_validate_json(await request.body())
        self.requests.append(len(body.reports))
        if self.forbid:
            return JSONResponse({"error": {"code": "forbidden", "message": "not yours"}}, 403)
        if any(isinstance(r, StepReport) and r.step == self.refuse_step for r in body.reports):
            self.conflicts += 1
            message = {"error": {"code": "conflict", "message": "refused"}}
            return JSONResponse(message, 409)  # and nothing of it stored, as the server
        new_batches = 0
        for report in body.reports:
            if isinstance(report, LogReport):
                batch = report.batch
                if batch.seq in self.seqs:
                    self.resent += 1
                    continue
                self.seqs.add(batch.seq)
                new_batches += 1
                self.events += [("log", batch.step or "", line.text) for line in batch.lines]
            elif isinstance(report, StepReport):
                self.events.append(("step", report.step, report.update.status.value))
            elif isinstance(report, BuildStatusReport):
                self.events.append(("build", report.update.status.value))
        if new_batches and self.lose_answers:
            self.lose_answers -= 1
            self.lost_batches += new_batches
            return self._unavailable()
        ack = {"id": str(uuid.uuid4()), "status": "running", "attempt": 1, "stop": self.stop}
        return JSONResponse(ack)

    def app(self) -> Starlette:
        prefix = "/api/v1/builds/{build_id}"
        return Starlette(
            routes=[
                *(
                    [Route(f"{prefix}/reports", self.reports, methods=["POST"])]
                    if self.folds
                    else []
                ),
                Route(f"{prefix}/logs", self.logs, methods=["POST"]),
                Route(f"{prefix}/status", self.build_status, methods=["PUT"]),
                Route(f"{prefix}/steps/{{name}}", self.step_status, methods=["PUT"]),
            ]
        )


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield  # the test runner keeps its own signal handlers


@contextlib.asynccontextmanager
async def serving(stand_in: StandIn, port: int) -> AsyncIterator[None]:
    server = _Server(
        uvicorn.Config(
            stand_in.app(), host="127.0.0.1", port=port, log_level="warning", lifespan="off"
        )
    )
    task = asyncio.create_task(server.serve())
    try:
        await wait_until(lambda: server.started or task.done(), "the stand-in started")
        assert server.started, "the stand-in server did not start"
        yield
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)


async def wait_until(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"waited {timeout}s for: {what}"
        await asyncio.sleep(0.02)


def client_of_a_server(port: int, *, folds: bool = True) -> ServerClient:
    """A client as registration leaves it with a server that takes folded reports (protocol
    2), or with an older one, which takes each report on its own endpoint."""
    client = ServerClient(f"http://127.0.0.1:{port}", "token", timeout=5)
    client.server_folds_reports = folds
    return client


def lines(step: str, texts: list[str]) -> list[Event]:
    return [("log", step, text) for text in texts]


@pytest.mark.parametrize("folds", [True, False], ids=["folded", "older-server"])
async def test_an_outage_spills_to_disk_and_every_report_arrives_once_in_order(
    tmp_path: Path, folds: bool
) -> None:
    port = free_port()
    stand_in = StandIn()
    client = client_of_a_server(port, folds=folds)
    metrics = AgentMetrics("fake")
    reporter = BuildReporter(
        client,
        uuid.uuid4(),
        spool_dir=tmp_path / "spool",
        max_memory_bytes=64 * 1024,
        metrics=metrics,
    )

    def sample(name: str) -> float | None:
        return metrics.registry.get_sample_value(name)

    spool = reporter.spool_path
    assert spool is not None
    reporter.start()
    first = [f"line-{i}" for i in range(25_000)]
    second = [f"line-{i}" for i in range(25_000, 50_000)]
    try:
        # Nobody listens on the port: connections are refused.
        reporter.step_status("build", RUNNING)
        for i, text in enumerate(first):
            reporter.log_line("build", text)
            if i % 1000 == 0:
                await asyncio.sleep(0)  # the sender runs (and fails) meanwhile
        reporter.step_status("build", SUCCESS)
        reporter.build_status(BuildStatusUpdate(status=BuildStatus.RUNNING, commit_sha="abc123"))
        assert spool.exists()
        assert spool.stat().st_size > 64 * 1024
        # The agent's gauges tell what waits: the file's size, and more reports than it holds
        # (the first ones wait in memory).
        assert sample("solvyd_agent_spool_bytes") == spool.stat().st_size
        spooled_records = len(spool.read_bytes().splitlines())
        assert (sample("solvyd_agent_spool_entries") or 0) > spooled_records
        assert sample("solvyd_agent_log_lines_sent_total") == 0

        async with serving(stand_in, port):
            # The server is up but failing: 503 to everything.
            reporter.step_status("test", RUNNING)
            for i, text in enumerate(second):
                reporter.log_line("test", text)
                if i % 1000 == 0:
                    await asyncio.sleep(0)
            reporter.step_status("test", SUCCESS)
            await wait_until(lambda: stand_in.refused > 0, "a request refused with 503")
            assert stand_in.events == []
            assert spool.exists()

            # Back, but the answers to two stored batches are lost: the agent sends them again.
            stand_in.lose_answers = 2
            stand_in.refusing = False
            delivered = await reporter.finish(FINAL, deadline=60)
    finally:
        await client.aclose()

    assert delivered
    assert not spool.exists()
    # Every log batch in a request whose answer was lost came again, and was stored once.
    assert stand_in.lost_batches >= 2
    assert stand_in.resent == stand_in.lost_batches
    if folds:  # what queued during the outage went folded, many reports a request
        assert max(stand_in.requests) > 1
    else:  # a server older than folded reports was never sent one
        assert stand_in.requests == []
    assert sample("solvyd_agent_spool_bytes") == 0
    assert sample("solvyd_agent_spool_entries") == 0
    # Lines of a batch whose answer was lost count once, when the server accepts it again.
    assert sample("solvyd_agent_log_lines_sent_total") == len(first) + len(second)
    assert stand_in.events == [
        ("step", "build", "running"),
        *lines("build", first),
        ("step", "build", "success"),
        ("build", "running"),
        ("step", "test", "running"),
        *lines("test", second),
        ("step", "test", "success"),
        ("build", "success"),
    ]


async def test_past_the_disk_bound_lines_are_dropped_and_counted_per_step(
    tmp_path: Path,
) -> None:
    port = free_port()
    stand_in = StandIn(refusing=False)
    client = client_of_a_server(port)
    reporter = BuildReporter(
        client,
        uuid.uuid4(),
        spool_dir=tmp_path / "spool",
        max_memory_bytes=1024,
        max_spool_bytes=16 * 1024,
    )
    spool = reporter.spool_path
    assert spool is not None
    reporter.start()
    try:
        # The server is unreachable: the first lines fill memory, then the spool, then the
        # rest are dropped, in this step and in the next.
        for i in range(5000):
            reporter.log_line("s", f"line-{i}")
        reporter.step_status("s", SUCCESS)
        for i in range(100):
            reporter.log_line("u", f"u-{i}")
        reporter.step_status("u", SUCCESS)
        assert spool.exists()

        async with serving(stand_in, port):
            await wait_until(lambda: ("step", "u", "success") in stand_in.events, "the spool sent")
            assert not spool.exists()
            # With room again, nothing is dropped.
            for i in range(100):
                reporter.log_line("t", f"t-{i}")
            delivered = await reporter.finish(FINAL, deadline=60)
    finally:
        await client.aclose()

    assert delivered
    assert not spool.exists()
    events = stand_in.events
    kept = [text for kind, step, *rest in events if kind == "log" and step == "s" for text in rest]
    assert 0 < len(kept) - 1 < 5000
    assert kept[:-1] == [f"line-{i}" for i in range(len(kept) - 1)]
    assert kept[-1] == _marker(5000 - (len(kept) - 1))
    assert events[len(kept) :] == [
        ("step", "s", "success"),
        ("log", "u", _marker(100)),
        ("step", "u", "success"),
        *lines("t", [f"t-{i}" for i in range(100)]),
        ("build", "success"),
    ]


async def test_without_a_spool_lines_past_the_memory_bound_are_dropped(tmp_path: Path) -> None:
    port = free_port()
    stand_in = StandIn(refusing=False)
    client = client_of_a_server(port)
    reporter = BuildReporter(client, uuid.uuid4(), max_memory_bytes=1024)
    assert reporter.spool_path is None
    reporter.start()
    try:
        for i in range(1000):
            reporter.log_line("s", f"line-{i}")
        async with serving(stand_in, port):
            delivered = await reporter.finish(FINAL, deadline=60)
    finally:
        await client.aclose()

    assert delivered
    kept = [event[2] for event in stand_in.events if event[0] == "log"]
    assert kept[:-1] == [f"line-{i}" for i in range(len(kept) - 1)]
    assert kept[-1] == _marker(1000 - (len(kept) - 1))
    assert stand_in.events[-1] == ("build", "success")
    assert list(tmp_path.iterdir()) == []


async def test_when_the_spool_cannot_be_written_status_still_arrives_in_order(
    tmp_path: Path,
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    port = free_port()
    stand_in = StandIn(refusing=False)
    client = client_of_a_server(port)
    reporter = BuildReporter(client, uuid.uuid4(), spool_dir=blocker, max_memory_bytes=1024)
    reporter.start()
    try:
        for i in range(20_000):
            reporter.log_line("s", f"line-{i}")
        reporter.step_status("s", SUCCESS)
        async with serving(stand_in, port):
            delivered = await reporter.finish(FINAL, deadline=60)
    finally:
        await client.aclose()

    assert delivered
    kept = [event[2] for event in stand_in.events if event[0] == "log"]
    assert kept[:-1] == [f"line-{i}" for i in range(len(kept) - 1)]
    assert kept[-1] == _marker(20_000 - (len(kept) - 1))
    assert stand_in.events[len(kept) :] == [("step", "s", "success"), ("build", "success")]


async def test_a_refused_folded_request_is_sent_again_one_by_one_losing_only_the_refused(
    tmp_path: Path,
) -> None:
    """The server applies a folded request all or none: when one of its reports is refused,
    the others must still arrive (once each, in order), the refused one is dropped, and the
    reporter neither loops nor gives up the rest."""
    port = free_port()
    stand_in = StandIn(refusing=False, refuse_step="stale")
    client = client_of_a_server(port)
    reporter = BuildReporter(client, uuid.uuid4())
    reporter.start()
    try:
        # Queued while the server is unreachable: they go as one folded request.
        reporter.step_status("a", RUNNING)
        reporter.log_line("a", "one")
        reporter.step_status("stale", SUCCESS)
        reporter.log_line("a", "two")
        reporter.step_status("a", SUCCESS)
        await asyncio.sleep(0.3)
        async with serving(stand_in, port):
            delivered = await reporter.finish(FINAL, deadline=60)
    finally:
        await client.aclose()

    assert delivered
    assert stand_in.requests[0] > 1, "the queued reports were not folded"
    # The folded request, refused once; then each report alone, the stale one refused alone.
    assert stand_in.conflicts == 2
    assert stand_in.events == [
        ("step", "a", "running"),
        ("log", "a", "one"),
        ("log", "a", "two"),
        ("step", "a", "success"),
        ("build", "success"),
    ]


async def test_an_answer_that_the_build_ended_on_the_server_stops_it() -> None:
    port = free_port()
    stand_in = StandIn(refusing=False, stop=True)
    client = client_of_a_server(port)
    stopped = asyncio.Event()
    reporter = BuildReporter(client, uuid.uuid4(), on_stop=stopped.set)
    reporter.start()
    try:
        async with serving(stand_in, port):
            reporter.step_status("a", RUNNING)
            await asyncio.wait_for(stopped.wait(), 10)
            delivered = await reporter.finish(FINAL, deadline=60)
    finally:
        await client.aclose()
    assert delivered
    assert stand_in.events == [("step", "a", "running"), ("build", "success")]


async def test_reports_refused_for_the_build_are_dropped_at_once() -> None:
    """403: the build is no longer this worker's; every report would be refused alike, so a
    folded request is not sent again report by report."""
    port = free_port()
    stand_in = StandIn(refusing=False, forbid=True)
    client = client_of_a_server(port)
    reporter = BuildReporter(client, uuid.uuid4())
    reporter.start()
    try:
        for name in ("a", "b", "c"):
            reporter.step_status(name, RUNNING)
        await asyncio.sleep(0.3)
        async with serving(stand_in, port):
            delivered = await reporter.finish(FINAL, deadline=60)
    finally:
        await client.aclose()
    assert delivered
    # The three queued went as one request (fixed at its first try), the final one alone.
    assert stand_in.requests == [3, 1]
    assert stand_in.events == []


async def test_a_replica_without_folded_reports_gets_each_report_on_its_own_endpoint() -> None:
    """In a rolling upgrade the agent may register with a new server and send a report to an
    old replica, which has no `POST /reports` and answers 404 as for a build that is gone:
    the reports go again on their own endpoints instead of being dropped."""
    port = free_port()
    stand_in = StandIn(refusing=False, folds=False)
    client = client_of_a_server(port, folds=True)
    reporter = BuildReporter(client, uuid.uuid4())
    reporter.start()
    try:
        reporter.step_status("a", RUNNING)
        reporter.log_line("a", "one")
        reporter.step_status("a", SUCCESS)
        await asyncio.sleep(0.3)
        async with serving(stand_in, port):
            delivered = await reporter.finish(FINAL, deadline=60)
    finally:
        await client.aclose()
    assert delivered
    assert stand_in.events == [
        ("step", "a", "running"),
        ("log", "a", "one"),
        ("step", "a", "success"),
        ("build", "success"),
    ]
