"""The notifier contract: what every notification backend implements, built in or a plugin.

A notifier turns one `BuildNotice` into a message for one rule of a job's `notifications`
(email, Slack, a webhook, or a plugin's type). It knows nothing of the database, the job's
secrets store or retries: the sender resolves the secrets a rule names, calls `send` after the
build's transaction committed, and retries a `NotificationError(retryable=True)` with backoff.
Any other exception from a plugin is isolated by the caller, logged with the plugin's name and
recorded on the delivery; it never reaches the build.
"""

import abc
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Literal

import httpx

NoticeEvent = Literal["build.started", "build.finished"]


@dataclass(frozen=True)
class PullRequestNotice:
    number: int
    title: str | None
    source_branch: str | None
    target_branch: str | None
    from_fork: bool


@dataclass(frozen=True)
class BuildNotice:
    """The facts of one build at one moment, already masked: no secret value of the job is in
    any text here (the commit message and log lines included)."""

    event: NoticeEvent
    # The rule word this notice answers: "started", "success", "failure", "error", "fixed"
    # or "cancelled" ("fixed" is a success after a failure or error of the same job and branch).
    outcome: str
    job_id: str
    job_name: str
    build_id: str
    number: int
    status: str
    trigger: str
    branch: str | None
    tag: str | None
    commit_sha: str | None
    commit_message: str | None
    commit_author: str | None
    pull_request: PullRequestNotice | None
    queued_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    duration_seconds: float | None
    error_message: str | None
    # A link to the build's page (from SOLVYD_PUBLIC_URL); None when no public URL is set.
    url: str | None
    # The step that failed first, and its last lines (at most 30), for a failed build.
    failed_step: str | None = None
    log_tail: tuple[str, ...] = ()


class NotificationError(Exception):
    """Sending failed. `retryable`: worth another attempt later (a timeout, a 429 or a 5xx);
    otherwise the delivery fails now (a 4xx, a refused recipient, a missing secret). The
    message is shown on the build: it must carry no secret."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True)
class NotifyContext:
    """What the sender hands a notifier for one delivery."""

    # Shared client; a notifier passes its own timeout per request.
    http: httpx.AsyncClient
    # Seconds one attempt may take in all.
    timeout: float
    # The values of the secrets `secret_names(rule)` named, by name. A name that is not a
    # secret of the job is absent: the notifier says so with a non-retryable error.
    secrets: Mapping[str, str]
    # Unique per delivery and stable across its retries (receivers deduplicate on it).
    delivery_id: str
    # The server's settings a built-in notifier needs (SMTP); plugins read their own.
    settings: Mapping[str, Any] = field(default_factory=dict)


class Notifier(abc.ABC):
    """One notification type. Stateless: one instance serves every rule of its type."""

    # The rule's "type" this notifier serves, e.g. "email", "slack", "webhook".
    type: ClassVar[str]

    @abc.abstractmethod
    def rule_problems(self, rule: Mapping[str, Any]) -> list[str]:
        """What is wrong with this type's own settings in `rule` (the common keys "type", "on"
        and "branches" are checked by the caller), one message per problem; [] when none.
        Called when a job is saved: a problem is a 422 and nothing is saved."""

    def secret_names(self, rule: Mapping[str, Any]) -> list[str]:
        """Names of the job's secrets the rule refers to, resolved by the sender into
        `NotifyContext.secrets`."""
        return []

    def describe_target(self, rule: Mapping[str, Any]) -> str:
        """Where this rule sends, for the build page (no secret: say "Slack (secret
        SLACK_URL)", never the URL)."""
        return self.type

    @abc.abstractmethod
    async def send(self, notice: BuildNotice, rule: Mapping[str, Any], ctx: NotifyContext) -> None:
        """Deliver `notice`. Raise `NotificationError` on failure; return once the receiver
        accepted it."""
