from datetime import datetime

from pydantic import BaseModel, ConfigDict


class ArtifactRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    size_bytes: int
    sha256: str | None
    content_type: str | None
    created_at: datetime


class ArtifactList(BaseModel):
    items: list[ArtifactRead]
