import datetime
import uuid

from pydantic import BaseModel


class JobStats(BaseModel):
    job_id: uuid.UUID
    job_name: str
    # Builds queued in the window, and how the finished ones ended: `failed` counts `failure`
    # and `error` (cancelled builds count in neither).
    builds: int
    succeeded: int
    failed: int
    # succeeded / (succeeded + failed); null with none of either.
    success_rate: float | None
    # Of the succeeded and failed builds that have a duration; null with none.
    median_duration_seconds: float | None
    # The job's newest build, in the window or before it; null when it has none.
    last_status: str | None
    last_build_id: uuid.UUID | None


class DayStats(BaseModel):
    # A UTC date.
    date: datetime.date
    success: int
    # `failure` and `error`.
    failure: int
    # Every other status: cancelled, and builds still queued or running.
    other: int


class Stats(BaseModel):
    # The window: builds queued on the last `days` UTC dates, today included.
    days: int
    # Now, whenever they were queued.
    builds_running: int
    builds_queued: int
    workers_online: int
    # Online workers that run at least one build (as their last heartbeat said).
    workers_busy: int
    workers_draining: int
    workers_offline: int
    # From queued to running, over the builds of the window that started; null with none.
    queue_seconds_p50: float | None
    queue_seconds_p95: float | None
    # Every job, by name, whether it has builds in the window or not.
    jobs: list[JobStats]
    # One entry per date of the window, oldest first.
    daily: list[DayStats]
