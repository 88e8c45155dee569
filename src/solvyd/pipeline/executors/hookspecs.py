"""The agent's hook specification: executor backends. Built-in and third-party plugins
implement it alike (`builtin_plugin.py` is the built-ins' plugin)."""

from solvyd.pipeline.executors.options import ExecutorFactory
from solvyd.shared.plugin_host import hookspec


class ExecutorHooks:
    @hookspec
    def solvyd_executors(self) -> dict[str, ExecutorFactory]:  # type: ignore[empty-body]
        """Executor backends by name, as `solvyd agent --executor NAME` spells them. Each
        factory makes a new executor (the contract of `pipeline/executors/base.py`) whose
        builds get their workspaces under the given root."""
