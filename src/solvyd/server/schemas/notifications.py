"""The answer of a test of a job's notification rules (POST /jobs/{id}/notifications/test)."""

from pydantic import BaseModel, ConfigDict, Field


class NotificationTestRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # The rule's index in the job's notifications; null: every rule.
    rule: int | None = Field(default=None, ge=0)


class NotificationTestResult(BaseModel):
    rule: int
    type: str
    # Where it went, in the notifier's words (never a secret).
    target: str
    ok: bool
    # Why it was not delivered (masked); null when it was.
    error: str | None


class NotificationTestAnswer(BaseModel):
    results: list[NotificationTestResult]
