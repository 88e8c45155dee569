"""Executors by name, as the agent's ``--executor`` option and capabilities spell them."""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from solvyd.pipeline.executors.base import Executor, ExecutorError
from solvyd.pipeline.executors.docker import DockerExecutor
from solvyd.pipeline.executors.fake import FakeExecutor
from solvyd.pipeline.executors.local import LocalExecutor

# A new backend joins by adding one line here (and its name to the contract tests).
_Factory = Callable[[Path, "ExecutorOptions"], Executor]
_FACTORIES: dict[str, _Factory] = {
    "local": lambda root, options: LocalExecutor(
        root,
        isolation=options.isolation,
        hidden_paths=options.hidden_paths,
        env_passthrough=options.env_passthrough,
    ),
    "docker": lambda root, options: DockerExecutor(
        root, default_image=options.default_image, env_passthrough=options.env_passthrough
    ),
    "fake": lambda _root, _options: FakeExecutor(),
}
_TEST_ONLY = frozenset({"fake"})


@dataclass(frozen=True)
class ExecutorOptions:
    """The agent's options for its executor; each backend takes the ones that mean something
    to it. Only the local executor isolates (containers and pods are their own sandbox), and
    only the docker executor has a default image (local runs every step on the host)."""

    isolation: str = "auto"
    hidden_paths: tuple[Path, ...] = ()
    default_image: str | None = None
    env_passthrough: tuple[str, ...] = ()


def executor_names() -> list[str]:
    return list(_FACTORIES)


def create_executor(
    name: str,
    work_root: Path,
    *,
    isolation: str = "auto",
    hidden_paths: tuple[Path, ...] = (),
    default_image: str | None = None,
    env_passthrough: tuple[str, ...] = (),
) -> Executor:
    """A new executor whose builds get their workspaces under ``work_root``; ``isolation``,
    ``hidden_paths`` and ``env_passthrough`` as in ``LocalExecutor``, ``default_image`` as in
    ``DockerExecutor``."""
    factory = _FACTORIES.get(name)
    if factory is None:
        known = ", ".join(sorted(_FACTORIES))
        raise ExecutorError(f"unknown executor '{name}' (known: {known})")
    if default_image is not None and name != "docker":
        raise ExecutorError(
            f"--default-image is for the docker executor; the {name} executor runs every "
            "step on this machine and ignores images"
        )
    options = ExecutorOptions(isolation, hidden_paths, default_image, env_passthrough)
    return factory(work_root, options)


async def available_executors(work_root: Path, *, include_fake: bool = False) -> list[str]:
    """The names of the executors that can run steps on this machine now."""
    names = [name for name in _FACTORIES if include_fake or name not in _TEST_ONLY]
    return [
        name for name in names if await create_executor(name, work_root).check_available() is None
    ]
