"""Where the server finds notifiers, by a rule's `type`: the only lookup the rest of the server
uses, so that plugins' notifiers come in through it too (the plugin manager answers here once
plugins are merged; the built-ins then register through the same hook)."""

from solvyd.server.notify.base import Notifier
from solvyd.server.notify.email import EmailNotifier
from solvyd.server.notify.slack import SlackNotifier
from solvyd.server.notify.webhook import WebhookNotifier

_BUILT_IN: dict[str, Notifier] = {
    notifier.type: notifier for notifier in (EmailNotifier(), SlackNotifier(), WebhookNotifier())
}


def notifier_types() -> list[str]:
    """Every rule `type` some notifier serves, sorted."""
    return sorted(_BUILT_IN)


def notifier_for(type: str) -> Notifier | None:
    return _BUILT_IN.get(type)
