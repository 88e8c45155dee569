"""The built-in forges, registered through the same hook as a third-party forge."""

from solvyd.server.scm import BUILTIN_FORGES, ForgeProvider
from solvyd.shared.plugin_host import PLUGIN_API_VERSION, hookimpl

SOLVYD_PLUGIN_API = PLUGIN_API_VERSION


@hookimpl
def solvyd_forges() -> list[ForgeProvider]:
    return list(BUILTIN_FORGES)
