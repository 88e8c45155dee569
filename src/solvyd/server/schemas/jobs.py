import re
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    computed_field,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from solvyd.server.cron import (
    DEFAULT_TIMEZONE,
    check_cron,
    check_timezone,
    next_due,
    schedule_key,
)
from solvyd.server.notify.rules import MAX_RULES, check_rules
from solvyd.server.schemas.builds import GitBranch
from solvyd.server.schemas.secrets import BranchGlob, SecretName
from solvyd.shared.clock import utcnow

Priority = Annotated[int, Field(ge=-1000, le=1000)]
ConcurrencyLimit = Annotated[int, Field(ge=1, le=10_000)]
JobName = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][\w.\-]*$")]

MAX_SCHEDULES = 20

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


class Schedule(BaseModel):
    """One time table of a job: each time `cron` comes due (in `timezone`) a build of
    `branch` (default: the job's) starts with `env` on top of the job's."""

    model_config = ConfigDict(extra="forbid")

    cron: Annotated[str, Field(min_length=1, max_length=100, examples=["0 3 * * *"])]
    branch: GitBranch | None = None
    env: dict[str, str] = Field(default_factory=dict)
    timezone: Annotated[str, Field(min_length=1, max_length=64)] = DEFAULT_TIMEZONE

    @field_validator("cron")
    @classmethod
    def _check_cron(cls, value: str) -> str:
        return check_cron(value)

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        return check_timezone(value)


def _distinct(schedules: list[Schedule]) -> list[Schedule]:
    seen: dict[str, int] = {}
    for index, schedule in enumerate(schedules):
        key = schedule_key(schedule.model_dump())
        if key in seen:
            raise ValueError(f"schedule {index} repeats schedule {seen[key]}")
        seen[key] = index
    return schedules


Schedules = Annotated[list[Schedule], Field(max_length=MAX_SCHEDULES), AfterValidator(_distinct)]


class ScheduleRead(BaseModel):
    """A stored schedule and when it next comes due."""

    cron: str
    branch: str | None = None
    env: dict[str, str] = Field(default_factory=dict)
    timezone: str = DEFAULT_TIMEZONE

    @computed_field  # type: ignore[prop-decorator]
    @property
    def next_run_at(self) -> datetime | None:
        try:
            return next_due(self.cron, self.timezone, utcnow())
        except (ValueError, KeyError):  # a time zone the server's tzdata no longer knows
            return None


TriggerEvent = Literal["push", "tag", "pull_request"]
DEFAULT_TRIGGER_EVENTS: tuple[TriggerEvent, ...] = ("push", "tag", "pull_request")
MAX_GLOBS = 50

# github, gitlab, gitea, bitbucket, or a forge a plugin adds: the service checks that it is
# installed (GET /plugins lists the forges).
ForgeType = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,62}$")]
# Forges whose repositories are owner/repo (GitLab's may sit in nested groups).
OWNER_REPO_FORGES = frozenset({"github", "gitea", "bitbucket"})
# owner/repo; GitLab also group/subgroup/.../repo.
_REPOSITORY = re.compile(r"^[\w.\-]+(/[\w.\-]+)+$")


