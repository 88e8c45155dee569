import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from solvyd.protocol import BuildStatus, StepStatus
from solvyd.shared.git_names import MAX_REF_NAME_LENGTH, branch_problem, commit_sha_problem


def _git_branch(value: str) -> str:
    problem = branch_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


def _commit_sha(value: str) -> str:
    problem = commit_sha_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


# A branch and a commit reach the agent's git command line: only names git reads as names
# pass (`--upload-pack=...` would be read as an option). See shared/git_names.py.
GitBranch = Annotated[
    str,
    Field(min_length=1, max_length=MAX_REF_NAME_LENGTH, examples=["main"]),
    AfterValidator(_git_branch),
]
CommitSha = Annotated[
    str,
    Field(
        min_length=7,
        max_length=64,
        description="7 to 64 hexadecimal digits",
        examples=["0d1a26e67d8f"],
    ),
    AfterValidator(_commit_sha),
]


class TriggerRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    branch: GitBranch | None = None
    commit_sha: CommitSha | None = None
    env: dict[str, str] = Field(default_factory=dict)


class StepRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    position: int
    status: StepStatus
    exit_code: int | None
    error_message: str | None
    started_at: datetime | None
    completed_at: datetime | None
    # The names of the steps this one waits for (the repository checkout included), so the
    # build can be drawn as a graph.
    depends_on: list[str] = Field(default_factory=list)


class StatusReportRead(BaseModel):
    """The build's state as reported on its commit at the forge (commit statuses)."""

    model_config = ConfigDict(from_attributes=True)

    forge: str
    context: str
    # The build's state this report is about (queued, running, success ...).
    state: str
    # pending (to send, or retrying) | sent | failed
    status: Literal["pending", "sent", "failed"]
    attempts: int
    # Why the last attempt did not succeed; null once sent.
    last_error: str | None
    # The forge's answer to the last attempt (its body cut to 2000 characters).
    response_status: int | None
    response_body: str | None
    updated_at: datetime


class NotificationDeliveryRead(BaseModel):
    """One notification of the build to one rule of its job (docs/notifications.md)."""

    id: uuid.UUID
    # The rule's index in the job's notifications when it was recorded.
    rule: int
    type: str
    # Where it goes, in the notifier's words (never a secret).
    target: str
    event: Literal["build.started", "build.finished"]
    # The `on` word the build answered: started, success, fixed, failure, error, cancelled.
    outcome: str
    # pending (to send, or retrying) | sent | failed
    status: Literal["pending", "sent", "failed"]
    attempts: int
    # Why the last attempt did not succeed (masked); null if none failed.
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None


class PullRequestRead(BaseModel):
    number: int
    title: str
    source_branch: str
    target_branch: str
    # Its head branch lives in another repository than the job's.
    from_fork: bool


class BuildRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    job_id: uuid.UUID
    job_name: str | None = None
    number: int
    status: BuildStatus
    exit_code: int | None
    error_message: str | None
    queued_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    duration_seconds: float | None
    worker_id: uuid.UUID | None
    branch: str | None
    commit_sha: str | None
    # What started it: push, tag, pull_request, cron, manual, retry ...
    trigger: str
    # The event it was planned for (`when.event`, SOLVYD_EVENT): the trigger, but a retry
    # keeps its original's.
    event: str
    tag: str | None = None
    pull_request: PullRequestRead | None = None
    commit_message: str | None = None
    commit_author: str | None = None
    # A build of a fork's pull request waits for a developer's approval (the job's
    # `fork_approval`); who gave it, by username (null if none was needed, or the user is gone).
    awaiting_approval: bool = False
    approved_by: str | None = Field(
        default=None,
        # Filled in by name; the row's `approved_by` is the user's id.
        validation_alias="approved_by_username",
    )
    approved_at: datetime | None = None
    attempt: int
    labels: list[str]
    # The build this one retries (a manual retry), if any.
    retry_of: uuid.UUID | None
    # An automatic retry waits in the queue until then.
    not_before: datetime | None
    # Why a queued build has not started, when something other than busy agents holds it up:
    # e.g. "no online worker has the labels docker, gpu".
    waiting_reason: str | None = None
    steps: list[StepRead] = Field(default_factory=list)
    # One per forge context the build reports to (empty when its job has no forge).
    status_reports: list[StatusReportRead] = Field(default_factory=list)
    # One per rule of its job that asked to hear of its start or end (empty when none did).
    notifications: list[NotificationDeliveryRead] = Field(default_factory=list)


class BuildList(BaseModel):
    items: list[BuildRead]
    # Pass as `cursor` to get the next (older) page; null on the last page.
    next_cursor: str | None


class LogLineRead(BaseModel):
    seq: int
    step: str | None
    text: str
    ts: datetime | None


class LogPage(BaseModel):
    build_id: uuid.UUID
    status: BuildStatus
    lines: list[LogLineRead]
    # Pass as `after` (and `next_line` as `line`) to read on from here.
    next_after: int
    next_line: int = Field(
        default=0,
        description="0 when the page ended with a whole batch; otherwise the page was cut "
        "within batch `next_after` after this many of its lines: pass it as `line`",
    )
    finished: bool


class CancelResult(BaseModel):
    id: uuid.UUID
    status: BuildStatus


class LogAccepted(BaseModel):
    seq: int
    stored: bool
