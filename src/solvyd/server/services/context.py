"""What every use case needs: settings, the database, the event hub, the server's keys, the
artifact store, the process's count of failed logins, the worker tokens and login sessions it
verified lately, and its metrics."""

import uuid
from dataclasses import dataclass, field

from solvyd.server.artifacts import ArtifactStore
from solvyd.server.auth.access_tokens import VerifiedSession
from solvyd.server.auth.keys import ServerKeys
from solvyd.server.auth.login_throttle import LoginThrottle
from solvyd.server.auth.verified_tokens import VerifiedTokens
from solvyd.server.auth.worker_tokens import VerifiedWorkerTokens
from solvyd.server.db.session import Database
from solvyd.server.events import EventHub
from solvyd.server.metrics.registry import ServerMetrics
from solvyd.server.settings import ServerSettings


@dataclass
class ServerContext:
    settings: ServerSettings
    db: Database
    events: EventHub
    keys: ServerKeys
    artifacts: ArtifactStore
    login_throttle: LoginThrottle = field(default_factory=LoginThrottle)
    worker_tokens: VerifiedWorkerTokens = field(default_factory=VerifiedWorkerTokens)
    # Login session id -> its user, for the access tokens of the session.
    user_sessions: VerifiedTokens[uuid.UUID, VerifiedSession] = field(
        default_factory=VerifiedTokens
    )
    metrics: ServerMetrics = field(default_factory=ServerMetrics)
