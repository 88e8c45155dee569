"""ORM rows. Never returned by the API directly: server/schemas holds the API's shapes."""

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from solvyd.protocol.messages import MAX_STEP_NAME_LENGTH
from solvyd.server.db.types import BigIntId, UTCDateTime
from solvyd.shared.clock import utcnow


class Base(DeclarativeBase):
    metadata = sa.MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: sa.JSON, list[str]: sa.JSON}


# The events a webhook starts builds for, unless the job says otherwise.
DEFAULT_TRIGGER_EVENTS = ("push", "tag", "pull_request")


def _uuid_pk() -> Mapped[uuid.UUID]:
    return mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)


class User(Base):
    __tablename__ = "users"

    id: Mapped[uuid.UUID] = _uuid_pk()
    username: Mapped[str] = mapped_column(sa.String(200), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    role: Mapped[str] = mapped_column(sa.String(20), default="developer")
    disabled: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[uuid.UUID] = _uuid_pk()
    user_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(sa.String(200))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class LoginSession(Base):
    """One login: its refresh token (hashed, rotated on every refresh) and whether it was
    ended. Access tokens name their session, so logout ends them too."""

    __tablename__ = "login_sessions"
    # Ending all of a user's sessions (disable, new password) looks them up by user.
    __table_args__ = (sa.Index("ix_login_sessions_user_id", "user_id"),)

    id: Mapped[uuid.UUID] = _uuid_pk()
    user_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    refresh_token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    refreshed_at: Mapped[datetime | None]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class AgentRegistrationToken(Base):
    """A token agents present to register (besides SOLVYD_AGENT_TOKEN); stored hashed."""

    __tablename__ = "agent_registration_tokens"

    id: Mapped[uuid.UUID] = _uuid_pk()
    name: Mapped[str] = mapped_column(sa.String(200))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    # The labels a worker registered with this token may have and claim; None: any.
    labels: Mapped[list[str] | None] = mapped_column(sa.JSON)


class Secret(Base):
    """A secret value, encrypted at rest. `job_id` None: global, any job's pipeline may ask
    for it; a job's own secret of the same name wins."""

    __tablename__ = "secrets"
    __table_args__ = (
        sa.UniqueConstraint("job_id", "name"),
        # NULLs are distinct in a unique constraint: global names need their own index.
        sa.Index(
            "uq_secrets_global_name",
            "name",
            unique=True,
            postgresql_where=sa.text("job_id IS NULL"),
            sqlite_where=sa.text("job_id IS NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    job_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("jobs.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(sa.String(200))
    ciphertext: Mapped[bytes] = mapped_column(sa.LargeBinary)
    # Branch globs; when any, only builds of those branches (never of a pull request or a
    # fork) get the value, like GitLab's protected variables. Empty: every build of the job.
    protected_branches: Mapped[list[str]] = mapped_column(default=list, server_default="[]")
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class AuditEvent(Base):
    """Who did what: logins, job changes, triggers, cancels, secret, role and token changes."""

    __tablename__ = "audit_events"
    __table_args__ = (
        sa.Index("ix_audit_events_at", "at"),
        # The log pages newest first by id, filtered by action or by actor.
        sa.Index("ix_audit_events_action_id", "action", "id"),
        sa.Index("ix_audit_events_actor_id", "actor_name", "id"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    # Who: a user (by id and name, kept if the user is deleted), or None for the system.
    actor_id: Mapped[uuid.UUID | None]
    actor_name: Mapped[str | None] = mapped_column(sa.String(200))
    ip: Mapped[str | None] = mapped_column(sa.String(64))
    action: Mapped[str] = mapped_column(sa.String(64))
    # What it was done to, e.g. "job:<id>", "user:<name>", "secret:<job>/<name>".
    target: Mapped[str | None] = mapped_column(sa.String(300))
    outcome: Mapped[str] = mapped_column(sa.String(20), default="success")
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Job(Base):
    __tablename__ = "jobs"

    id: Mapped[uuid.UUID] = _uuid_pk()
    name: Mapped[str] = mapped_column(sa.String(200), unique=True)
    description: Mapped[str] = mapped_column(sa.Text, default="")
    scm_url: Mapped[str | None] = mapped_column(sa.Text)
    branch: Mapped[str | None] = mapped_column(sa.String(255))
    # The pipeline as the user wrote it (YAML text); None when it lives in the repository.
    pipeline: Mapped[str | None] = mapped_column(sa.Text)
    pipeline_path: Mapped[str | None] = mapped_column(sa.String(500))
    build_config: Mapped[dict[str, Any] | None]
    labels: Mapped[list[str]] = mapped_column(default=list)
    env: Mapped[dict[str, Any]] = mapped_column(default=dict)
    max_retries: Mapped[int] = mapped_column(default=0)
    timeout_seconds: Mapped[int | None]
    # Claims take higher priorities first; within one, the job with fewer active builds.
    priority: Mapped[int] = mapped_column(default=0, server_default="0")
    # At most this many builds of the job are claimed or running at once; None: no limit.
    max_concurrent_builds: Mapped[int | None]
    # A new build cancels the job's older queued builds of its kind (event, fork or not, pull
    # request, tag) and branch.
    cancel_previous: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # Builds of pull requests from forks get the job's and global secrets only if this is set
    # (the API's `fork_secrets`).
    secrets_for_forks: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # Where builds report their state on the commit (schemas.jobs.ForgeSettings as JSON:
    # type, api_url, repository, token_secret); None: nowhere.
    forge: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    # [{"cron", "branch", "env", "timezone"}] (schemas.jobs.Schedule); each due time starts
    # one build, recorded in schedule_runs.
    schedules: Mapped[list[dict[str, Any]]] = mapped_column(
        sa.JSON, default=list, server_default="[]"
    )
    # When `schedules` last changed: a schedule never runs for a due time before it, so a new
    # or changed schedule starts from then, never with a burst of past due times.
    schedules_since: Mapped[datetime | None]
    # The badge (GET /badges/{name}.svg) answers without login.
    public_badge: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # Builds of pull requests from forks wait in the queue until a developer approves them.
    fork_approval: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # The name of a secret (the job's, else a global one) holding an HTTPS token or an SSH
    # private key for the checkout; None: the repository is cloned without credentials.
    checkout_credentials: Mapped[str | None] = mapped_column(sa.String(200))
    # Who hears of its builds: [{"type", "on", "branches", ...the type's own settings}]
    # (notify/rules.py checks them); each matching rule gets a notification_deliveries row.
    notifications: Mapped[list[dict[str, Any]]] = mapped_column(
        sa.JSON, default=list, server_default="[]"
    )
    # The job's own build retention (schemas.jobs.JobRetention as JSON: days, max_builds,
    # pull_requests); each field it sets replaces the server's (services/builds/retention.py).
    # None: the server's settings alone.
    retention: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    next_build_number: Mapped[int] = mapped_column(default=1)
    # Webhooks (services/hooks.py): the secret that verifies a forge's deliveries, sealed like
    # a secret's value (None: no webhook ever starts a build of the job), the events that
    # start builds, and globs of the branches and changed paths that do.
    webhook_secret_ciphertext: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    trigger_events: Mapped[list[str]] = mapped_column(
        default=lambda: list(DEFAULT_TRIGGER_EVENTS),
        server_default='["push", "tag", "pull_request"]',
    )
    branches: Mapped[list[str]] = mapped_column(default=list, server_default="[]")
    paths: Mapped[list[str]] = mapped_column(default=list, server_default="[]")
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # The user who last created or changed the job (None: the server). Protected secrets go
    # only to builds of a job an admin changed last: whoever changes a job decides what its
    # builds run. No foreign key, so that a deleted user's changes never look like an admin's.
    changed_by: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)

    @property
    def has_webhook_secret(self) -> bool:
        return self.webhook_secret_ciphertext is not None


class ScheduleRun(Base):
    """One due time of one schedule of a job, handled. The unique row decides which server
    process starts its build: whoever inserts it. The newest row per schedule is where the
    next round picks up."""

    __tablename__ = "schedule_runs"
    __table_args__ = (
        sa.UniqueConstraint("job_id", "schedule_key", "due_at"),
        # Deleting a build sets `build_id` to NULL here; found by index, not by a scan.
        sa.Index("ix_schedule_runs_build_id", "build_id"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    job_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("jobs.id", ondelete="CASCADE"))
    # cron.schedule_key of the schedule: its content, so reordering keeps it.
    schedule_key: Mapped[str] = mapped_column(sa.String(64))
    due_at: Mapped[datetime]
    build_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("builds.id", ondelete="SET NULL")
    )
    # Why no build started (the pipeline failed to plan, say).
    error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Worker(Base):
    __tablename__ = "workers"

    id: Mapped[uuid.UUID] = _uuid_pk()
    name: Mapped[str] = mapped_column(sa.String(200), unique=True)
    hostname: Mapped[str] = mapped_column(sa.String(255), default="")
    ip: Mapped[str] = mapped_column(sa.String(64), default="")
    labels: Mapped[list[str]] = mapped_column(default=list)
    executors: Mapped[list[str]] = mapped_column(default=list)
    # Its executor can run a step that names no image (local; docker with a default image).
    runs_steps_without_image: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    concurrency: Mapped[int] = mapped_column(default=1)
    # The plugins its agent reported at registration (protocol.PluginReport, as dicts).
    plugins: Mapped[list[dict[str, Any]]] = mapped_column(
        sa.JSON, default=list, server_default="[]"
    )
    version: Mapped[str] = mapped_column(sa.String(64), default="")
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    # The labels its registration token granted (None: any); claims never go beyond them,
    # whatever `labels` says.
    granted_labels: Mapped[list[str] | None] = mapped_column(sa.JSON)
    # online | offline | draining
    status: Mapped[str] = mapped_column(sa.String(20), default="online")
    health_status: Mapped[str] = mapped_column(sa.String(50), default="healthy")
    current_builds: Mapped[int] = mapped_column(default=0)
    registered_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_heartbeat: Mapped[datetime] = mapped_column(default=utcnow)


class Build(Base):
    __tablename__ = "builds"
    __table_args__ = (
        # Also the index of a job's builds by number (the CLI's job#N, retention's last N).
        sa.UniqueConstraint("job_id", "number"),
        # Lists page newest first by (queued_at, id) (services/builds/read.py): one index per
        # filter, each ending in that order, so a page is one index range whatever the table's
        # size (tests/integration/test_list_plans.py checks the plans on PostgreSQL).
        # Its INCLUDE columns are all GET /stats reads of a window's builds (services/stats.py):
        # PostgreSQL answers it from the index range alone, never from the table's pages.
        sa.Index(
            "ix_builds_queued_at_id",
            "queued_at",
            "id",
            postgresql_include=["job_id", "status", "started_at", "duration_seconds"],
        ),
        # INCLUDE: a job's builds in the statistics' window, read from the index alone.
        sa.Index(
            "ix_builds_job_queued_at",
            "job_id",
            "queued_at",
            "id",
            postgresql_include=["status", "duration_seconds"],
        ),
        sa.Index("ix_builds_status_queued_at", "status", "queued_at", "id"),
        sa.Index("ix_builds_branch_queued_at", "branch", "queued_at", "id"),
        sa.Index("ix_builds_worker_queued_at", "worker_id", "queued_at", "id"),
        sa.Index("ix_builds_worker_status", "worker_id", "status"),
        sa.Index("ix_builds_job_status", "job_id", "status"),
        # Deleting a build sets its retries' `retry_of` to NULL: without this, every delete
        # would scan the table for them.
        sa.Index(
            "ix_builds_retry_of",
            "retry_of",
            postgresql_where=sa.text("retry_of IS NOT NULL"),
            sqlite_where=sa.text("retry_of IS NOT NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    job_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("jobs.id", ondelete="CASCADE"))
    number: Mapped[int]
    status: Mapped[str] = mapped_column(sa.String(20), default="queued")
    branch: Mapped[str | None] = mapped_column(sa.String(255))
    commit_sha: Mapped[str | None] = mapped_column(sa.String(64))
    trigger: Mapped[str] = mapped_column(sa.String(20), default="manual")
    # The event the build was planned for (`when.event`, SOLVYD_EVENT): its trigger, except
    # for a manual retry, which replays its original's event.
    event: Mapped[str] = mapped_column(sa.String(20), default="manual")
    tag: Mapped[str | None] = mapped_column(sa.Text)
    # The pull request it builds: {number, title, source_branch, target_branch, from_fork,
    # head_ref, head_clone_url} (services.builds.origin.PullRequestInfo); None otherwise.
    pull_request: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    commit_message: Mapped[str | None] = mapped_column(sa.Text)
    commit_author: Mapped[str | None] = mapped_column(sa.Text)
    # A fork's build of a job with `fork_approval` waits for a developer's approval; no worker
    # may claim it meanwhile.
    awaiting_approval: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    approved_by: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    approved_at: Mapped[datetime | None]
    # Built from a pull request whose branch lives in another repository (a fork).
    from_fork: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # Its job had a forge when it was queued: its state changes are reported on the commit.
    # Kept on the row so that the dispatch path, which has the build loaded, never looks at
    # the job to know (builds of jobs without a forge cost nothing more).
    reports_status: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # Its job had notification rules when it was queued: its start and end are matched
    # against them. On the row for the same reason as `reports_status`: a build of a job
    # without rules costs no query.
    notifies: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    triggered_by: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    env: Mapped[dict[str, Any]] = mapped_column(default=dict)
    labels: Mapped[list[str]] = mapped_column(default=list)
    # Some step of the plan names no image, so only a worker that runs such steps may claim
    # it. Set at trigger time from the plan; a plan read from the repository is known only
    # after the checkout (False until then).
    needs_step_without_image: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # Attempts that ended in a hand-back to the queue (a worker that could not run the plan):
    # each is an attempt of its own (its log restarts), but no retry of the job's budget.
    hand_backs: Mapped[int] = mapped_column(default=0, server_default=sa.text("0"))
    # The planned job spec (protocol.JobSpec as JSON), fixed at trigger time.
    spec: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # The graph of the plan the agent runs in the current attempt (protocol.StepGraph's
    # steps as JSON: [{"name", "depends_on"}]); None until it reports one (and in older rows).
    step_graph: Mapped[list[dict[str, Any]] | None] = mapped_column(sa.JSON)
    worker_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("workers.id", ondelete="SET NULL")
    )
    attempt: Mapped[int] = mapped_column(default=1)
    # An automatic retry waits in the queue until then (backoff); None: claimable now.
    not_before: Mapped[datetime | None]
    # The build's own timeout (the job's, fixed at trigger), which the server enforces too.
    timeout_seconds: Mapped[float | None]
    # A manual retry points at the build it repeats.
    retry_of: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("builds.id", ondelete="SET NULL")
    )
    queued_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    exit_code: Mapped[int | None]
    error_message: Mapped[str | None] = mapped_column(sa.Text)
    duration_seconds: Mapped[float | None]
    # Bytes of log text stored for the current attempt; past the cap no more is stored and
    # `log_truncated` says so.
    log_bytes: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    log_truncated: Mapped[bool] = mapped_column(default=False)
    # Set once retention moved the log to the artifact store (its rows are then gone).
    log_archive_key: Mapped[str | None] = mapped_column(sa.Text)


class CommitStatusReport(Base):
    """The outbox of commit statuses: the latest state of a build to report on its commit at
    the forge, one row per build and context. A newer state replaces the row's content (and
    bumps `version`), so an unsent older one is never sent after it; the sender claims due
    rows after commit and records the forge's answer."""

    __tablename__ = "commit_status_reports"
    __table_args__ = (
        sa.UniqueConstraint("build_id", "context"),
        sa.Index("ix_commit_status_reports_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    build_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("builds.id", ondelete="CASCADE"))
    # github | gitlab | gitea | bitbucket
    forge: Mapped[str] = mapped_column(sa.String(20))
    # solvyd/<job name>: what the forge shows the status under.
    context: Mapped[str] = mapped_column(sa.String(255))
    commit_sha: Mapped[str] = mapped_column(sa.String(64))
    # The build's state to report: queued | running | success | failure | cancelled | error.
    state: Mapped[str] = mapped_column(sa.String(20))
    description: Mapped[str] = mapped_column(sa.String(255), default="")
    # The link sent (SOLVYD_PUBLIC_URL's build page), recorded when sent; None: none sent.
    target_url: Mapped[str | None] = mapped_column(sa.Text)
    # pending (to send) | sent | failed
    status: Mapped[str] = mapped_column(sa.String(20), default="pending")
    # Bumped with every new state, so a sender's answer for an older one is not taken for it.
    version: Mapped[int] = mapped_column(default=1)
    attempts: Mapped[int] = mapped_column(default=0)
    first_attempt_at: Mapped[datetime | None]
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A sender holds the row until then (its request is in flight); None: nobody does.
    claimed_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    response_status: Mapped[int | None]
    response_body: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class NotificationDelivery(Base):
    """The outbox of notifications: one row per build event and matching rule, recorded in the
    transaction that changed the build; the sender claims due rows after commit. The rule is
    copied in, so that a later edit of the job's rules changes no recorded delivery."""

    __tablename__ = "notification_deliveries"
    __table_args__ = (
        sa.Index("ix_notification_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
        sa.Index("ix_notification_deliveries_build_id", "build_id"),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    build_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("builds.id", ondelete="CASCADE"))
    # The rule's index in the job's rules when it was recorded, and the rule itself.
    rule_index: Mapped[int]
    rule: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    type: Mapped[str] = mapped_column(sa.String(100))
    # Where it goes, as the notifier describes it (never a secret).
    target: Mapped[str] = mapped_column(sa.Text, default="")
    # build.started | build.finished
    event: Mapped[str] = mapped_column(sa.String(20))
    # The `on` word the build answered: started, success, fixed, failure, error, cancelled.
    outcome: Mapped[str] = mapped_column(sa.String(20))
    # pending (to send) | sent | failed
    status: Mapped[str] = mapped_column(sa.String(20), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    first_attempt_at: Mapped[datetime | None]
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A sender holds the row until then (its attempt is in flight); None: nobody does.
    claimed_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]


class BuildStep(Base):
    __tablename__ = "build_steps"
    __table_args__ = (sa.UniqueConstraint("build_id", "name"),)

    id: Mapped[uuid.UUID] = _uuid_pk()
    build_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("builds.id", ondelete="CASCADE"))
    position: Mapped[int]
    name: Mapped[str] = mapped_column(sa.String(MAX_STEP_NAME_LENGTH))
    status: Mapped[str] = mapped_column(sa.String(20), default="pending")
    exit_code: Mapped[int | None]
    error_message: Mapped[str | None] = mapped_column(sa.Text)
    started_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]


class BuildLog(Base):
    """One batch of log lines as the agent sent it: (build, seq) is unique, so a resent batch
    is stored once, and readers page by seq."""

    __tablename__ = "build_logs"
    __table_args__ = (sa.UniqueConstraint("build_id", "seq"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    build_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("builds.id", ondelete="CASCADE"))
    seq: Mapped[int]
    step: Mapped[str | None] = mapped_column(sa.String(MAX_STEP_NAME_LENGTH))
    # [{"text": ..., "ts": iso8601 | null}, ...]
    lines: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON)
    line_count: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class StoreDeletion(Base):
    """An object of a removed build (an artifact, an archived log) still to delete from the
    artifact store: written in the transaction that deletes the build, removed once the
    object is gone. A delete that failed leaves the row for the next round."""

    __tablename__ = "store_deletions"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Artifact(Base):
    __tablename__ = "artifacts"
    __table_args__ = (sa.UniqueConstraint("build_id", "name"),)

    id: Mapped[uuid.UUID] = _uuid_pk()
    build_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("builds.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(sa.String(500))
    size_bytes: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    sha256: Mapped[str | None] = mapped_column(sa.String(64))
    content_type: Mapped[str | None] = mapped_column(sa.String(200))
    storage_key: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Environment(Base):
    """Where a pipeline deploys (`deploy.environment`): made by the first deployment to it, or
    by an admin. One deployment runs in it at a time."""

    __tablename__ = "environments"

    id: Mapped[uuid.UUID] = _uuid_pk()
    name: Mapped[str] = mapped_column(sa.String(63), unique=True)
    # Set by admins: every deployment here waits for a developer's approval (a step's own
    # `approval: required` asks for one too).
    approval_required: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # Deployments are numbered per environment (#1, #2 ...), as people speak of them.
    next_number: Mapped[int] = mapped_column(default=1, server_default=sa.text("1"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class EnvironmentTarget(Base):
    """A Kubernetes Deployment bound to the environment that first deployed it: any other
    environment's deployment to it is refused, so protecting an environment protects what
    it runs (a pipeline names both, and could otherwise reach production's Deployment
    under a new, unprotected environment)."""

    __tablename__ = "environment_targets"
    __table_args__ = (sa.UniqueConstraint("namespace", "deployment"),)

    id: Mapped[uuid.UUID] = _uuid_pk()
    environment_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("environments.id", ondelete="CASCADE")
    )
    namespace: Mapped[str] = mapped_column(sa.String(63))
    deployment: Mapped[str] = mapped_column(sa.String(253))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Deployment(Base):
    """One deployment to an environment: a deploy step's (kind `deploy`), or a rollback that
    redeploys an earlier deployment's version (`rollback` by a user, `auto_rollback` after a
    failed rollout). See services/deployments.py for its states."""

    __tablename__ = "deployments"
    __table_args__ = (
        sa.UniqueConstraint("environment_id", "number"),
        # A step's deployment, once per attempt of its build (rollbacks have no attempt).
        sa.UniqueConstraint("build_id", "step", "attempt"),
        # Also what runs in an environment: its newest succeeded deployment, by finished_at.
        sa.Index(
            "ix_deployments_environment_status",
            "environment_id",
            "status",
            "finished_at",
            "number",
        ),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    environment_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("environments.id", ondelete="CASCADE")
    )
    number: Mapped[int]
    kind: Mapped[str] = mapped_column(sa.String(20), default="deploy")
    status: Mapped[str] = mapped_column(sa.String(20))
    # What was deployed from where; the build's facts are copied so the history outlives it.
    job_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("jobs.id", ondelete="SET NULL"))
    job_name: Mapped[str | None] = mapped_column(sa.String(200))
    build_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("builds.id", ondelete="SET NULL")
    )
    build_number: Mapped[int | None]
    commit_sha: Mapped[str | None] = mapped_column(sa.String(64))
    step: Mapped[str | None] = mapped_column(sa.String(MAX_STEP_NAME_LENGTH))
    attempt: Mapped[int | None]
    version: Mapped[str] = mapped_column(sa.Text)
    # The built-in target (protocol.KubernetesDeployTarget as JSON); None: the step's script.
    target: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    rollback_policy: Mapped[str] = mapped_column(sa.String(10), default="manual")
    rollout_timeout_seconds: Mapped[float] = mapped_column(default=600.0)
    approval_required: Mapped[bool] = mapped_column(default=False)
    # A rollback: the deployment it rolled back (whose version it replaced).
    rolled_back_from: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("deployments.id", ondelete="SET NULL")
    )
    # Set on a deployment once a rollback replaced it.
    rolled_back_by: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)
    requested_by: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    requested_by_name: Mapped[str | None] = mapped_column(sa.String(200))
    approved_by: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    approved_by_name: Mapped[str | None] = mapped_column(sa.String(200))
    approved_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # When it joined its environment's queue (created, or approved): the queue's order.
    queued_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    message: Mapped[str | None] = mapped_column(sa.Text)
    # Progress lines of the server's rollout ({"ts", "text"}), bounded; agents relay them to
    # the step's log.
    log: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)
    # A server process rolling it out holds it until then and renews it; once past, another
    # process takes the rollout over (its first one died).
    lease_until: Mapped[datetime | None]
    # Which process holds the lease (a runner's id): only it renews the lease.
    lease_holder: Mapped[str | None] = mapped_column(sa.String(64))


class Plugin(Base):
    __tablename__ = "plugins"

    id: Mapped[uuid.UUID] = _uuid_pk()
    name: Mapped[str] = mapped_column(sa.String(200), unique=True)
    version: Mapped[str] = mapped_column(sa.String(64), default="")
    enabled: Mapped[bool] = mapped_column(default=True)
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    installed_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookDelivery(Base):
    """One request a forge sent to POST /hooks/{forge}, what came of it, and what it said
    (headers without the secret or signatures; the body). Kept `webhook_retention_days`.

    `dedup_key` (a digest of the forge, the delivery id and the jobs whose secret verified the
    delivery) is set once a job's secret verified it: the same delivery sent again to the same
    jobs then finds this row and creates nothing. A request nobody verified never holds a key,
    so a forged one cannot block the real delivery."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (sa.Index("ix_webhook_deliveries_received_at", "received_at", "id"),)

    id: Mapped[uuid.UUID] = _uuid_pk()
    forge: Mapped[str] = mapped_column(sa.String(20))
    event: Mapped[str | None] = mapped_column(sa.String(200))
    delivery_id: Mapped[str | None] = mapped_column(sa.String(200))
    dedup_key: Mapped[str | None] = mapped_column(sa.String(230), unique=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    # accepted | ignored | rejected
    outcome: Mapped[str] = mapped_column(sa.String(20))
    reason: Mapped[str | None] = mapped_column(sa.Text)
    status_code: Mapped[int]
    # The jobs whose secret verified the delivery, the builds it queued, and why the verified
    # jobs that built nothing did not: [{"job_id", "reason"}].
    job_ids: Mapped[list[str]] = mapped_column(default=list)
    build_ids: Mapped[list[str]] = mapped_column(default=list)
    ignored: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)
    headers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    body: Mapped[str] = mapped_column(sa.Text, default="")
    body_truncated: Mapped[bool] = mapped_column(default=False)
    # A replay (POST /hooks/deliveries/{id}/replay) points at the delivery it repeats.
    replay_of: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("webhook_deliveries.id", ondelete="SET NULL")
    )


class WebhookDeliveryJob(Base):
    """Which jobs a delivery concerned: what the delivery log's job filter reads."""

    __tablename__ = "webhook_delivery_jobs"
    __table_args__ = (sa.Index("ix_webhook_delivery_jobs_job", "job_id", "received_at"),)

    delivery_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), primary_key=True
    )
    job_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True)
    # The delivery's, copied so that a job's page of deliveries is one index range.
    received_at: Mapped[datetime]
