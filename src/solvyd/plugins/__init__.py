"""Solvyd's public API for plugin authors: everything a plugin may use, and nothing more.

A plugin is a module named by an entry point of group ``solvyd.plugins``; the entry point's
name is the plugin's name, its distribution's version the plugin's version. The module
declares the plugin API it is built for, and implements hooks with ``@hookimpl``::

    from solvyd.plugins import PLUGIN_API_VERSION, Notifier, hookimpl

    SOLVYD_PLUGIN_API = "1.0"  # a plugin of another major version is refused

    @hookimpl
    def solvyd_notifiers() -> list[Notifier]:
        return [TeamsNotifier()]

The hooks are those of ``ServerHooks`` (notifiers, forges, artifact stores: loaded by the
server) and ``ExecutorHooks`` (executor backends: loaded by the agent). The contracts a plugin
implements are documented on their classes: ``Executor``, ``Notifier``, ``ForgeProvider``,
``ArtifactStore``. This module imports both the server's and the agent's contracts; Solvyd's
own code never imports it (import-linter checks that), so that neither program loads the
other's code.
"""

from solvyd.pipeline.executors.base import Executor, ExecutorError, WorkspaceFile
from solvyd.pipeline.executors.hookspecs import ExecutorHooks
from solvyd.pipeline.executors.options import ExecutorFactory, ExecutorOptions
from solvyd.protocol.messages import JobSpec, StepSpec
from solvyd.server.artifacts.base import ArtifactNotFound, ArtifactStore, ByteSource
from solvyd.server.notify.base import (
    BuildNotice,
    NotificationError,
    Notifier,
    NotifyContext,
    PullRequestNotice,
)
from solvyd.server.plugins.hookspecs import ArtifactStoreFactory, ServerHooks
from solvyd.server.scm.event import ForgeEvent, PayloadError
from solvyd.server.scm.provider import ForgeProvider, StatusReport, StatusRequest
from solvyd.server.services.builds.origin import PullRequestInfo
from solvyd.server.settings import ServerSettings
from solvyd.shared.plugin_host import PLUGIN_API_VERSION, hookimpl

__all__ = [
    "PLUGIN_API_VERSION",
    "ArtifactNotFound",
    "ArtifactStore",
    "ArtifactStoreFactory",
    "BuildNotice",
    "ByteSource",
    "Executor",
    "ExecutorError",
    "ExecutorFactory",
    "ExecutorHooks",
    "ExecutorOptions",
    "ForgeEvent",
    "ForgeProvider",
    "JobSpec",
    "NotificationError",
    "Notifier",
    "NotifyContext",
    "PayloadError",
    "PullRequestInfo",
    "PullRequestNotice",
    "ServerHooks",
    "ServerSettings",
    "StatusReport",
    "StatusRequest",
    "StepSpec",
    "WorkspaceFile",
    "hookimpl",
]
