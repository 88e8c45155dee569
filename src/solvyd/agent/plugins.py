"""What the agent tells the server of its plugins at registration (the server lists them)."""

from solvyd.pipeline.executors.plugins import executor_plugins
from solvyd.protocol import PluginProvidesReport, PluginReport
from solvyd.protocol.messages import MAX_PLUGIN_ERROR, MAX_REPORTED_PLUGINS


def plugin_reports() -> list[PluginReport]:
    """This process's agent-side plugins, cut to what a registration may carry."""
    return [
        PluginReport(
            name=info.name[:200],
            version=info.version[:100] if info.version else None,
            builtin=info.builtin,
            provides=PluginProvidesReport(
                executors=[name[:100] for name in info.provides.get("executors", [])][:50]
            ),
            status=info.status,
            error=info.error[:MAX_PLUGIN_ERROR] if info.error else None,
        )
        for info in executor_plugins().plugins()[:MAX_REPORTED_PLUGINS]
    ]
