import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class AuditEventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    # Who: the user's id (null when no user acted) and name at the time; "solvyd" for the
    # server itself.
    actor_id: uuid.UUID | None
    actor_name: str | None
    # The client's address as the server saw it (the proxy's, behind one without
    # --forwarded-allow-ips).
    ip: str | None
    # A dotted verb: "job.create", "build.trigger", "worker.drain", "login", ...
    action: str
    # What it was done to: "job:<id>", "build:<id>", "worker:<id>", "user:<name>", ...
    target: str | None
    outcome: str
    details: dict[str, Any]


class AuditList(BaseModel):
    """Newest first. `next_before_id` is the `before_id` of the next (older) page; null when
    this page is the last."""

    items: list[AuditEventRead]
    next_before_id: int | None
