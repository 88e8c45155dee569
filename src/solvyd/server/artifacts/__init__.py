"""Where artifact bytes live: a local directory or an S3-compatible bucket.

The database keeps what an artifact is (`artifacts` rows); a store keeps its bytes under a key
the server makes (never a user's path). The server makes the store `SOLVYD_ARTIFACT_STORE`
names through its plugins (`server/plugins`), where the built-in stores register like a
plugin's. The S3 store (`artifacts.s3`, boto3 and botocore: ~10 MB) is imported only by a
server configured with it.
"""

from solvyd.server.artifacts.base import ArtifactNotFound, ArtifactStore, ByteSource
from solvyd.server.artifacts.local import LocalArtifactStore

__all__ = [
    "ArtifactNotFound",
    "ArtifactStore",
    "ByteSource",
    "LocalArtifactStore",
]
