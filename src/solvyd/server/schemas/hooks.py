"""Webhook answers and the delivery log, as the API shows them."""

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict


class HookBuild(BaseModel):
    id: uuid.UUID
    job_id: uuid.UUID
    number: int


class HookIgnored(BaseModel):
    job_id: uuid.UUID
    reason: str


class HookAnswer(BaseModel):
    """The answer to a delivery (202; a ping 200): the builds it queued, and why each verified
    job that queued none did not. A redelivery answers the first delivery's builds."""

    # The forge's delivery id (None when the forge sent none).
    delivery_id: str | None
    builds: list[HookBuild]
    ignored: list[HookIgnored]


class DeliveryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    forge: str
    # The event header's value (X-GitHub-Event, X-Gitlab-Event, X-Gitea-Event, X-Event-Key).
    event: str | None
    delivery_id: str | None
    received_at: datetime
    outcome: Literal["accepted", "ignored", "rejected"]
    reason: str | None
    status_code: int
    job_ids: list[uuid.UUID]
    build_ids: list[uuid.UUID]
    ignored: list[HookIgnored]
    # Without the signature and token headers, Authorization and Cookie.
    headers: dict[str, Any]
    body: str
    # The body was cut (a request nobody verified keeps its first 64 KiB).
    body_truncated: bool
    replay_of: uuid.UUID | None


class DeliveryList(BaseModel):
    items: list[DeliveryRead]
    next_cursor: str | None = None
