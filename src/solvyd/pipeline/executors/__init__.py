"""Backends that run steps: the contract (``base``), the backends, and a registry by name."""

from solvyd.pipeline.executors.base import Executor, ExecutorError
from solvyd.pipeline.executors.registry import (
    available_executors,
    create_executor,
    executor_names,
)

__all__ = [
    "Executor",
    "ExecutorError",
    "available_executors",
    "create_executor",
    "executor_names",
]
