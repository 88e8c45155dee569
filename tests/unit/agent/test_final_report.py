"""The final report of a build: what the runtime's result becomes on the wire, the kind of an
`error` included (the server's retry decision reads it)."""

import uuid

from solvyd.agent.build_run import BuildHandle, _final_update
from solvyd.pipeline.runtime import JobResult
from solvyd.protocol import BuildStatus, ErrorKind, JobSpec, StepSpec
from solvyd.shared.clock import utcnow


def _handle() -> BuildHandle:
    spec = JobSpec(
        build_id=uuid.uuid4(),
        build_number=1,
        job_id=uuid.uuid4(),
        job_name="report",
        steps=[StepSpec(name="a", commands=["true"])],
    )
    return BuildHandle(spec)


def _result(
    status: BuildStatus, message: str | None = None, kind: ErrorKind | None = None
) -> JobResult:
    now = utcnow()
    return JobResult(status, None, message, now, now, error_kind=kind)


def test_the_runtime_s_kind_is_reported() -> None:
    kinds: list[ErrorKind] = ["timeout", "infrastructure"]
    for kind in kinds:
        update = _final_update(_handle(), _result(BuildStatus.ERROR, "why", kind))
        assert (update.status, update.error_kind, update.error_message) == (
            BuildStatus.ERROR,
            kind,
            "why",
        )
    assert _final_update(_handle(), _result(BuildStatus.SUCCESS)).error_kind is None


def test_a_build_the_agent_stopped_is_an_agent_stopped_error() -> None:
    handle = _handle()
    handle.stop(by_agent=True)
    update = _final_update(handle, _result(BuildStatus.CANCELLED))
    assert (update.status, update.error_kind) == (BuildStatus.ERROR, "agent_stopped")
    assert update.error_message == "the agent stopped before the build finished"


def test_a_build_a_user_cancelled_has_no_kind() -> None:
    handle = _handle()
    handle.stop(by_agent=False)
    update = _final_update(handle, _result(BuildStatus.CANCELLED))
    assert (update.status, update.error_kind) == (BuildStatus.CANCELLED, None)


def test_a_hand_back_keeps_its_own_path() -> None:
    handle = _handle()
    handle.handed_back = "steps name no image"
    update = _final_update(handle, _result(BuildStatus.ERROR, "handing back", "infrastructure"))
    assert (update.status, update.needs_step_without_image, update.error_kind) == (
        BuildStatus.QUEUED,
        True,
        None,
    )
