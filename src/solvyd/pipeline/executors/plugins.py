"""The agent's plugin manager: built once, on first use (the agent's start), then read."""

import functools

from solvyd.pipeline.executors import builtin_plugin
from solvyd.pipeline.executors.hookspecs import ExecutorHooks
from solvyd.shared.plugin_host import Builtin, Kind, PluginHost, discover, named_by_key

BUILTIN_NAME = "solvyd.executors"


def _factory(value: object) -> object:
    if not callable(value):
        raise TypeError(f"an executor factory must be callable, not {type(value).__name__}")
    return value


EXECUTORS = Kind("executors", "solvyd_executors", lambda answer: named_by_key(answer, _factory))


def load_executor_plugins() -> PluginHost:
    host = PluginHost(ExecutorHooks, [EXECUTORS], [Builtin(BUILTIN_NAME, builtin_plugin)])
    host.load_entry_points(discover())
    return host


@functools.cache
def executor_plugins() -> PluginHost:
    """This process's agent-side plugins (the built-in executors and installed ones)."""
    return load_executor_plugins()
