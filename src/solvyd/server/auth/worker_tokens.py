"""Worker tokens verified recently (`verified_tokens.py`): an agent's requests, several per
build, are authenticated without a database round trip each. Keyed by the token's digest,
never the token itself; emptied through the event hub's `WORKER_TOKENS` topic."""

import uuid
from dataclasses import dataclass

from solvyd.server.auth.verified_tokens import TTL_SECONDS, VerifiedTokens

__all__ = ["TTL_SECONDS", "VerifiedWorkerTokens", "WorkerIdentity"]


@dataclass(frozen=True, slots=True)
class WorkerIdentity:
    """Who a worker token stands for: all a worker's request needs to know of it."""

    id: uuid.UUID
    name: str


# Token digest -> the worker's identity.
VerifiedWorkerTokens = VerifiedTokens[str, WorkerIdentity]
