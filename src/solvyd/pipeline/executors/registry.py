"""Executors by name, as the agent's ``--executor`` option and capabilities spell them."""

from collections.abc import Callable
from pathlib import Path

from solvyd.pipeline.executors.base import Executor, ExecutorError
from solvyd.pipeline.executors.docker import DockerExecutor
from solvyd.pipeline.executors.fake import FakeExecutor
from solvyd.pipeline.executors.local import LocalExecutor

# A new backend joins by adding one line here (and its name to the contract tests). Only the
# local executor uses the isolation options: containers and pods are their own sandbox.
_Factory = Callable[[Path, str, tuple[Path, ...], tuple[str, ...]], Executor]
_FACTORIES: dict[str, _Factory] = {
    "local": lambda root, isolation, hidden, passthrough: LocalExecutor(
        root, isolation=isolation, hidden_paths=hidden, env_passthrough=passthrough
    ),
    "docker": lambda root, _isolation, _hidden, passthrough: DockerExecutor(
        root, env_passthrough=passthrough
    ),
    "fake": lambda _root, _isolation, _hidden, _passthrough: FakeExecutor(),
}
_TEST_ONLY = frozenset({"fake"})


def executor_names() -> list[str]:
    return list(_FACTORIES)


def create_executor(
    name: str,
    work_root: Path,
    *,
    isolation: str = "auto",
    hidden_paths: tuple[Path, ...] = (),
    env_passthrough: tuple[str, ...] = (),
) -> Executor:
    """A new executor whose builds get their workspaces under ``work_root``; ``isolation``,
    ``hidden_paths`` and ``env_passthrough`` as in ``LocalExecutor``."""
    factory = _FACTORIES.get(name)
    if factory is None:
        known = ", ".join(sorted(_FACTORIES))
        raise ExecutorError(f"unknown executor '{name}' (known: {known})")
    return factory(work_root, isolation, hidden_paths, env_passthrough)


async def available_executors(work_root: Path, *, include_fake: bool = False) -> list[str]:
    """The names of the executors that can run steps on this machine now."""
    names = [name for name in _FACTORIES if include_fake or name not in _TEST_ONLY]
    return [
        name for name in names if await create_executor(name, work_root).check_available() is None
    ]
