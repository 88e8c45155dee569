"""The built-in notifiers, registered through the same hook as a third-party notifier."""

from solvyd.server.notify.base import Notifier
from solvyd.server.notify.email import EmailNotifier
from solvyd.server.notify.slack import SlackNotifier
from solvyd.server.notify.webhook import WebhookNotifier
from solvyd.shared.plugin_host import PLUGIN_API_VERSION, hookimpl

SOLVYD_PLUGIN_API = PLUGIN_API_VERSION


@hookimpl
def solvyd_notifiers() -> list[Notifier]:
    return [EmailNotifier(), SlackNotifier(), WebhookNotifier()]
