"""The built-in artifact stores (a local directory, an S3-compatible bucket), registered
through the same hook as a third-party store."""

from solvyd.server.artifacts.base import ArtifactStore
from solvyd.server.artifacts.local import LocalArtifactStore
from solvyd.server.plugins.hookspecs import ArtifactStoreFactory
from solvyd.server.settings import ServerSettings
from solvyd.shared.plugin_host import PLUGIN_API_VERSION, hookimpl

SOLVYD_PLUGIN_API = PLUGIN_API_VERSION


def _local(settings: ServerSettings) -> ArtifactStore:
    return LocalArtifactStore(settings.resolved_artifact_dir())


def _s3(settings: ServerSettings) -> ArtifactStore:
    if not settings.s3_bucket:
        raise ValueError("SOLVYD_S3_BUCKET is required when SOLVYD_ARTIFACT_STORE=s3")
    # boto3 weighs ~10 MB of every server's memory: only a server that stores in S3 loads it.
    from solvyd.server.artifacts.s3 import S3ArtifactStore

    secret = settings.s3_secret_access_key
    return S3ArtifactStore(
        settings.s3_bucket,
        endpoint_url=settings.s3_endpoint_url or None,
        region=settings.s3_region or None,
        access_key_id=settings.s3_access_key_id or None,
        secret_access_key=secret.get_secret_value() if secret else None,
        prefix=settings.s3_prefix,
    )


@hookimpl
def solvyd_artifact_stores() -> dict[str, ArtifactStoreFactory]:
    return {"local": _local, "s3": _s3}
