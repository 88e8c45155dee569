"""The masker of a build's log: the values its job spec says to hide."""

import functools
from typing import Any

from solvyd.shared.redaction import Masker


def build_masker(spec: dict[str, Any]) -> Masker:
    return _masker(tuple(spec.get("mask") or ()))


@functools.lru_cache(maxsize=256)
def _masker(values: tuple[str, ...]) -> Masker:
    # Cached: building one compiles a regex, and every batch of a build asks for the same one.
    # Never mutated after this (no `add`), so sharing it between batches is safe.
    return Masker(values)
