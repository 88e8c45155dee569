"""Personal API tokens and agent registration tokens. A token's value is in the answer that
creates it and nowhere else: the server keeps only its SHA-256."""

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Scope = Literal["read", "write", "admin"]
ALL_SCOPES: list[Scope] = ["read", "write", "admin"]
TokenName = Annotated[str, Field(min_length=1, max_length=200)]


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: TokenName
    # Each scope allows up to a role: read = viewer, write = developer, admin = admin; the
    # token acts with its owner's role capped by its widest scope.
    scopes: list[Scope] = Field(default_factory=lambda: list(ALL_SCOPES), min_length=1)
    expires_in_days: int = Field(default=90, ge=1, le=3650)

    @field_validator("scopes")
    @classmethod
    def _in_order(cls, scopes: list[Scope]) -> list[Scope]:
        return [scope for scope in ALL_SCOPES if scope in scopes]


class TokenRead(BaseModel):
    id: uuid.UUID
    user_id: uuid.UUID
    name: str
    scopes: list[str]
    created_at: datetime
    expires_at: datetime | None
    # Updated at most once a minute.
    last_used_at: datetime | None
    revoked: bool
    revoked_at: datetime | None


class TokenCreated(TokenRead):
    """Shown once: store `token` now, the server cannot show it again."""

    token: str


class TokenList(BaseModel):
    items: list[TokenRead]


# Labels as the pipeline language writes them (pipeline/config/models.py).
Label = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[\w.:/=\-]+$")]


class AgentTokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: TokenName
    # The labels a worker registered with the token may have, and so claim builds for;
    # omitted or null: any label. A worker registering with another label is refused.
    labels: list[Label] | None = Field(default=None, max_length=100)


class AgentTokenRead(BaseModel):
    id: uuid.UUID
    name: str
    # None: any label.
    labels: list[str] | None
    created_by: uuid.UUID | None
    created_at: datetime
    last_used_at: datetime | None
    revoked: bool
    revoked_at: datetime | None


class AgentTokenCreated(AgentTokenRead):
    """Shown once: give `token` to `solvyd agent` in `SOLVYD_AGENT_TOKEN` or a file named by
    `--token-file`; the server cannot show it again."""

    token: str


class AgentTokenList(BaseModel):
    items: list[AgentTokenRead]
