"""Secrets as the API shows them: names and times, never a value."""

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from solvyd.protocol.messages import ENV_NAME_PATTERN

MAX_VALUE_BYTES = 64 * 1024
SecretName = Annotated[str, Field(min_length=1, max_length=200, pattern=ENV_NAME_PATTERN)]
MAX_PROTECTED_BRANCHES = 50


def _branch_glob(value: str) -> str:
    # Git refuses control characters and spaces in branch names: a glob with one would never
    # match, and one that cannot be encoded could not be stored.
    if any(ch.isspace() or not ch.isprintable() for ch in value):
        raise PydanticCustomError(
            "branch_glob", "a branch pattern holds no spaces or control characters"
        )
    # (A lone surrogate is not printable either, so it is refused above.)
    return value


BranchGlob = Annotated[str, Field(min_length=1, max_length=255), AfterValidator(_branch_glob)]


class SecretWrite(BaseModel):
    """The value is write-only: no answer ever holds it."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    value: str
    # Branch globs (`main`, `release/*`): only builds of a matching branch, never of a pull
    # request or a fork, get the value. Omitted: unchanged (none for a new secret); [] makes
    # it unprotected again.
    protected_branches: list[BranchGlob] | None = Field(
        default=None, max_length=MAX_PROTECTED_BRANCHES
    )

    @field_validator("value")
    @classmethod
    def _size(cls, value: str) -> str:
        # Errors say what is wrong, never echo the input (hide_input_in_errors above, too).
        if not value:
            raise PydanticCustomError("empty_secret", "a secret value cannot be empty")
        if len(value.encode()) > MAX_VALUE_BYTES:
            raise PydanticCustomError(
                "secret_too_large",
                "a secret value has at most {limit} bytes",
                {"limit": MAX_VALUE_BYTES},
            )
        return value


class SecretRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    scope: Literal["job", "global"]
    job_id: uuid.UUID | None
    # Empty: unprotected, every build of the scope gets it.
    protected_branches: list[str]
    created_at: datetime
    updated_at: datetime


class SecretList(BaseModel):
    items: list[SecretRead]
