"""Warnings for unquoted values YAML reads as numbers or booleans where the pipeline wants text.

``PY: [3.10, 3.12]`` is the classic: YAML reads ``3.10`` as the float 3.1, and the step then
runs with ``PY=3.1``. ``0755`` (an octal integer in YAML 1.1), ``1_000``, ``1e3`` and ``yes``
change the same way. The value is kept as YAML read it, converted to text, as it always was
(a pipeline that worked keeps working); the warning shows what was read and how to quote it.
Only a value whose text changed is warned about: ``DEBUG: 1`` or ``PY: 3.12`` stay as written.
"""

import types
import typing
from typing import Any

import yaml
from pydantic import BaseModel

from solvyd.pipeline.config.errors import Loc, PipelineErrorItem, field_name
from solvyd.pipeline.config.models import MatrixConfig

_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"


def text_warnings(root: yaml.Node, model: type[BaseModel]) -> list[PipelineErrorItem]:
    """One warning per plain scalar, at a place ``model`` takes text, whose text YAML changed.

    The walk follows the model's fields, so it goes no deeper than the model does."""
    constructor = yaml.SafeLoader("")
    warnings: list[PipelineErrorItem] = []
    seen: set[int] = set()
    pending: list[tuple[yaml.Node, Loc, Any]] = [(root, (), model)]
    try:
        while pending:
            node, loc, annotation = pending.pop()
            if id(node) in seen:  # an alias: warned about where its anchor is
                continue
            seen.add(id(node))
            if isinstance(node, yaml.ScalarNode):
                if _unwrap(annotation) is str:
                    warning = _changed_text(constructor, node, loc)
                    if warning is not None:
                        warnings.append(warning)
                continue
            for part, child in _children(node):
                inner = _step_into(annotation, part)
                if inner is not None:
                    pending.append((child, (*loc, part), inner))
    finally:
        constructor.dispose()
    warnings.sort(key=lambda item: (item.line or 0, item.column or 0))
    return warnings


def _children(node: yaml.Node) -> list[tuple[int | str, yaml.Node]]:
    if isinstance(node, yaml.MappingNode):
        return [
            (key.value, value)
            for key, value in node.value
            if isinstance(key, yaml.ScalarNode) and key.value != "<<"
        ]
    if isinstance(node, yaml.SequenceNode):
        return list(enumerate(node.value))
    return []


def _changed_text(
    constructor: yaml.SafeLoader, node: yaml.ScalarNode, loc: Loc
) -> PipelineErrorItem | None:
    if node.style is not None or node.tag not in (_INT, _FLOAT, _BOOL):
        return None
    written = node.value
    try:
        value = constructor.construct_object(node)
        # A huge integer (`0x` and 5,000 digits) has no decimal text Python will write.
        read = ("true" if value else "false") if isinstance(value, bool) else str(value)
    except (yaml.YAMLError, ValueError, OverflowError):
        return None
    if isinstance(value, bool):
        if read == written.lower():
            return None
        what = f"the boolean {read}"
    else:
        if read == written:
            return None
        what = f"the number {read}"
    message = f'YAML reads {written} as {what}; quote it to keep it as written: "{written}"'
    mark = node.start_mark
    return PipelineErrorItem(mark.line + 1, mark.column + 1, field_name(loc), message)


def _step_into(annotation: Any, part: int | str) -> Any:
    """The annotation of ``part`` inside a value of ``annotation``, or None if there is none."""
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if annotation is MatrixConfig and part not in ("include", "exclude"):
            # The file writes a matrix's axes at its top; the model holds them under `axes`.
            annotation = _unwrap(MatrixConfig.model_fields["axes"].annotation)
        else:
            info = annotation.model_fields.get(str(part))
            return None if info is None else info.annotation
    origin = typing.get_origin(annotation)
    if origin is list and isinstance(part, int):
        return typing.get_args(annotation)[0]
    if origin is dict and isinstance(part, str):
        return typing.get_args(annotation)[1]
    return None


def _unwrap(annotation: Any) -> Any:
    """``Annotated[X, ...]`` and ``X | None`` as ``X``."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            options = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
            if len(options) != 1:
                return annotation
            annotation = options[0]
        else:
            return annotation
