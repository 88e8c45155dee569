"""Build retention's answers: the policy in force and the dry run's counts."""

import uuid

from pydantic import BaseModel


class RetentionLimitsRead(BaseModel):
    """One kind's limits in force; null: not set (that limit removes nothing)."""

    days: float | None
    max_builds: int | None


class RetentionPolicy(BaseModel):
    """The limits in force per kind of build: the server's settings, or for one job those with
    its own retention over them; how often each server looks, and how many builds one
    transaction removes."""

    branch: RetentionLimitsRead
    pull_requests: RetentionLimitsRead
    interval_seconds: float
    batch_size: int


class RetentionCounts(BaseModel):
    builds: int
    artifacts: int
    artifact_bytes: int
    archived_logs: int


class RetentionJobCount(BaseModel):
    job_id: uuid.UUID
    name: str
    builds: int


class RetentionPreview(BaseModel):
    """What a retention run would remove now; nothing is removed."""

    policy: RetentionPolicy
    branch: RetentionCounts
    pull_requests: RetentionCounts
    total: RetentionCounts
    # The jobs with builds to remove, by name.
    jobs: list[RetentionJobCount]
