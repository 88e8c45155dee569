"""Server settings: the only place environment variables are read (prefix SOLVYD_)."""

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


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
    access_token_minutes: int = 12 * 60
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
    # Artifacts: "local" keeps them in artifact_dir (default data_dir/artifacts), "s3" in a bucket.
    artifact_store: str = Field(default="local", pattern="^(local|s3)$")
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
    log_format: str = Field(default="console", pattern="^(console|json)$")
    log_level: str = "info"

    @property
    def heartbeat_ttl_seconds(self) -> float:
        return self.heartbeat_interval_seconds * self.heartbeat_ttl_intervals

    def resolved_artifact_dir(self) -> Path:
        return self.artifact_dir or self.data_dir / "artifacts"

    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'solvyd.db').resolve()}"
