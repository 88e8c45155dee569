"""The build and step state machines: the only place that decides whether a transition is legal.

Transitions are data: a table from each status to the statuses it may move to. Repeating the
current status is accepted by callers as a no-op (a retried report), never as a transition.
"""

from solvyd.protocol import BuildStatus, StepStatus

B = BuildStatus
S = StepStatus

BUILD_TRANSITIONS: dict[BuildStatus, frozenset[BuildStatus]] = {
    # queued -> queued is a lost claim handed back (the assignment is dropped, the status stays).
    B.QUEUED: frozenset({B.RUNNING, B.CANCELLED, B.ERROR}),
    # running -> queued: the worker was lost and the build has retries left.
    B.RUNNING: frozenset({B.SUCCESS, B.FAILURE, B.CANCELLED, B.ERROR, B.QUEUED}),
    B.SUCCESS: frozenset(),
    B.FAILURE: frozenset(),
    B.CANCELLED: frozenset(),
    B.ERROR: frozenset(),
}

STEP_TRANSITIONS: dict[StepStatus, frozenset[StepStatus]] = {
    S.PENDING: frozenset({S.RUNNING, S.SKIPPED, S.CANCELLED, S.ERROR}),
    S.RUNNING: frozenset({S.SUCCESS, S.FAILURE, S.CANCELLED, S.ERROR}),
    S.SUCCESS: frozenset(),
    S.FAILURE: frozenset(),
    S.CANCELLED: frozenset(),
    S.ERROR: frozenset(),
    S.SKIPPED: frozenset(),
}


class IllegalTransition(Exception):
    def __init__(self, kind: str, current: str, requested: str) -> None:
        super().__init__(f"{kind} cannot go from '{current}' to '{requested}'")
        self.current = current
        self.requested = requested


def can_transition_build(current: BuildStatus, requested: BuildStatus) -> bool:
    return requested in BUILD_TRANSITIONS[current]


def check_build_transition(current: BuildStatus, requested: BuildStatus) -> None:
    if not can_transition_build(current, requested):
        raise IllegalTransition("build", current, requested)


def check_step_transition(current: StepStatus, requested: StepStatus) -> None:
    if requested not in STEP_TRANSITIONS[current]:
        raise IllegalTransition("step", current, requested)


def step_status_for_unfinished(build_status: BuildStatus) -> StepStatus:
    """What an unfinished step becomes when its build ends without the agent saying so."""
    if build_status is B.CANCELLED:
        return S.CANCELLED
    if build_status is B.ERROR:
        return S.ERROR
    return S.SKIPPED
