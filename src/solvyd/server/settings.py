"""Server settings: the only place environment variables are read (prefix SOLVYD_)."""

import json
import re
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import Field, IPvAnyNetwork, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from solvyd.server.notify.smtp_url import parse_smtp_url

_ORIGIN = re.compile(r"^https?://[^/?#\s]+$")


class ServerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SOLVYD_", extra="ignore")

    data_dir: Path = Path(".solvyd")
    # Plain sqlite:///path or postgresql://user@host:port/db; empty means SQLite in data_dir.
    database_url: str = ""
    admin_username: str = "admin"
    admin_password: SecretStr | None = None
    # Agents present this to register; empty means one is generated into data_dir/agent-token.
    agent_token: SecretStr | None = None
    # Signs user JWTs; empty means one is generated into data_dir/secret-key.
    secret_key: SecretStr | None = None
    # A login gives a short-lived access token (JWT) and a refresh token that renews it; the
    # refresh token, rotated on every use, keeps the login for this many days at most.
    access_token_minutes: int = Field(default=15, ge=1)
    refresh_token_days: float = Field(default=30.0, gt=0)
    # Failed logins allowed per username and per client address within the window; more get
    # 429 until the oldest leave it. Each server process counts on its own.
    login_failures_per_user: int = Field(default=5, ge=1)
    login_failures_per_ip: int = Field(default=20, ge=1)
    login_failure_window_seconds: float = Field(default=300.0, gt=0)
    heartbeat_interval_seconds: float = 10.0
    # A worker silent for this many heartbeat intervals is offline and its builds are lost.
    heartbeat_ttl_intervals: float = 3.0
    reaper_interval_seconds: float = 5.0
    # An automatic retry of an infrastructure error waits this long, doubling per attempt.
    retry_backoff_seconds: float = Field(default=10.0, ge=0)
    retry_backoff_max_seconds: float = Field(default=300.0, ge=0)
    # The server ends a running build this long after its timeout if its agent has not.
    build_timeout_grace_seconds: float = Field(default=60.0, ge=0)
    max_claim_wait_seconds: float = 60.0
    # Artifacts: "local" keeps them in artifact_dir (default data_dir/artifacts), "s3" in a
    # bucket; a plugin may add another (checked against the plugins at start).
    artifact_store: str = Field(default="local", pattern=r"^[a-z0-9][a-z0-9_.-]{0,62}$")
    artifact_dir: Path | None = None
    max_artifact_bytes: int = Field(default=1024**3, ge=1)
    # A build's log stops being stored past this many bytes (a marker line says so).
    max_log_bytes: int = Field(default=100 * 1024**2, ge=1024)
    s3_bucket: str = ""
    s3_endpoint_url: str = ""  # empty: AWS; set it for MinIO and other S3-compatible stores
    s3_region: str = ""
    s3_access_key_id: str = ""  # empty: boto3's usual chain (env, config files, instance role)
    s3_secret_access_key: SecretStr | None = None
    s3_prefix: str = ""  # keys are prefixed with this inside the bucket
    # Build logs finished longer ago than this move to the artifact store (logs/<build id>.jsonl.gz)
    # and leave the database; 0 keeps logs in the database forever.
    log_retention_days: float = Field(default=30.0, ge=0)
    log_archive_interval_seconds: float = Field(default=3600.0, gt=0)
    # Build retention (docs/running.md): finished builds go, with their steps, logs, archived
    # logs and artifacts, once they finished more than `build_retention_days` ago or are
    # older than the newest `build_retention_max_builds` finished builds of their job. The
    # `pr_` pair is for pull-request builds (0: as the branch builds). 0 keeps builds forever;
    # a job's own `retention` replaces each value it sets.
    build_retention_days: float = Field(default=0.0, ge=0, le=36500)
    build_retention_max_builds: int = Field(default=0, ge=0, le=1_000_000)
    pr_build_retention_days: float = Field(default=0.0, ge=0, le=36500)
    pr_build_retention_max_builds: int = Field(default=0, ge=0, le=1_000_000)
    # Each server process looks this often; builds go this many at a time, one short
    # transaction each, so the API never waits on a long delete.
    retention_interval_seconds: float = Field(default=3600.0, gt=0)
    retention_batch_size: int = Field(default=100, ge=1, le=10_000)
    # Each server process looks for due schedules at least this often (and sleeps until the
    # soonest due time when that is sooner); a new or changed schedule is seen within it.
    schedule_interval_seconds: float = Field(default=15.0, gt=0)
    log_format: str = Field(default="console", pattern="^(console|json)$")
    # GET /metrics (docs/metrics.md): open on the API port by default. With a token, scrapers
    # must send `Authorization: Bearer <token>`; with a port, it is served there (on the
    # API's host) instead, and the API port answers 404 for it.
    metrics_token: SecretStr | None = None
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    log_level: str = "info"
    # Browser origins (scheme://host[:port]) whose pages may call the API (CORS), as a
    # comma-separated list or a JSON array. Empty: no CORS headers, only same-origin pages.
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # A request body larger than this is refused with 413; the artifact upload streams under
    # its own limit, max_artifact_bytes.
    max_request_bytes: int = Field(default=10 * 1024**2, ge=1)
    # POST /hooks/{forge} takes bodies up to this (a forge's push of many commits is large:
    # GitHub caps its payloads at 25 MiB); its deliveries are kept this many days.
    max_webhook_bytes: int = Field(default=25 * 1024**2, ge=1)
    webhook_retention_days: float = Field(default=30.0, gt=0)
    webhook_prune_interval_seconds: float = Field(default=3600.0, gt=0)
    # The built web UI (`npm run build` in web/); unset: the one the installed wheel carries,
    # else web/dist of this source tree.
    web_dir: Path | None = None
    # Reverse proxies (addresses or networks, comma-separated) whose X-Forwarded-For names the
    # client, for the login throttle and the audit log. Empty: the address of the connection,
    # whatever a header says. (uvicorn's own --forwarded-allow-ips is switched off.)
    trusted_proxies: Annotated[list[IPvAnyNetwork], NoDecode] = Field(default_factory=list)
    # Where users reach this server (http(s)://host[:port][/path], no query): commit statuses
    # link to <public_url>/builds/<id>. Empty: they carry no link.
    public_url: str = ""
    # Commit statuses: each request's timeout; retries (timeouts, 429, 5xx) back off from
    # `commit_status_backoff_seconds`, doubling up to the max, for this long after the first
    # attempt, then the report is failed.
    commit_status_timeout_seconds: float = Field(default=10.0, gt=0)
    commit_status_backoff_seconds: float = Field(default=2.0, gt=0)
    commit_status_backoff_max_seconds: float = Field(default=60.0, gt=0)
    commit_status_retry_seconds: float = Field(default=600.0, ge=0)
    # The sender is woken by every report recorded in this process; it looks anyway this often
    # (for reports recorded by another server process, and for retries that fell due).
    commit_status_poll_seconds: float = Field(default=10.0, gt=0)
    # Email notifications (docs/notifications.md): smtp://[user@]host[:port][?starttls=required]
    # or smtps://[user@]host[:port]; the sender's address; the user's password (never in the
    # URL, never logged); a CA bundle to check the SMTP server's certificate with (default: the
    # system's). Empty URL or sender: email rules fail with a message saying so.
    smtp_url: str = ""
    smtp_from: str = ""
    smtp_password: SecretStr | None = None
    # Or the name of a global secret holding it (`solvyd secrets set NAME`), so the password is
    # kept encrypted with the others rather than in the server's environment. The environment's
    # password wins when both are set.
    smtp_password_secret: str = ""
    smtp_ca_file: Path | None = None
    # The hosts Slack rules' webhook URLs may name (comma-separated); https only, but plain
    # http to a loopback address (a local test receiver).
    slack_webhook_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["hooks.slack.com"]
    )
    # Notifications: each attempt's timeout; retries (timeouts, 429, 5xx, a notifier's
    # retryable error) back off from `notification_backoff_seconds`, doubling up to the max,
    # for `notification_retry_seconds` after the first attempt, then the delivery is failed.
    notification_timeout_seconds: float = Field(default=15.0, gt=0)
    notification_backoff_seconds: float = Field(default=5.0, gt=0)
    notification_backoff_max_seconds: float = Field(default=300.0, gt=0)
    notification_retry_seconds: float = Field(default=1800.0, ge=0)
    # Woken by every delivery recorded in this process; looks anyway this often.
    notification_poll_seconds: float = Field(default=10.0, gt=0)
    # The built-in Kubernetes deploy target (docs/deployments.md): the cluster's kubeconfig,
    # or the service account of the pod the server runs in. Neither: kubernetes deploy steps
    # fail saying so.
    deploy_kubeconfig: Path | None = None
    deploy_in_cluster: bool = False
    # Each server looks for deployments to start (and rollouts whose server died) this often,
    # besides being woken by every change it makes itself; a rollout's status is read every
    # `deploy_rollout_poll_seconds`. A rollout is held by one server for
    # `deploy_lease_seconds` at a time, renewed while it runs.
    deploy_poll_seconds: float = Field(default=2.0, gt=0)
    deploy_rollout_poll_seconds: float = Field(default=1.0, gt=0)
    deploy_lease_seconds: float = Field(default=30.0, gt=0)

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @field_validator("slack_webhook_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip().lower() for part in value.split(",") if part.strip()]
        return value

    @field_validator("smtp_url")
    @classmethod
    def _check_smtp_url(cls, value: str) -> str:
        value = value.strip()
        if value:
            try:
                parse_smtp_url(value)
            except ValueError as exc:
                raise ValueError(f"SOLVYD_SMTP_URL {exc}") from None
        return value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("cors_origins")
    @classmethod
    def _check_origins(cls, origins: list[str]) -> list[str]:
        # A browser sends the origin without a path or trailing slash; one written with them
        # would never match, so refuse it at start instead of failing silently.
        for origin in origins:
            if origin != "*" and not _ORIGIN.match(origin):
                raise ValueError(f"{origin!r} is no origin: write scheme://host[:port]")
        return origins

    @field_validator("public_url")
    @classmethod
    def _check_public_url(cls, value: str) -> str:
        value = value.strip()
        if not value:
            return ""
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{value!r} is no http(s) URL: write https://host[:port][/path]")
        if parts.query or parts.fragment or parts.username or parts.password:
            raise ValueError(f"{value!r}: the public URL takes no query, fragment or credentials")
        return value.rstrip("/")

    @property
    def heartbeat_ttl_seconds(self) -> float:
        return self.heartbeat_interval_seconds * self.heartbeat_ttl_intervals

    def resolved_artifact_dir(self) -> Path:
        return self.artifact_dir or self.data_dir / "artifacts"

    def resolved_web_dir(self) -> Path:
        """SOLVYD_WEB_DIR; else the UI an installed wheel carries (hatch_build.py puts it in
        the package); else this source tree's web/dist (`make web`)."""
        if self.web_dir is not None:
            return self.web_dir
        package = Path(__file__).resolve().parents[1]
        packaged = package / "web"
        if (packaged / "index.html").is_file():
            return packaged
        return package.parents[1] / "web" / "dist"

    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'solvyd.db').resolve()}"
