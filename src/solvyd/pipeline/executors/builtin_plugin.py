"""The built-in executors, registered through the same hook as a third-party backend."""

from solvyd.pipeline.executors.docker import DockerExecutor
from solvyd.pipeline.executors.fake import FakeExecutor
from solvyd.pipeline.executors.local import LocalExecutor
from solvyd.pipeline.executors.options import ExecutorFactory
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
        "docker": lambda root, options: DockerExecutor(
            root,
            default_image=options.default_image,
            env_passthrough=options.env_passthrough,
            checkout_image=options.checkout_image,
        ),
        # Scripted, for tests of the runtime and the agent; never picked by itself
        # (registry.TEST_ONLY).
        "fake": lambda _root, _options: FakeExecutor(),
    }
