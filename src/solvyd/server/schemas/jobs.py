import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from solvyd.server.schemas.secrets import SecretName

Priority = Annotated[int, Field(ge=-1000, le=1000)]
ConcurrencyLimit = Annotated[int, Field(ge=1, le=10_000)]
JobName = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][\w.\-]*$")]


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
    # The name of a secret (the job's or a global one) holding an HTTPS token (`token` or
    # `username:token`) or an SSH private key for the checkout.
    checkout_credentials: SecretName | None = None


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
    # null removes it: the repository is cloned without credentials again.
    checkout_credentials: SecretName | None = None


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
    checkout_credentials: str | None
    created_at: datetime
    updated_at: datetime


class JobList(BaseModel):
    items: list[JobRead]
