"""API shapes of environments and deployments (docs/deployments.md)."""

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from solvyd.protocol.messages import DeploymentKind, DeploymentStatus


class KubernetesTargetRead(BaseModel):
    namespace: str
    deployment: str
    container: str | None = None
    image: str


class DeploymentLogLineRead(BaseModel):
    ts: datetime
    text: str


class DeploymentRead(BaseModel):
    id: uuid.UUID
    environment: str
    # Per environment: #1, #2 ...
    number: int
    kind: DeploymentKind
    status: DeploymentStatus
    # Why a waiting deployment waits: "waiting for approval", "waiting for deployment #3 to
    # staging"; None when it does not wait.
    waiting_reason: str | None
    version: str
    # The built-in Kubernetes target; None: the step's script deployed.
    target: KubernetesTargetRead | None
    job_id: uuid.UUID | None
    job_name: str | None
    build_id: uuid.UUID | None
    build_number: int | None
    commit_sha: str | None
    step: str | None
    attempt: int | None
    approval_required: bool
    rollback: str = Field(description="the step's rollback policy: auto or manual")
    # A rollback: the deployment it replaced. Any: the rollback that replaced it.
    rolled_back_from: uuid.UUID | None
    rolled_back_by: uuid.UUID | None
    # Who asked for it (the build's trigger, the user who rolled back, or "solvyd" for the
    # server's automatic rollback; None: a build nobody triggered by hand),
    # who approved or rejected it and when.
    requested_by: str | None
    approved_by: str | None
    approved_at: datetime | None
    created_at: datetime
    queued_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    message: str | None


class DeploymentDetail(DeploymentRead):
    # The server's rollout's progress lines.
    log: list[DeploymentLogLineRead]


class DeploymentList(BaseModel):
    items: list[DeploymentRead]


class CurrentDeployment(BaseModel):
    """What runs in an environment: its latest successful deployment."""

    deployment_id: uuid.UUID
    number: int
    version: str
    job_name: str | None
    build_id: uuid.UUID | None
    build_number: int | None
    commit_sha: str | None
    # Since when it runs there.
    since: datetime | None
    deployed_by: str | None
    approved_by: str | None
    kind: DeploymentKind


class BoundTargetRead(BaseModel):
    """A Kubernetes Deployment that belongs to this environment: its first deployment was
    here, and no other environment's may change it."""

    namespace: str
    deployment: str


class EnvironmentRead(BaseModel):
    name: str
    approval_required: bool
    created_at: datetime
    current: CurrentDeployment | None
    # The deployment running now, if any, and how many wait (approval or their turn).
    running: DeploymentRead | None
    waiting: int
    targets: list[BoundTargetRead]


class EnvironmentList(BaseModel):
    items: list[EnvironmentRead]


class EnvironmentDetail(EnvironmentRead):
    # Newest first; `next_cursor` pages on (None: no more).
    history: list[DeploymentRead]
    next_cursor: str | None


class EnvironmentUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    approval_required: StrictBool


class RollbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # One of the environment's successful deployments; none: the one before the current.
    deployment_id: uuid.UUID | None = None


class RejectRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, Field(max_length=1000)] | None = None
