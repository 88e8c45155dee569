"""Secrets as the API shows them: names and times, never a value."""

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from solvyd.protocol.messages import ENV_NAME_PATTERN

MAX_VALUE_BYTES = 64 * 1024
SecretName = Annotated[str, Field(min_length=1, max_length=200, pattern=ENV_NAME_PATTERN)]


class SecretWrite(BaseModel):
    """The value is write-only: no answer ever holds it."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    value: str

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
    created_at: datetime
    updated_at: datetime


class SecretList(BaseModel):
    items: list[SecretRead]
