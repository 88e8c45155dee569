"""The server's plugin manager: built once at start (`create_app`), then only read, so a
lookup on a hot path is a dict read."""

import functools
from typing import cast

from solvyd.server.artifacts.base import ArtifactStore
from solvyd.server.notify.base import Notifier
from solvyd.server.plugins import builtin_artifact_stores, builtin_forges, builtin_notifiers
from solvyd.server.plugins.hookspecs import ArtifactStoreFactory, ServerHooks
from solvyd.server.scm.provider import ForgeProvider
from solvyd.server.settings import ServerSettings
from solvyd.shared.plugin_host import (
    Builtin,
    Kind,
    PluginHost,
    PluginInfo,
    discover,
    named_by_attribute,
    named_by_key,
)

__all__ = ["ArtifactStoreFactory", "ServerPlugins", "load_server_plugins", "server_plugins"]


def _instance_of(cls: type) -> "functools.partial[object]":
    return functools.partial(_check_instance, cls)


def _check_instance(cls: type, value: object) -> object:
    if not isinstance(value, cls):
        raise TypeError(f"expected a {cls.__name__}, got {type(value).__name__}")
    return value


def _callable(value: object) -> object:
    if not callable(value):
        raise TypeError(f"an artifact store factory must be callable, not {type(value).__name__}")
    return value


KINDS = (
    Kind(
        "notifiers",
        "solvyd_notifiers",
        lambda answer: named_by_attribute(answer, "type", _instance_of(Notifier)),
    ),
    Kind(
        "forges",
        "solvyd_forges",
        lambda answer: named_by_attribute(answer, "name", _instance_of(ForgeProvider)),
    ),
    Kind(
        "artifact_stores", "solvyd_artifact_stores", lambda answer: named_by_key(answer, _callable)
    ),
)

BUILTINS = (
    Builtin("solvyd.notifiers", builtin_notifiers),
    Builtin("solvyd.forges", builtin_forges),
    Builtin("solvyd.artifact_stores", builtin_artifact_stores),
)


class ServerPlugins:
    """What the server's plugins provide, by name."""

    def __init__(self, host: PluginHost) -> None:
        self._host = host

    def plugins(self) -> list[PluginInfo]:
        return self._host.plugins()

    def notifiers(self) -> dict[str, Notifier]:
        return cast("dict[str, Notifier]", self._host.provided("notifiers"))

    def forges(self) -> dict[str, ForgeProvider]:
        return cast("dict[str, ForgeProvider]", self._host.provided("forges"))

    def artifact_stores(self) -> dict[str, ArtifactStoreFactory]:
        return cast("dict[str, ArtifactStoreFactory]", self._host.provided("artifact_stores"))

    def create_artifact_store(self, settings: ServerSettings) -> ArtifactStore:
        """The store `SOLVYD_ARTIFACT_STORE` names."""
        factory = self.artifact_stores().get(settings.artifact_store)
        if factory is None:
            known = ", ".join(sorted(self.artifact_stores()))
            raise ValueError(
                f"SOLVYD_ARTIFACT_STORE={settings.artifact_store} names no artifact store "
                f"(known: {known})"
            )
        store = factory(settings)
        if not isinstance(store, ArtifactStore):
            raise TypeError(f"the {settings.artifact_store} artifact store's factory made no store")
        return store


def load_server_plugins() -> ServerPlugins:
    host = PluginHost(ServerHooks, KINDS, BUILTINS)
    host.load_entry_points(discover())
    return ServerPlugins(host)


@functools.cache
def server_plugins() -> ServerPlugins:
    """This process's server-side plugins: loaded on the first call (`create_app`)."""
    return load_server_plugins()
