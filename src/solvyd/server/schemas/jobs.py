import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, computed_field, model_validator
from pydantic_core import PydanticCustomError

Priority = Annotated[int, Field(ge=-1000, le=1000)]
ConcurrencyLimit = Annotated[int, Field(ge=1, le=10_000)]
JobName = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][\w.\-]*$")]


# `fork_secrets` is the setting's name; `secrets_for_forks`, its first name, is still taken.
FORK_SECRETS = AliasChoices("fork_secrets", "secrets_for_forks")


class _ForkSecretsByEitherName(BaseModel):
    @model_validator(mode="before")
    @classmethod
    def _one_name_for_fork_secrets(cls, data: Any) -> Any:
        if isinstance(data, dict) and "fork_secrets" in data and "secrets_for_forks" in data:
            if data["fork_secrets"] != data["secrets_for_forks"]:
                raise PydanticCustomError(
                    "fork_secrets",
                    "fork_secrets and secrets_for_forks are one setting; give it once",
                )
            data = {key: value for key, value in data.items() if key != "secrets_for_forks"}
        return data


class JobCreate(_ForkSecretsByEitherName):
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
    secrets_for_forks: bool = Field(default=False, validation_alias=FORK_SECRETS)
    # Builds of pull requests from forks wait for a developer's approval before they run.
    fork_approval: bool = False


class JobUpdate(_ForkSecretsByEitherName):
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
    secrets_for_forks: bool | None = Field(default=None, validation_alias=FORK_SECRETS)
    fork_approval: bool | None = None


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
    # The same setting under its two names: `fork_secrets`, and the older `secrets_for_forks`.
    secrets_for_forks: bool
    fork_approval: bool
    created_at: datetime
    updated_at: datetime

    @computed_field  # type: ignore[prop-decorator]
    @property
    def fork_secrets(self) -> bool:
        return self.secrets_for_forks


class JobList(BaseModel):
    items: list[JobRead]
