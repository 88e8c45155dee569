"""The server's hook specifications. Built-in and third-party plugins implement them alike."""

from collections.abc import Callable

from solvyd.server.artifacts.base import ArtifactStore
from solvyd.server.notify.base import Notifier
from solvyd.server.scm.provider import ForgeProvider
from solvyd.server.settings import ServerSettings
from solvyd.shared.plugin_host import hookspec

# Makes the store `SOLVYD_ARTIFACT_STORE=<name>` selects, from the server's settings (a plugin
# reads its own settings from its own environment variables).
ArtifactStoreFactory = Callable[[ServerSettings], ArtifactStore]


class ServerHooks:
    @hookspec
    def solvyd_notifiers(self) -> list[Notifier]:  # type: ignore[empty-body]
        """Notifiers, one per notification type (`Notifier.type`, a rule's "type")."""

    @hookspec
    def solvyd_forges(self) -> list[ForgeProvider]:  # type: ignore[empty-body]
        """Forge providers, each named by `ForgeProvider.name` (`/hooks/{name}`, a job's
        `forge.type`)."""

    @hookspec
    def solvyd_artifact_stores(self) -> dict[str, ArtifactStoreFactory]:  # type: ignore[empty-body]
        """Artifact stores by the name `SOLVYD_ARTIFACT_STORE` selects."""
