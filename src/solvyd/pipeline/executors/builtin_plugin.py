"""The built-in executors, registered through the same hook as a third-party backend."""

from dataclasses import replace
from pathlib import Path

from solvyd.pipeline.executors.base import Executor
from solvyd.pipeline.executors.fake import FakeExecutor
from solvyd.pipeline.executors.kube_settings import KubernetesSettings
from solvyd.pipeline.executors.kubernetes import KubernetesExecutor
from solvyd.pipeline.executors.local import LocalExecutor
from solvyd.pipeline.executors.options import ExecutorFactory, ExecutorOptions
from solvyd.shared.plugin_host import PLUGIN_API_VERSION, hookimpl

SOLVYD_PLUGIN_API = PLUGIN_API_VERSION


@hookimpl
def solvyd_executors() -> dict[str, ExecutorFactory]:
    return {
        "local": lambda root, options: LocalExecutor(
            root,
            isolation=options.isolation,
            hidden_paths=options.hidden_paths,
            env_passthrough=options.env_passthrough,
        ),
        "docker": _docker,
        "kubernetes": _kubernetes,
        # Scripted, for tests of the runtime and the agent; never picked by itself
        # (registry.TEST_ONLY).
        "fake": lambda _root, _options: FakeExecutor(),
    }


def _docker(root: Path, options: ExecutorOptions) -> Executor:
    # The Docker SDK (and requests under it) costs every process that lists the executors, the
    # CLI's and a local agent's, ~5 MB and 180 modules: it is loaded only for a docker agent.
    from solvyd.pipeline.executors.docker import DockerExecutor

    return DockerExecutor(
        root,
        default_image=options.default_image,
        env_passthrough=options.env_passthrough,
        checkout_image=options.checkout_image,
    )


def _kubernetes(_root: Path, options: ExecutorOptions) -> KubernetesExecutor:
    # The pods hold the workspaces: nothing of a build lives under the agent's work root.
    settings = options.kubernetes or KubernetesSettings()
    if options.default_image is not None:
        settings = replace(settings, default_image=options.default_image)
    if options.checkout_image is not None:
        settings = replace(settings, checkout_image=options.checkout_image)
    return KubernetesExecutor(settings, env_passthrough=options.env_passthrough)
