"""What an executor is made from: the agent's options, and the factory a backend registers."""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from solvyd.pipeline.executors.base import Executor
from solvyd.pipeline.executors.kube_settings import KubernetesSettings


@dataclass(frozen=True)
class ExecutorOptions:
    """The agent's options for its executor; each backend takes the ones that mean something
    to it. Only the local executor isolates (containers and pods are their own sandbox), and
    only the docker executor has a default image (local runs every step on the host)."""

    isolation: str = "auto"
    hidden_paths: tuple[Path, ...] = ()
    default_image: str | None = None
    env_passthrough: tuple[str, ...] = ()
    # The image the container backends run the builtin checkout step in (--checkout-image);
    # None: the backend's default. The local executor runs the agent's own Python instead.
    checkout_image: str | None = None
    # The kubernetes executor's own settings; None: the defaults (default_image and
    # checkout_image above win over theirs).
    kubernetes: KubernetesSettings | None = None


# A backend's constructor: the root under which builds get their workspaces, and the options.
ExecutorFactory = Callable[[Path, ExecutorOptions], Executor]
