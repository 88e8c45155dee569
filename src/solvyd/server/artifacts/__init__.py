"""Where artifact bytes live: a local directory or an S3-compatible bucket.

The database keeps what an artifact is (`artifacts` rows); a store keeps its bytes under a key
the server makes (never a user's path). Services pick the store through `create_store`.
"""

from solvyd.server.artifacts.base import ArtifactNotFound, ArtifactStore, ByteSource
from solvyd.server.artifacts.local import LocalArtifactStore
from solvyd.server.artifacts.s3 import S3ArtifactStore
from solvyd.server.settings import ServerSettings

__all__ = [
    "ArtifactNotFound",
    "ArtifactStore",
    "ByteSource",
    "LocalArtifactStore",
    "S3ArtifactStore",
    "create_store",
]


def create_store(settings: ServerSettings) -> ArtifactStore:
    if settings.artifact_store == "s3":
        if not settings.s3_bucket:
            raise ValueError("SOLVYD_S3_BUCKET is required when SOLVYD_ARTIFACT_STORE=s3")
        secret = settings.s3_secret_access_key
        return S3ArtifactStore(
            settings.s3_bucket,
            endpoint_url=settings.s3_endpoint_url or None,
            region=settings.s3_region or None,
            access_key_id=settings.s3_access_key_id or None,
            secret_access_key=secret.get_secret_value() if secret else None,
            prefix=settings.s3_prefix,
        )
    return LocalArtifactStore(settings.resolved_artifact_dir())
