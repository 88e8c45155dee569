"""The agent's options for the kubernetes executor, as typed, until they are settings.

The executor's modules are imported only when an agent runs it (`solvyd agent` stays fast
for the other executors, and client commands never import them)."""

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from solvyd.cli.errors import CliError

if TYPE_CHECKING:
    from solvyd.pipeline.executors.kube_settings import KubernetesSettings


@dataclass(frozen=True)
class KubernetesOptions:
    namespace: str | None = None
    kubeconfig: Path | None = None
    node_selector: str = ""
    tolerations: str = ""
    service_account: str | None = None

    def settings(self, owner: str) -> "KubernetesSettings":
        """The executor's settings; `owner` is the agent's name (a label on its pods)."""
        from solvyd.pipeline.executors.kube_settings import (
            KubernetesSettings,
            SettingsError,
            parse_node_selector,
            parse_tolerations,
        )

        try:
            settings = KubernetesSettings(
                namespace=self.namespace,
                kubeconfig=self.kubeconfig,
                node_selector=parse_node_selector(self.node_selector),
                tolerations=parse_tolerations(self.tolerations),
                service_account=self.service_account,
                owner=owner,
            )
        except SettingsError as exc:
            raise CliError(str(exc)) from None
        return settings
