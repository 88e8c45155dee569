"""Executors by name, as the agent's ``--executor`` option and capabilities spell them."""

from collections.abc import Callable
from pathlib import Path

from solvyd.pipeline.executors.base import Executor, ExecutorError
from solvyd.pipeline.executors.docker import DockerExecutor
from solvyd.pipeline.executors.fake import FakeExecutor
from solvyd.pipeline.executors.local import LocalExecutor

# A new backend joins by adding one line here (and its name to the contract tests).
_FACTORIES: dict[str, Callable[[Path], Executor]] = {
    "local": LocalExecutor,
    "docker": DockerExecutor,
    "fake": lambda _work_root: FakeExecutor(),
}
_TEST_ONLY = frozenset({"fake"})


def executor_names() -> list[str]:
    return list(_FACTORIES)


def create_executor(name: str, work_root: Path) -> Executor:
    """A new executor whose builds get their workspaces under ``work_root``."""
    factory = _FACTORIES.get(name)
    if factory is None:
        known = ", ".join(sorted(_FACTORIES))
        raise ExecutorError(f"unknown executor '{name}' (known: {known})")
    return factory(work_root)


async def available_executors(work_root: Path, *, include_fake: bool = False) -> list[str]:
    """The names of the executors that can run steps on this machine now."""
    names = [name for name in _FACTORIES if include_fake or name not in _TEST_ONLY]
    return [
        name for name in names if await create_executor(name, work_root).check_available() is None
    ]
