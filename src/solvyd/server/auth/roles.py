"""Roles, what each request needs, and what a token's scopes leave of its owner's role."""

from enum import StrEnum


class Role(StrEnum):
    VIEWER = "viewer"  # reads everything a user may see
    DEVELOPER = "developer"  # and creates/edits jobs, triggers, cancels, retries
    ADMIN = "admin"  # and users, secrets, workers, agent tokens, the audit log

    @property
    def rank(self) -> int:
        return _RANK[self]

    def includes(self, other: "Role") -> bool:
        return self.rank >= other.rank


_RANK = {Role.VIEWER: 0, Role.DEVELOPER: 1, Role.ADMIN: 2}

# A personal API token's scopes cap its owner's role: a "read" token of an admin can only read.
SCOPE_ROLES = {"read": Role.VIEWER, "write": Role.DEVELOPER, "admin": Role.ADMIN}


def role_with_scopes(role: Role, scopes: list[str]) -> Role:
    """The role a token acts with: its owner's, capped by its widest scope."""
    known = [SCOPE_ROLES[s] for s in scopes if s in SCOPE_ROLES]
    widest = max(known, key=lambda r: r.rank, default=Role.VIEWER)
    return role if widest.includes(role) else widest


class Access(StrEnum):
    """Who may call a route; every route declares exactly one (api/deps.py)."""

    PUBLIC = "public"
    VIEWER = "viewer"
    DEVELOPER = "developer"
    ADMIN = "admin"
    WORKER = "worker"  # a registered worker's own token
    AGENT_REGISTRATION = "agent-registration"  # an agent registration token

    @property
    def role(self) -> Role | None:
        return Role(self.value) if self.value in Role.__members__.values() else None
