"""Executors by name, as the agent's ``--executor`` option and capabilities spell them."""

from pathlib import Path
from typing import cast

from solvyd.pipeline.executors.base import Executor, ExecutorError
from solvyd.pipeline.executors.kube_settings import KubernetesSettings
from solvyd.pipeline.executors.options import ExecutorFactory, ExecutorOptions
from solvyd.pipeline.executors.plugins import executor_plugins

__all__ = [
    "ExecutorOptions",
    "available_executors",
    "create_executor",
    "executor_names",
]

# Never picked by `available_executors` unless asked: scripted backends for tests.
TEST_ONLY = frozenset({"fake"})
# Backends that run steps in containers of the steps' images (and so have a default image).
IMAGE_EXECUTORS = frozenset({"docker", "kubernetes"})


def _factories() -> dict[str, ExecutorFactory]:
    # A backend joins by a plugin's `solvyd_executors` hook (the built-ins' is builtin_plugin).
    return cast("dict[str, ExecutorFactory]", executor_plugins().provided("executors"))


def executor_names() -> list[str]:
    return list(_factories())


def create_executor(
    name: str,
    work_root: Path,
    *,
    isolation: str = "auto",
    hidden_paths: tuple[Path, ...] = (),
    default_image: str | None = None,
    env_passthrough: tuple[str, ...] = (),
    checkout_image: str | None = None,
    kubernetes: KubernetesSettings | None = None,
) -> Executor:
    """A new executor whose builds get their workspaces under ``work_root``; ``isolation``,
    ``hidden_paths`` and ``env_passthrough`` as in ``LocalExecutor``, ``default_image`` as in
    ``DockerExecutor`` (and ``KubernetesExecutor``), ``checkout_image`` as in
    ``ExecutorOptions``, ``kubernetes`` the kubernetes executor's own settings."""
    factories = _factories()
    factory = factories.get(name)
    if factory is None:
        known = ", ".join(sorted(factories))
        raise ExecutorError(f"unknown executor '{name}' (known: {known})")
    if default_image is not None and name not in IMAGE_EXECUTORS:
        raise ExecutorError(
            "--default-image is for the docker and kubernetes executors; the "
            f"{name} executor runs every step on this machine and ignores images"
        )
    options = ExecutorOptions(
        isolation, hidden_paths, default_image, env_passthrough, checkout_image, kubernetes
    )
    try:
        executor = factory(work_root, options)
    except ExecutorError:
        raise
    except Exception as exc:
        # A plugin's backend: its fault is the agent's start failing with its name, not a trace.
        raise ExecutorError(f"the {name} executor could not be made: {exc}") from exc
    if not isinstance(executor, Executor):
        raise ExecutorError(f"the {name} executor's factory made no Executor")
    if getattr(executor, "name", None) != name:
        # The agent advertises `executor.name` (its label and capabilities): it must be the
        # name the build's labels ask for.
        raise ExecutorError(
            f"the {name} executor's factory made an executor named "
            f"{getattr(executor, 'name', None)!r}; its `name` must be {name!r}"
        )
    return executor


async def available_executors(work_root: Path, *, include_fake: bool = False) -> list[str]:
    """The names of the executors that can run steps on this machine now."""
    names = [name for name in _factories() if include_fake or name not in TEST_ONLY]
    return [
        name for name in names if await create_executor(name, work_root).check_available() is None
    ]
