"""The build and step state machines: finished is final, and only listed moves are legal."""

import pytest

from solvyd.protocol import BuildStatus, StepStatus
from solvyd.server.state import (
    BUILD_TRANSITIONS,
    STEP_TRANSITIONS,
    IllegalTransition,
    can_transition_build,
    check_build_transition,
    check_step_transition,
    step_status_for_unfinished,
)

FINISHED_BUILD = [s for s in BuildStatus if s.finished]
FINISHED_STEP = [s for s in StepStatus if s.finished]


def test_every_status_has_a_row() -> None:
    assert set(BUILD_TRANSITIONS) == set(BuildStatus)
    assert set(STEP_TRANSITIONS) == set(StepStatus)


def test_finished_build_statuses_are_the_four_ends() -> None:
    assert set(FINISHED_BUILD) == {
        BuildStatus.SUCCESS,
        BuildStatus.FAILURE,
        BuildStatus.CANCELLED,
        BuildStatus.ERROR,
    }


@pytest.mark.parametrize("current", FINISHED_BUILD, ids=str)
@pytest.mark.parametrize("requested", list(BuildStatus), ids=str)
def test_finished_build_is_final(current: BuildStatus, requested: BuildStatus) -> None:
    assert not can_transition_build(current, requested)
    with pytest.raises(IllegalTransition) as caught:
        check_build_transition(current, requested)
    assert caught.value.current == current
    assert caught.value.requested == requested


@pytest.mark.parametrize("current", FINISHED_STEP, ids=str)
@pytest.mark.parametrize("requested", list(StepStatus), ids=str)
def test_finished_step_is_final(current: StepStatus, requested: StepStatus) -> None:
    with pytest.raises(IllegalTransition):
        check_step_transition(current, requested)


def test_queued_to_running_is_legal() -> None:
    assert can_transition_build(BuildStatus.QUEUED, BuildStatus.RUNNING)
    check_build_transition(BuildStatus.QUEUED, BuildStatus.RUNNING)


def test_success_to_running_is_illegal() -> None:
    with pytest.raises(IllegalTransition, match=r"^build cannot go from"):
        check_build_transition(BuildStatus.SUCCESS, BuildStatus.RUNNING)


def test_illegal_transition_message_names_plain_statuses() -> None:
    with pytest.raises(IllegalTransition) as caught:
        check_build_transition(BuildStatus.SUCCESS, BuildStatus.RUNNING)
    assert str(caught.value) == "build cannot go from 'success' to 'running'"


@pytest.mark.parametrize("end", FINISHED_BUILD, ids=str)
def test_running_may_end_in_any_finished_status(end: BuildStatus) -> None:
    check_build_transition(BuildStatus.RUNNING, end)


def test_queued_may_be_cancelled_or_errored_but_not_succeed_without_running() -> None:
    check_build_transition(BuildStatus.QUEUED, BuildStatus.CANCELLED)
    check_build_transition(BuildStatus.QUEUED, BuildStatus.ERROR)
    for end in (BuildStatus.SUCCESS, BuildStatus.FAILURE):
        with pytest.raises(IllegalTransition):
            check_build_transition(BuildStatus.QUEUED, end)


def test_lost_running_build_may_go_back_to_queued() -> None:
    check_build_transition(BuildStatus.RUNNING, BuildStatus.QUEUED)


def test_repeating_a_status_is_not_a_transition() -> None:
    # Callers treat a repeated status as a no-op; the table never lists it as a move.
    for status in BuildStatus:
        assert not can_transition_build(status, status)
    for step_status in StepStatus:
        with pytest.raises(IllegalTransition):
            check_step_transition(step_status, step_status)


@pytest.mark.parametrize(
    ("current", "requested"),
    [
        (StepStatus.PENDING, StepStatus.RUNNING),
        (StepStatus.PENDING, StepStatus.SKIPPED),
        (StepStatus.PENDING, StepStatus.CANCELLED),
        (StepStatus.RUNNING, StepStatus.SUCCESS),
        (StepStatus.RUNNING, StepStatus.FAILURE),
        (StepStatus.RUNNING, StepStatus.CANCELLED),
        (StepStatus.RUNNING, StepStatus.ERROR),
    ],
    ids=str,
)
def test_legal_step_transitions(current: StepStatus, requested: StepStatus) -> None:
    check_step_transition(current, requested)


@pytest.mark.parametrize(
    ("current", "requested"),
    [
        (StepStatus.PENDING, StepStatus.SUCCESS),
        (StepStatus.PENDING, StepStatus.FAILURE),
        (StepStatus.RUNNING, StepStatus.PENDING),
        (StepStatus.RUNNING, StepStatus.SKIPPED),
        (StepStatus.SUCCESS, StepStatus.RUNNING),
        (StepStatus.SKIPPED, StepStatus.RUNNING),
    ],
    ids=str,
)
def test_illegal_step_transitions(current: StepStatus, requested: StepStatus) -> None:
    with pytest.raises(IllegalTransition, match=r"^step cannot go from"):
        check_step_transition(current, requested)


def test_what_unfinished_steps_become_when_the_build_ends() -> None:
    assert step_status_for_unfinished(BuildStatus.CANCELLED) is StepStatus.CANCELLED
    assert step_status_for_unfinished(BuildStatus.ERROR) is StepStatus.ERROR
    assert step_status_for_unfinished(BuildStatus.SUCCESS) is StepStatus.SKIPPED
    assert step_status_for_unfinished(BuildStatus.FAILURE) is StepStatus.SKIPPED