class ForgeSettings(BaseModel):
    """Where a job's builds report their state on the commit (commit statuses)."""

    model_config = ConfigDict(extra="forbid")

    type: ForgeType
    # The forge's API base URL; default: the public GitHub, GitLab or Bitbucket. Required for
    # Gitea (and for a self-hosted GitLab or GitHub Enterprise).
    api_url: str | None = Field(default=None, max_length=500)
    # owner/repo (GitLab: group/.../project); default: read from the job's scm_url.
    repository: str | None = Field(default=None, max_length=500)
    # The name of a secret (the job's, or a global one) holding the forge's API token.
    token_secret: str = Field(max_length=200)

    @field_validator("api_url")
    @classmethod
    def _check_api_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("api_url must be an http:// or https:// URL")
        if parts.query or parts.fragment or parts.username or parts.password:
            raise ValueError("api_url must have no query, fragment or credentials")
        return value.strip().rstrip("/")

    @field_validator("repository")
    @classmethod
    def _check_repository(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip().strip("/").removesuffix(".git")
        if not _REPOSITORY.match(value):
            raise ValueError("repository must look like owner/repo")
        return value

    @field_validator("token_secret")
    @classmethod
    def _check_token_secret(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("token_secret must name the secret holding the forge's token")
        return value.strip()

    @model_validator(mode="after")
    def _check_forge(self) -> "ForgeSettings":
        if self.type == "gitea" and self.api_url is None:
            raise ValueError("a gitea forge needs its api_url (there is no public default)")
        if self.type in OWNER_REPO_FORGES and self.repository and self.repository.count("/") != 1:
            raise ValueError(f"a {self.type} repository is owner/repo, nothing more")
        return self


def _path_glob(value: str) -> str:
    if any(not ch.isprintable() for ch in value):
        raise PydanticCustomError("path_glob", "a path pattern holds no control characters")
    return value


PathGlob = Annotated[str, Field(min_length=1, max_length=500), AfterValidator(_path_glob)]
# Write-only: no answer holds it (JobRead says only whether one is set).
WebhookSecret = Annotated[str, Field(min_length=8, max_length=256)]


def _notification_rules(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each rule's common keys and its type's own settings checked (notify/rules.py), `on`
    and `branches` filled in; every problem named by the rule's index and key."""
    checked, problems = check_rules(rules)
    if problems:
        raise PydanticCustomError(
            "notification_rule", "{problems}", {"problems": "; ".join(map(str, problems))}
        )
    return checked


# [{"type", "on"?, "branches"?, ...the type's own settings}] (docs/notifications.md).
NotificationRules = Annotated[
    list[dict[str, Any]], Field(max_length=MAX_RULES), AfterValidator(_notification_rules)
]


# A job's retention field set to this removes no build by that limit, whatever the server's
# settings say.
UNLIMITED = "unlimited"
# Strict: a number is a JSON number (no "5", no 5.0, no true).
RetentionDays = Annotated[StrictInt, Field(ge=1, le=36500)]
RetentionMaxBuilds = Annotated[StrictInt, Field(ge=1, le=1_000_000)]


class RetentionLimits(BaseModel):
    """How long finished builds of one kind are kept (docs/running.md, Build retention): a
    build goes once it breaks any limit that is set. null (or absent): the server's setting;
    "unlimited": no limit for this job, whatever the server's setting."""

    model_config = ConfigDict(extra="forbid")

    # Finished more than this many days ago.
    days: RetentionDays | Literal["unlimited"] | None = None
    # Older than the newest this many finished builds (of the job, of the kind).
    max_builds: RetentionMaxBuilds | Literal["unlimited"] | None = None


class JobRetention(RetentionLimits):
    """A job's own retention: `days` and `max_builds` for its branch builds (push, tag,
    manual, cron ...), and `pull_requests` for its pull-request builds (whose fields not set
    follow the server's pull-request settings, else the branch builds' limits)."""

    pull_requests: RetentionLimits | None = None


class WebhookFields(BaseModel):
    """A job's webhook settings (docs/forges.md), in JobCreate and JobUpdate."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    @field_validator("webhook_secret", check_fields=False)
    @classmethod
    def _printable(cls, value: str | None) -> str | None:
        if value is not None and any(not ch.isprintable() or ch.isspace() for ch in value):
            raise PydanticCustomError(
                "webhook_secret", "a webhook secret holds no spaces or control characters"
            )
        return value

    @field_validator("trigger_events", check_fields=False)
    @classmethod
    def _unique(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else list(dict.fromkeys(value))


class JobCreate(WebhookFields, _ForkSecretsByEitherName):
    name: JobName
    description: str = ""
    scm_url: str | None = None
    branch: GitBranch | None = None
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
    # A new build cancels the job's older queued builds of its kind (event, fork or not, pull
    # request, tag) and branch.
    cancel_previous: bool = False
    # Builds of pull requests from forks get the job's and global secrets too (default: none).
    secrets_for_forks: bool = Field(default=False, validation_alias=FORK_SECRETS)
    # Builds of pull requests from forks wait for a developer's approval before they run.
    fork_approval: bool = False
    # Report each build's state on its commit at this forge; None: nowhere.
    forge: ForgeSettings | None = None
    webhook_secret: WebhookSecret | None = None
    trigger_events: list[TriggerEvent] = Field(
        default_factory=lambda: list(DEFAULT_TRIGGER_EVENTS), max_length=3
    )
    # Globs (`*` matches `/` too, like `when.branch`); empty: every branch. A pull request is
    # matched by its target branch.
    branches: list[BranchGlob] = Field(default_factory=list, max_length=MAX_GLOBS)
    # Globs of changed files (`*` within a directory, `**` across them); empty: any change.
    paths: list[PathGlob] = Field(default_factory=list, max_length=MAX_GLOBS)
    # Each comes due at its cron times and starts a build with trigger "cron".
    schedules: Schedules = Field(default_factory=list)
    # GET /badges/{name}.svg answers, without login, the state of the job's last build.
    public_badge: bool = False
    # The name of a secret (the job's or a global one) holding an HTTPS token (`token` or
    # `username:token`) or an SSH private key for the checkout.
    checkout_credentials: SecretName | None = None
    # Who hears of its builds: email, Slack, webhook (or a plugin's type) rules.
    notifications: NotificationRules = Field(default_factory=list)
    # How long its finished builds are kept; None: as the server's settings say.
    retention: JobRetention | None = None


class JobUpdate(WebhookFields, _ForkSecretsByEitherName):
    description: str | None = None
    scm_url: str | None = None
    branch: GitBranch | None = None
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
    # null removes it.
    forge: ForgeSettings | None = None
    # null removes the secret.
    webhook_secret: WebhookSecret | None = None
    trigger_events: list[TriggerEvent] | None = Field(default=None, max_length=3)
    branches: list[BranchGlob] | None = Field(default=None, max_length=MAX_GLOBS)
    paths: list[PathGlob] | None = Field(default=None, max_length=MAX_GLOBS)
    schedules: Schedules | None = None
    public_badge: bool | None = None
    # null removes it: the repository is cloned without credentials again.
    checkout_credentials: SecretName | None = None
    # The whole list, replacing the job's ([] removes every rule).
    notifications: NotificationRules | None = None
    # The whole policy, replacing the job's; null: the server's settings alone.
    retention: JobRetention | None = None


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
    forge: ForgeSettings | None = None
    has_webhook_secret: bool
    trigger_events: list[str]
    branches: list[str]
    paths: list[str]
    schedules: list[ScheduleRead]
    public_badge: bool
    fork_approval: bool
    checkout_credentials: str | None
    notifications: list[dict[str, Any]] = Field(default_factory=list)
    retention: JobRetention | None = None
    created_at: datetime
    updated_at: datetime

    @computed_field  # type: ignore[prop-decorator]
    @property
    def next_run_at(self) -> datetime | None:
        """The soonest next due time of the job's schedules."""
        times = [s.next_run_at for s in self.schedules if s.next_run_at is not None]
        return min(times, default=None)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def fork_secrets(self) -> bool:
        return self.secrets_for_forks


class JobList(BaseModel):
    items: list[JobRead]
