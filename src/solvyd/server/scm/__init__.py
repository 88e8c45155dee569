"""Code forges: the provider contract (provider.py), and the four built-in forges' webhooks
parsed (pure functions from (headers, raw body) to normalised events), their signature checks
and commit status requests. No database and no HTTP framework here: the hooks service decides
what the events start, the commit status sender sends the requests. Services find forges
through the plugin manager (`server/plugins`), built-ins and plugins alike."""

from solvyd.server.scm import bitbucket, gitea, github, gitlab
from solvyd.server.scm.event import ForgeEvent, PayloadError
from solvyd.server.scm.provider import ForgeProvider, StatusReport, StatusRequest
from solvyd.server.scm.urls import repository_key

BUILTIN_FORGES: tuple[ForgeProvider, ...] = (
    github.FORGE,
    gitlab.FORGE,
    gitea.FORGE,
    bitbucket.FORGE,
)

__all__ = [
    "BUILTIN_FORGES",
    "ForgeEvent",
    "ForgeProvider",
    "PayloadError",
    "StatusReport",
    "StatusRequest",
    "repository_key",
]
