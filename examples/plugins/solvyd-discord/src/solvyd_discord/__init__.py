"""solvyd-discord: build notifications to Discord, a Solvyd plugin.

Solvyd loads this module through its entry point (group `solvyd.plugins`, name `discord`),
checks `SOLVYD_PLUGIN_API` against its own plugin API and calls the hooks below.
"""

from solvyd.plugins import Notifier, hookimpl

from solvyd_discord.notifier import DiscordNotifier

# The plugin API this plugin is written for: a Solvyd of another major version refuses it.
SOLVYD_PLUGIN_API = "1.0"

__all__ = ["SOLVYD_PLUGIN_API", "DiscordNotifier", "solvyd_notifiers"]


@hookimpl
def solvyd_notifiers() -> list[Notifier]:
    return [DiscordNotifier()]
