import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class WorkerPluginProvides(BaseModel):
    executors: list[str] = Field(default_factory=list)


class WorkerPluginRead(BaseModel):
    """A plugin the worker's agent reported at registration."""

    name: str
    version: str | None = None
    builtin: bool = False
    provides: WorkerPluginProvides = Field(default_factory=WorkerPluginProvides)
    status: Literal["loaded", "refused", "failed"]
    error: str | None = None


class WorkerRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    hostname: str
    ip: str
    labels: list[str]
    executors: list[str]
    runs_steps_without_image: bool
    concurrency: int
    status: str
    health_status: str
    current_builds: int
    registered_at: datetime
    last_heartbeat: datetime
    plugins: list[WorkerPluginRead] = Field(default_factory=list)


class WorkerList(BaseModel):
    items: list[WorkerRead]


class AssignedBuild(BaseModel):
    """The seed's polling answer: a build assigned to the worker and not yet started."""

    id: uuid.UUID
    job_id: uuid.UUID
    job_name: str
    number: int
    status: str
    scm_url: str | None
    branch: str | None
    commit_sha: str | None
    build_config: dict[str, Any] | None
    queued_at: datetime
    spec: dict[str, Any]


class AssignedBuildList(BaseModel):
    builds: list[AssignedBuild]
