from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

# Long enough for any passphrase; a bound, so nobody makes the server hash megabytes.
MAX_PASSWORD_LENGTH = 1024
MIN_PASSWORD_LENGTH = 8
Password = Annotated[str, Field(min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH)]


class LoginRequest(BaseModel):
    # A 422 names the field and the problem, never the value typed into it.
    model_config = ConfigDict(hide_input_in_errors=True)

    username: str = Field(max_length=200)
    password: str = Field(max_length=MAX_PASSWORD_LENGTH)


class RefreshRequest(BaseModel):
    model_config = ConfigDict(hide_input_in_errors=True)

    refresh_token: str = Field(max_length=500)


class LoginTokens(BaseModel):
    """`access_token` goes in `Authorization: Bearer` for `expires_in` seconds;
    `refresh_token` gets the next pair from `POST /auth/refresh`, once."""

    access_token: str
    token_type: str = "bearer"  # noqa: S105 - a scheme name, not a secret
    refresh_token: str
    expires_in: int
