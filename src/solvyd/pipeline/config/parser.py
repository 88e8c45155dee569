"""Turn pipeline text (or an already-parsed mapping) into a ``PipelineConfig``.

The YAML is composed into a node tree first and the data constructed from that same tree, so a
pydantic error location such as ``('steps', 1, 'commands')`` can be walked back to the node it
came from and reported with its line and column. Whatever the input, the only exception that
leaves ``parse_pipeline`` is ``PipelineError``.
"""

import difflib
from collections.abc import Iterator, Mapping
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from solvyd.pipeline.config.errors import PipelineError, PipelineErrorItem
from solvyd.pipeline.config.models import BuildConfigForm, PipelineConfig, StepConfig

DEFAULT_FILENAME = ".solvyd.yml"
_MERGE_KEY = "<<"

Loc = tuple[int | str, ...]


def parse_pipeline(
    source: str | Mapping[str, Any], filename: str = DEFAULT_FILENAME
) -> PipelineConfig:
    """Parse a pipeline in either form:

    - the seed's ``build_config``: ``{image?, commands, env?, timeout?, artifacts?}``, which
      becomes one step named ``build``;
    - ``{image?, env?, timeout?, artifacts?, steps: [{name, commands, ...}, ...]}``.
    """
    root: yaml.Node | None = None
    if isinstance(source, str):
        root, data = _load_yaml(source, filename)
    else:
        data = source
    if not isinstance(data, Mapping):
        kind = "nothing" if data is None else f"a {_kind(data)}"
        raise PipelineError(
            filename,
            [_item(root, (), "", f"the pipeline must be a mapping of settings, got {kind}")],
        )
    model: type[PipelineConfig | BuildConfigForm] = PipelineConfig
    if "steps" not in data and "commands" in data:
        model = BuildConfigForm
    try:
        parsed = model.model_validate(data)
    except ValidationError as exc:
        items = [_convert(root, model, error) for error in exc.errors()]
        items.sort(key=lambda item: (item.line or 0, item.column or 0))
        raise PipelineError(filename, items) from None
    except RecursionError:
        raise PipelineError(
            filename, [_item(root, (), "", "the pipeline nests too deeply")]
        ) from None
    return parsed.to_pipeline() if isinstance(parsed, BuildConfigForm) else parsed


def _load_yaml(text: str, filename: str) -> tuple[yaml.Node | None, Any]:
    loader: yaml.SafeLoader | None = None
    try:
        loader = yaml.SafeLoader(text)
        root = loader.get_single_node()
        if root is None:
            return None, None
        duplicates = list(_duplicate_keys(root, (), set()))
        if duplicates:
            raise PipelineError(filename, duplicates)
        return root, loader.construct_document(root)
    except yaml.YAMLError as exc:
        raise PipelineError(filename, [_yaml_error(exc, text)]) from None
    except RecursionError:
        raise PipelineError(
            filename, [PipelineErrorItem(None, None, "", "the YAML document nests too deeply")]
        ) from None
    finally:
        if loader is not None:
            loader.dispose()


def _yaml_error(exc: yaml.YAMLError, text: str) -> PipelineErrorItem:
    line = column = None
    message = str(exc)
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        if mark is not None:
            line, column = mark.line + 1, mark.column + 1
        message = ", ".join(part for part in (exc.context, exc.problem) if part) or message
    elif isinstance(exc, yaml.reader.ReaderError):
        before = text[: exc.position]
        line = before.count("\n") + 1
        column = exc.position - (before.rfind("\n") + 1) + 1
        code = exc.character if isinstance(exc.character, int) else ord(exc.character)
        message = f"character U+{code:04X} is not allowed"
    return PipelineErrorItem(line, column, "", f"invalid YAML: {message}")


def _duplicate_keys(node: yaml.Node, loc: Loc, seen: set[int]) -> Iterator[PipelineErrorItem]:
    # PyYAML keeps the last of two equal keys without a word; in a hand-written file the first
    # one is then silently ignored, which is never what its author meant.
    if id(node) in seen:  # aliases may make the tree a graph, even a cyclic one
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        keys: set[str] = set()
        for key, value in node.value:
            if not isinstance(key, yaml.ScalarNode):
                continue
            if key.value in keys and key.value != _MERGE_KEY:
                yield _item(key, (), _field((*loc, key.value)), f"duplicate key '{key.value}'")
            keys.add(key.value)
            yield from _duplicate_keys(value, (*loc, key.value), seen)
    elif isinstance(node, yaml.SequenceNode):
        for index, value in enumerate(node.value):
            yield from _duplicate_keys(value, (*loc, index), seen)


def _convert(
    root: yaml.Node | None, model: type[BaseModel], error: ErrorDetails
) -> PipelineErrorItem:
    loc: Loc = tuple(error["loc"])
    kind = error["type"]
    ctx = error.get("ctx") or {}
    message = error["msg"]
    at_key = False
    if kind == "missing":
        message = "field required"
    elif kind == "extra_forbidden":
        at_key = True
        message = _unknown_field_message(model, loc)
    elif kind == "duplicate_step_name":
        loc = (*loc, int(ctx["index"]), "name")
    else:
        message = message[:1].lower() + message[1:]
    if loc and loc[-1] == "[key]":
        loc, at_key = loc[:-1], True
    return _item(root, loc, _field(loc), message, at_key=at_key)


def _unknown_field_message(model: type[BaseModel], loc: Loc) -> str:
    name = str(loc[-1]) if loc else ""
    if loc == ("commands",):
        return "unknown field (a pipeline with 'steps' lists its commands in each step)"
    owner: type[BaseModel] = StepConfig if len(loc) == 3 and loc[0] == "steps" else model
    close = difflib.get_close_matches(name, list(owner.model_fields), n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return f"unknown field{hint}"


def _item(
    root: yaml.Node | None, loc: Loc, field: str, message: str, *, at_key: bool = False
) -> PipelineErrorItem:
    node = _locate(root, loc, at_key=at_key) if root is not None else None
    if node is None:
        return PipelineErrorItem(None, None, field, message)
    mark = node.start_mark
    return PipelineErrorItem(mark.line + 1, mark.column + 1, field, message)


def _locate(node: yaml.Node, loc: Loc, *, at_key: bool) -> yaml.Node:
    """The deepest node on ``loc``: for a missing field that is the mapping which lacks it."""
    for depth, part in enumerate(loc):
        last = depth == len(loc) - 1
        if isinstance(node, yaml.MappingNode):
            pair = next((p for p in node.value if _scalar(p[0]) == str(part)), None)
            if pair is None:
                return node
            node = pair[0] if (last and at_key) else pair[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if not 0 <= part < len(node.value):
                return node
            node = node.value[part]
        else:
            return node
    return node


def _scalar(node: yaml.Node) -> str | None:
    return node.value if isinstance(node, yaml.ScalarNode) else None


def _field(loc: Loc) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _kind(value: object) -> str:
    if isinstance(value, list | tuple):
        return "list"
    if isinstance(value, str):
        return "string"
    return type(value).__name__
