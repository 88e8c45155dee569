"""ReportSpool: a FIFO of build reports in a real file, read back from a kept offset."""

from pathlib import Path

from solvyd.agent.spool import Report, ReportSpool, agent_spool_dir, remove_stale_spools
from solvyd.protocol import (
    BuildStatus,
    BuildStatusUpdate,
    GraphStep,
    LogBatch,
    LogLine,
    StepGraph,
    StepStatus,
    StepStatusUpdate,
)
from solvyd.shared.clock import utcnow


def _reports(count: int) -> list[Report]:
    reports: list[Report] = []
    for seq in range(count):
        line = LogLine(text=f"line {seq}", ts=utcnow())
        reports.append(LogBatch(seq=seq, step="s", lines=[line]))
        reports.append(("s", StepStatusUpdate(status=StepStatus.RUNNING, started_at=utcnow())))
    graph = [GraphStep(name="checkout"), GraphStep(name="s", depends_on=["checkout"])]
    reports.append(StepGraph(steps=graph, attempt=2))
    reports.append(BuildStatusUpdate(status=BuildStatus.FAILURE, exit_code=2, error_message="x"))
    return reports


def test_reports_come_back_in_order_a_little_at_a_time_and_the_file_goes(tmp_path: Path) -> None:
    spool = ReportSpool(tmp_path / "spool" / "build.jsonl")
    assert not spool
    reports = _reports(50)
    for report in reports[:60]:
        spool.append(report)
    assert spool
    size = spool.size
    assert spool.path.stat().st_size == size

    first = spool.read(1)  # at least one report, however small the budget
    assert first == reports[:1]
    second = spool.read(size // 4)
    assert 1 < len(second) < 59
    # Appending while reading goes on at the end.
    for report in reports[60:]:
        spool.append(report)
    rest: list[Report] = []
    while spool:
        rest += spool.read(size // 4)
    assert first + second + rest == reports
    assert not spool.path.exists()
    assert spool.size == 0

    # Used again after draining: a new file.
    spool.append(reports[0])
    assert spool.path.exists()
    assert spool.read(1024) == reports[:1]
    assert not spool.path.exists()


def test_when_the_disk_fails_reports_wait_in_memory_behind_the_file(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    spool = ReportSpool(blocker / "build.jsonl")  # cannot be created: its parent is a file
    reports = _reports(3)
    for report in reports:
        spool.append(report)
    assert spool.failed
    assert spool.size == 0
    assert spool.read(1) == reports
    assert not spool
    assert not spool.failed


def test_discard_forgets_everything_and_deletes_the_file(tmp_path: Path) -> None:
    spool = ReportSpool(tmp_path / "build.jsonl")
    for report in _reports(3):
        spool.append(report)
    spool.discard()
    spool.discard()
    assert not spool
    assert not spool.path.exists()
    assert spool.read(1024) == []


def test_an_agent_removes_only_its_own_stale_spools(tmp_path: Path) -> None:
    mine = agent_spool_dir(tmp_path, "ci box/1")
    other = agent_spool_dir(tmp_path, "other")
    assert mine.parent == tmp_path
    assert agent_spool_dir(tmp_path, "..").parent == tmp_path
    for directory in (mine, other):
        directory.mkdir()
        (directory / "0b7c1e2e-0000-4000-8000-000000000000.jsonl").write_text("{}\n")
    (mine / "keep.txt").write_text("not a spool")

    remove_stale_spools(mine)
    remove_stale_spools(tmp_path / "never-created")

    assert sorted(p.name for p in mine.iterdir()) == ["keep.txt"]
    assert len(list(other.iterdir())) == 1
