"""Webhooks from code forges, parsed: pure functions from (headers, raw body) to normalised
events, and each forge's signature check. No database and no HTTP framework here: the hooks
service (server/services/hooks.py) decides what the events start."""

from solvyd.server.scm import bitbucket, gitea, github, gitlab
from solvyd.server.scm.event import Forge, ForgeEvent, PayloadError
from solvyd.server.scm.urls import repository_key

FORGES: dict[str, Forge] = {
    forge.name: forge for forge in (github.FORGE, gitlab.FORGE, gitea.FORGE, bitbucket.FORGE)
}

__all__ = ["FORGES", "Forge", "ForgeEvent", "PayloadError", "repository_key"]
