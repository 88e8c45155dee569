"""Where the server finds notifiers, by a rule's `type`: the only lookup the rest of the server
uses. It asks the plugin manager, through which the built-ins register like any plugin's."""

from solvyd.server.notify.base import Notifier
from solvyd.server.plugins import manager


def notifier_types() -> list[str]:
    """Every rule `type` some notifier serves, sorted."""
    return sorted(manager.server_plugins().notifiers())


def notifier_for(type: str) -> Notifier | None:
    return manager.server_plugins().notifiers().get(type)
