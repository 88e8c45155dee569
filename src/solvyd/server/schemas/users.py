import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from solvyd.server.auth.roles import Role
from solvyd.server.schemas.auth import MAX_PASSWORD_LENGTH, Password

Username = Annotated[
    str, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9._@+\-]*$")
]


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    username: Username
    password: Password
    role: Role = Role.DEVELOPER


class UserUpdate(BaseModel):
    """Only the fields given change. A new password ends the user's login sessions, and so
    does disabling the user."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    role: Role | None = None
    disabled: bool | None = None
    password: Password | None = None


class PasswordChange(BaseModel):
    """A signed-in user's new password, with the current one as proof."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    current_password: str = Field(max_length=MAX_PASSWORD_LENGTH)
    new_password: Password


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    username: str
    role: Role
    disabled: bool
    created_at: datetime


class UserList(BaseModel):
    items: list[UserRead]
