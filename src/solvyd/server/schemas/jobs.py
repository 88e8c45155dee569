import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, computed_field, field_validator

from solvyd.server.cron import (
    DEFAULT_TIMEZONE,
    check_cron,
    check_timezone,
    next_due,
    schedule_key,
)
from solvyd.shared.clock import utcnow

Priority = Annotated[int, Field(ge=-1000, le=1000)]
ConcurrencyLimit = Annotated[int, Field(ge=1, le=10_000)]
JobName = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][\w.\-]*$")]

MAX_SCHEDULES = 20


class Schedule(BaseModel):
    """One time table of a job: each time `cron` comes due (in `timezone`) a build of
    `branch` (default: the job's) starts with `env` on top of the job's."""

    model_config = ConfigDict(extra="forbid")

    cron: Annotated[str, Field(min_length=1, max_length=100, examples=["0 3 * * *"])]
    branch: Annotated[str | None, Field(min_length=1, max_length=255)] = None
    env: dict[str, str] = Field(default_factory=dict)
    timezone: Annotated[str, Field(min_length=1, max_length=64)] = DEFAULT_TIMEZONE

    @field_validator("cron")
    @classmethod
    def _check_cron(cls, value: str) -> str:
        return check_cron(value)

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        return check_timezone(value)


def _distinct(schedules: list[Schedule]) -> list[Schedule]:
    seen: dict[str, int] = {}
    for index, schedule in enumerate(schedules):
        key = schedule_key(schedule.model_dump())
        if key in seen:
            raise ValueError(f"schedule {index} repeats schedule {seen[key]}")
        seen[key] = index
    return schedules


Schedules = Annotated[list[Schedule], Field(max_length=MAX_SCHEDULES), AfterValidator(_distinct)]


class ScheduleRead(BaseModel):
    """A stored schedule and when it next comes due."""

    cron: str
    branch: str | None = None
    env: dict[str, str] = Field(default_factory=dict)
    timezone: str = DEFAULT_TIMEZONE

    @computed_field  # type: ignore[prop-decorator]
    @property
    def next_run_at(self) -> datetime | None:
        try:
            return next_due(self.cron, self.timezone, utcnow())
        except (ValueError, KeyError):  # a time zone the server's tzdata no longer knows
            return None


class JobCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: JobName
    description: str = ""
    scm_url: str | None = None
    branch: str | None = None
    # YAML text, or the same document as an object.
    pipeline: str | dict[str, Any] | None = None
    pipeline_path: str | None = None
    # The seed's one-step form: {"image", "commands", "env", "artifacts"}.
    build_config: dict[str, Any] | None = None
    labels: list[str] = Field(default_factory=list)
    max_retries: Annotated[int, Field(ge=0, le=10)] = 0
    timeout_seconds: Annotated[int | None, Field(ge=1, le=7 * 24 * 3600)] = None
    env: dict[str, str] = Field(default_factory=dict)
    # Higher runs first when agents are scarce.
    priority: Priority = 0
    # At most this many builds of the job hold a worker at once (e.g. 1 for a deploy).
    max_concurrent_builds: ConcurrencyLimit | None = None
    # A new build cancels the job's older queued builds of the same branch.
    cancel_previous: bool = False
    # Builds of pull requests from forks get the job's and global secrets too (default: none).
    secrets_for_forks: bool = False
    # Each comes due at its cron times and starts a build with trigger "cron".
    schedules: Schedules = Field(default_factory=list)
    # GET /badges/{name}.svg answers, without login, the state of the job's last build.
    public_badge: bool = False


class JobUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str | None = None
    scm_url: str | None = None
    branch: str | None = None
    pipeline: str | dict[str, Any] | None = None
    pipeline_path: str | None = None
    build_config: dict[str, Any] | None = None
    labels: list[str] | None = None
    max_retries: Annotated[int | None, Field(ge=0, le=10)] = None
    timeout_seconds: Annotated[int | None, Field(ge=1, le=7 * 24 * 3600)] = None
    env: dict[str, str] | None = None
    priority: Priority | None = None
    max_concurrent_builds: ConcurrencyLimit | None = None
    cancel_previous: bool | None = None
    secrets_for_forks: bool | None = None
    schedules: Schedules | None = None
    public_badge: bool | None = None


class JobRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    description: str
    scm_url: str | None
    branch: str | None
    pipeline: str | None
    pipeline_path: str | None
    build_config: dict[str, Any] | None
    labels: list[str]
    max_retries: int
    timeout_seconds: int | None
    env: dict[str, str]
    priority: int
    max_concurrent_builds: int | None
    cancel_previous: bool
    secrets_for_forks: bool
    schedules: list[ScheduleRead]
    public_badge: bool
    created_at: datetime
    updated_at: datetime

    @computed_field  # type: ignore[prop-decorator]
    @property
    def next_run_at(self) -> datetime | None:
        """The soonest next due time of the job's schedules."""
        times = [s.next_run_at for s in self.schedules if s.next_run_at is not None]
        return min(times, default=None)


class JobList(BaseModel):
    items: list[JobRead]
