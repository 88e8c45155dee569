"""Turn pipeline text (or an already-parsed mapping) into a ``PipelineConfig``.

The YAML is composed into a node tree first and the data constructed from that same tree, so a
pydantic error location such as ``('steps', 1, 'commands')`` can be walked back to the node it
came from and reported with its line and column. Whatever the input, the only exception that
leaves ``parse_pipeline`` is ``PipelineError``.
"""

import difflib
import types
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails, PydanticSerializationError

from solvyd.pipeline.config.errors import Loc, PipelineError, PipelineErrorItem, field_name
from solvyd.pipeline.config.foreign import foreign_format, hint_message
from solvyd.pipeline.config.matrix import MAX_MATRIX_PRODUCT, expand_steps
from solvyd.pipeline.config.models import (
    MAX_EXPANDED_STEPS,
    BuildConfigForm,
    MatrixConfig,
    PipelineConfig,
)
from solvyd.pipeline.config.typed_scalars import text_warnings
from solvyd.pipeline.config.yaml_errors import describe_yaml_error, field_at_error
from solvyd.protocol.messages import MAX_STEP_NAME_LENGTH, is_step_name

DEFAULT_FILENAME = ".solvyd.yml"
_MERGE_KEY = "<<"

# A pipeline with every YAML alias replaced by what it refers to may hold at most this many
# values (each scalar, list and mapping, keys included) and this many characters of scalar
# text. A few kilobytes of anchors and aliases can otherwise stand for gigabytes, which
# validation, planning and storage would each write out in full. Far above any real pipeline:
# 256 steps of 200 commands are about 60,000 values.
MAX_EXPANDED_VALUES = 200_000
MAX_EXPANDED_CHARACTERS = 4 * 1024**2
# The planned job spec (stored with each build and sent to its agent) may be at most this many
# characters of JSON; matrix copies of big steps can exceed it even when the file does not.
MAX_PLANNED_CHARACTERS = 8 * 1024**2


@dataclass(frozen=True)
class CheckedPipeline:
    """A valid pipeline, and what is worth a warning in its text (see ``typed_scalars``)."""

    config: PipelineConfig
    warnings: list[PipelineErrorItem] = field(default_factory=list)


def parse_pipeline(
    source: str | Mapping[str, Any], filename: str = DEFAULT_FILENAME
) -> PipelineConfig:
    """Parse a pipeline in either form:

    - the seed's ``build_config``: ``{image?, commands, env?, timeout?, artifacts?}``, which
      becomes one step named ``build``;
    - ``{image?, env?, timeout?, artifacts?, steps: [{name, commands, ...}, ...]}``.
    """
    return check_pipeline(source, filename).config


def check_pipeline(
    source: str | Mapping[str, Any], filename: str = DEFAULT_FILENAME
) -> CheckedPipeline:
    """``parse_pipeline``, with the warnings. A ``PipelineError`` holds every problem found in
    one pass (unknown fields, wrong types, duplicate keys and step names, bad ``depends_on``,
    cycles), and the warnings too; only the checks that need a valid pipeline (matrices, the
    planned size) wait for the others to pass."""
    root: yaml.Node | None = None
    problems: list[PipelineErrorItem] = []
    if isinstance(source, str):
        root, data, problems = _load_yaml(source, filename)
    else:
        data = source
        if _object_too_large(source):
            raise PipelineError(filename, [_item(None, (), "", _TOO_LARGE)])
    if not isinstance(data, Mapping):
        kind = "nothing" if data is None else f"a {_kind(data)}"
        raise PipelineError(
            filename,
            [_item(root, (), "", f"the pipeline must be a mapping of settings, got {kind}")],
        )
    model: type[PipelineConfig | BuildConfigForm] = PipelineConfig
    if "steps" not in data and "commands" in data:
        model = BuildConfigForm
    warnings = text_warnings(root, model) if root is not None else []
    parsed: PipelineConfig | BuildConfigForm | None = None
    try:
        parsed = model.model_validate(data)
    except ValidationError as exc:
        # The graph checks below find repeated names too, also when a step is invalid.
        errors = [e for e in exc.errors() if e["type"] != "duplicate_step_name"]
        problems += [_convert(root, model, error) for error in errors]
        if model is PipelineConfig:
            problems += _missing_commands(root, data, {item.field for item in problems})
    except RecursionError:
        raise PipelineError(
            filename, [_item(root, (), "", "the pipeline nests too deeply")], warnings
        ) from None
    graph = _check_graph(_raw_steps(data)) if model is PipelineConfig else []
    for loc, name, message in graph:
        # A repeated name is pointed at itself; a bad dependency at its `depends_on:` key.
        problems.append(_item(root, loc, name, message, at_key=loc[-1] != "name"))
    if parsed is not None and not problems:
        config = parsed.to_pipeline() if isinstance(parsed, BuildConfigForm) else parsed
        later = _check_matrices(config) or _check_planned_size(config)
        problems = [_item(root, loc, name, message, at_key=True) for loc, name, message in later]
        if not problems:
            return CheckedPipeline(config, warnings)
    problems.sort(key=lambda item: (item.line or 0, item.column or 0))
    raise PipelineError(filename, [*_foreign_hint(root, data), *problems], warnings)


def _missing_commands(
    root: yaml.Node | None, data: Mapping[str, Any], reported: set[str]
) -> list[PipelineErrorItem]:
    """Steps without `commands` that need them, when other errors kept the step's own rule
    (`StepConfig`, which runs once its fields are valid) from saying so: every problem is
    reported in one pass."""
    steps = data.get("steps")
    if not isinstance(steps, list):
        return []
    found = []
    for index, step in enumerate(steps):
        if not isinstance(step, Mapping) or "commands" in step:
            continue
        deploy = step.get("deploy")
        if isinstance(deploy, Mapping) and deploy.get("kubernetes") is not None:
            continue
        loc: Loc = ("steps", index, "commands")
        if field_name(loc) not in reported:
            found.append(_item(root, loc, field_name(loc), "field required"))
    return found


Problem = tuple[Loc, str, str]  # where to point, the field to name, the message
RawStep = tuple[str | None, list[str]]  # a step's name and what it depends on, as written


def _raw_steps(data: Mapping[str, Any]) -> list[RawStep]:
    """Each step's name and ``depends_on`` as the file wrote them, so that a pipeline with
    other errors still has its graph checked."""
    steps = data.get("steps")
    if not isinstance(steps, list):
        return []
    raw: list[RawStep] = []
    for step in steps:
        if not isinstance(step, Mapping):
            raw.append((None, []))
            continue
        name = step.get("name")
        depends = step.get("depends_on")
        depends = [depends] if isinstance(depends, str) else depends
        needs = [d for d in depends if isinstance(d, str)] if isinstance(depends, list) else []
        raw.append((name if isinstance(name, str) else None, needs))
    return raw


# "Did you mean" for the first unknown dependencies only: each costs a pass over the names.
_MAX_NAME_HINTS = 20


def _check_graph(steps: list[RawStep]) -> list[Problem]:
    """Step names are unique, every ``depends_on`` names another step, and there is no
    cycle."""
    if len(steps) > MAX_EXPANDED_STEPS:
        # A hostile file's tens of thousands of steps: say so rather than check (and suggest
        # names for) each one; a real pipeline is far below this.
        message = f"{len(steps)} steps; at most {MAX_EXPANDED_STEPS} are allowed"
        return [(("steps",), "steps", message)]
    listed = [name for name, _ in steps if name is not None]
    names = set(listed)
    problems: list[Problem] = []
    hints_left = _MAX_NAME_HINTS
    first_index: dict[str, int] = {}
    for index, (name, depends_on) in enumerate(steps):
        if name is None:
            continue
        if name in first_index:
            loc: Loc = ("steps", index, "name")
            message = f"step name '{name}' is already used by steps[{first_index[name]}]"
            problems.append((loc, field_name(loc), message))
        first_index.setdefault(name, index)
        loc = ("steps", index, "depends_on")
        for dependency in depends_on:
            if dependency == name:
                problems.append((loc, field_name(loc), f'step "{name}" depends on itself'))
            elif dependency not in names:
                close = difflib.get_close_matches(dependency, listed, n=1) if hints_left else []
                hints_left = max(0, hints_left - 1)
                hint = f' (did you mean "{close[0]}"?)' if close else ""
                problems.append((loc, field_name(loc), f'unknown step "{dependency}"{hint}'))
    graph: dict[str, list[str]] = {}
    for name, depends_on in steps:
        if name is not None:  # a self-dependency is reported above, not as a cycle
            graph.setdefault(name, []).extend(d for d in depends_on if d != name)
    cycle = _find_cycle(graph)
    if cycle is not None:
        index = next(i for i, (name, _) in enumerate(steps) if name == cycle[0])
        message = "dependency cycle: " + " -> ".join(cycle)
        problems.append((("steps", index, "depends_on"), "steps", message))
    return problems


def _foreign_hint(root: yaml.Node | None, data: Mapping[Any, Any]) -> list[PipelineErrorItem]:
    found = foreign_format(data)
    if found is None:
        return []
    return [_item(root, (found[1],), "", hint_message(found), at_key=True)]


def _find_cycle(graph: dict[str, list[str]]) -> list[str] | None:
    """A cycle as ``[a, b, ..., a]``, or None. Iterative, so a long chain cannot overflow."""
    done: set[str] = set()
    for start in graph:
        if start in done:
            continue
        path: list[str] = [start]
        on_path = {start}
        pending: list[Iterator[str]] = [iter(graph[start])]
        while pending:
            following = next(pending[-1], None)
            if following is None:
                pending.pop()
                done.add(path[-1])
                on_path.discard(path.pop())
            elif following in on_path:
                return [*path[path.index(following) :], following]
            elif following not in done and following in graph:
                path.append(following)
                on_path.add(following)
                pending.append(iter(graph[following]))
    return None


def _check_matrices(config: PipelineConfig) -> list[Problem]:
    problems: list[Problem] = []
    matrices: list[tuple[Loc, MatrixConfig]] = []
    if config.matrix is not None:
        matrices.append((("matrix",), config.matrix))
    for index, step in enumerate(config.steps):
        if step.matrix is not None:
            matrices.append((("steps", index, "matrix"), step.matrix))
    for loc, matrix in matrices:
        if matrix.size_bound() > MAX_MATRIX_PRODUCT:
            message = f"the matrix has more than {MAX_MATRIX_PRODUCT} combinations"
            problems.append((loc, field_name(loc), message))
        elif not matrix.combinations():
            message = "the matrix has no combinations (give an axis or an include entry)"
            if matrix.axes:
                message = "the matrix excludes every combination"
            problems.append((loc, field_name(loc), message))
    if problems:
        return problems
    expanded = expand_steps(config)
    if len(expanded) > MAX_EXPANDED_STEPS:
        loc = ("matrix",) if config.matrix is not None else ()
        for index, step in enumerate(config.steps):
            if step.matrix is not None:
                loc = ("steps", index, "matrix")
                break
        message = (
            f"the matrix expands the pipeline to {len(expanded)} steps; "
            f"at most {MAX_EXPANDED_STEPS} are allowed"
        )
        return [(loc, field_name(loc) or "matrix", message)]
    seen: set[str] = set()
    for copy in expanded:
        loc = ("steps", copy.index, "matrix")
        if copy.name in seen:
            return [(loc, field_name(loc), f'two combinations make the same step "{copy.name}"')]
        # Agents report a step by this name, and the server takes no name but these.
        if not is_step_name(copy.name):
            message = (
                f"a combination makes the step name {copy.name[:200]!a}, which has a "
                "control or format character or is longer than "
                f"{MAX_STEP_NAME_LENGTH} characters"
            )
            return [(loc, field_name(loc), message)]
        seen.add(copy.name)
    return []


def _check_planned_size(config: PipelineConfig) -> list[Problem]:
    """An upper estimate of the planned spec's size: each step's JSON once per matrix copy.
    Each distinct step is written out once, so this costs about the size of the file."""
    try:
        return _estimate_planned_size(config)
    except PydanticSerializationError:
        # A pipeline given as data (not YAML, which refuses them) may hold a lone surrogate,
        # which no JSON encoder writes: the plan could never be stored or sent.
        loc: Loc = ("steps",)
        return [(loc, field_name(loc), "the pipeline holds text that cannot be encoded")]


def _estimate_planned_size(config: PipelineConfig) -> list[Problem]:
    total = len(config.model_dump_json(exclude={"steps"}))
    sizes: dict[int, int] = {}
    for copy in expand_steps(config):
        if copy.index not in sizes:
            sizes[copy.index] = len(config.steps[copy.index].model_dump_json())
        total += sizes[copy.index] + len(copy.name)
        total += sum(len(key) + len(value) + 8 for key, value in copy.matrix_env.items())
        if total > MAX_PLANNED_CHARACTERS:
            loc: Loc = ("matrix",) if config.matrix is not None else ("steps",)
            message = (
                f"the planned build is larger than {MAX_PLANNED_CHARACTERS:,} characters of "
                "JSON (every step written out once per matrix combination)"
            )
            return [(loc, field_name(loc), message)]
    return []


_TOO_LARGE = (
    f"the pipeline is too large once its YAML aliases are expanded: at most "
    f"{MAX_EXPANDED_VALUES:,} values and {MAX_EXPANDED_CHARACTERS:,} characters of text "
    "are allowed"
)


def _node_too_large(root: yaml.Node) -> str | None:
    """Why the document is too large with its aliases expanded, or None if it is not.

    Sizes are summed over the node graph without expanding it: each node is visited once and
    its expanded size remembered, so a document of a few aliases deep costs no more to measure
    than to read. Iterative, so deep nesting cannot overflow the stack here."""
    sizes: dict[int, tuple[int, int]] = {}  # id(node) -> (values, characters)
    on_path: set[int] = set()
    pending: list[tuple[yaml.Node, bool]] = [(root, False)]
    while pending:
        node, children_done = pending.pop()
        key = id(node)
        if children_done:
            on_path.discard(key)
            values, characters = 1, 0
            for child in _children(node):
                child_values, child_characters = sizes[id(child)]
                values += child_values
                characters += child_characters
            sizes[key] = (values, characters)
        elif key in on_path:
            return "the pipeline refers to itself through a YAML alias"
        elif key not in sizes:
            if isinstance(node, yaml.ScalarNode):
                sizes[key] = (1, len(node.value))
                continue
            on_path.add(key)
            pending.append((node, True))
            pending.extend((child, False) for child in _children(node))
    values, characters = sizes[id(root)]
    if values > MAX_EXPANDED_VALUES or characters > MAX_EXPANDED_CHARACTERS:
        return _TOO_LARGE
    return None


def _children(node: yaml.Node) -> Iterator[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            yield key
            yield value
    elif isinstance(node, yaml.SequenceNode):
        yield from node.value


def _object_too_large(data: object) -> bool:
    """The same limits for a pipeline given as data. Shared objects are counted at each
    reference (that is the expansion), and the walk stops at the limit, so it is bounded."""
    values = characters = 0
    pending: list[object] = [data]
    while pending:
        item = pending.pop()
        values += 1
        if isinstance(item, Mapping):
            for key, value in item.items():
                pending.append(key)
                pending.append(value)
        elif isinstance(item, list | tuple):
            pending.extend(item)
        elif isinstance(item, str):
            characters += len(item)
        if values > MAX_EXPANDED_VALUES or characters > MAX_EXPANDED_CHARACTERS:
            return True
    return False


def _load_yaml(text: str, filename: str) -> tuple[yaml.Node | None, Any, list[PipelineErrorItem]]:
    """The document's node tree, its data, and its duplicate keys (reported with the rest)."""
    loader: yaml.SafeLoader | None = None
    try:
        loader = yaml.SafeLoader(text)
        root = loader.get_single_node()
        if root is None:
            return None, None, []
        # Before anything walks the tree as data: constructing it shares aliased objects, but
        # validating and planning would write each reference out in full.
        too_large = _node_too_large(root)
        if too_large is not None:
            raise PipelineError(filename, [_item(root, (), "", too_large)])
        duplicates = list(_duplicate_keys(root, (), set()))
        return root, loader.construct_document(root), duplicates
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
    if isinstance(exc, yaml.MarkedYAMLError):
        found = describe_yaml_error(exc, text)
        if found is not None:
            return PipelineErrorItem(found.line, found.column, field_at_error(text), found.message)
    elif isinstance(exc, yaml.reader.ReaderError):
        before = text[: exc.position]
        line = before.count("\n") + 1
        column = exc.position - (before.rfind("\n") + 1) + 1
        code = exc.character if isinstance(exc.character, int) else ord(exc.character)
        message = f"invalid YAML: character U+{code:04X} is not allowed"
        return PipelineErrorItem(line, column, "", message)
    return PipelineErrorItem(None, None, "", f"invalid YAML: {exc}")


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
                yield _item(key, (), field_name((*loc, key.value)), f"duplicate key '{key.value}'")
            keys.add(key.value)
            yield from _duplicate_keys(value, (*loc, key.value), seen)
    elif isinstance(node, yaml.SequenceNode):
        for index, value in enumerate(node.value):
            yield from _duplicate_keys(value, (*loc, index), seen)


def _convert(
    root: yaml.Node | None, model: type[BaseModel], error: ErrorDetails
) -> PipelineErrorItem:
    loc: Loc = _without_axes(tuple(error["loc"]))
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
    elif kind == "at_field":
        # A rule across a model's fields, pointed at the field it is about.
        loc = (*loc, str(ctx["field"]))
    elif kind == "invalid_key" and loc:
        return _key_not_text(root, loc[:-1], error["input"])
    else:
        message = message[:1].lower() + message[1:]
    if loc and loc[-1] == "[key]":
        loc, at_key = loc[:-1], True
    return _item(root, loc, field_name(loc), message, at_key=at_key)


def _key_not_text(root: yaml.Node | None, parent: Loc, key: object) -> PipelineErrorItem:
    """A key YAML read as something other than text: ``on:`` is the boolean true, ``1:`` a
    number. No setting has such a name, so it is an unknown field, named as it was written."""
    mapping = _locate(root, parent, at_key=False) if root is not None else None
    node = None
    if isinstance(mapping, yaml.MappingNode):
        node = next(
            (
                k
                for k, _ in mapping.value
                if isinstance(k, yaml.ScalarNode)
                and k.tag != "tag:yaml.org,2002:str"
                and _reads_as(k, key)
            ),
            None,
        )
    written = node.value if node is not None else str(key)
    field = field_name((*parent, written))
    if node is None:
        return PipelineErrorItem(None, None, field, "unknown field")
    return PipelineErrorItem(
        node.start_mark.line + 1, node.start_mark.column + 1, field, "unknown field"
    )


def _reads_as(node: yaml.ScalarNode, value: object) -> bool:
    try:
        return bool(yaml.safe_load(node.value) == value)
    except yaml.YAMLError:
        return False


def _without_axes(loc: Loc) -> Loc:
    # A matrix is held as {axes: {...}, include, exclude}; the file has its axes at the top.
    parts = list(loc)
    for index in range(len(parts) - 1, 0, -1):
        if parts[index] == "axes" and parts[index - 1] == "matrix":
            del parts[index]
    return tuple(parts)


def _owner_model(model: type[BaseModel], loc: Loc) -> type[BaseModel]:
    """The model that holds the last field of ``loc``."""
    owner = model
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        info = owner.model_fields.get(part)
        found = _model_in(info.annotation) if info is not None else None
        if found is None:
            return owner
        owner = found
    return owner


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _model_in(typing.get_args(annotation)[0])
    if origin in (list, typing.Union, types.UnionType):
        for argument in typing.get_args(annotation):
            found = _model_in(argument)
            if found is not None:
                return found
    return None


def _unknown_field_message(model: type[BaseModel], loc: Loc) -> str:
    name = str(loc[-1]) if loc else ""
    if loc == ("commands",):
        return "unknown field (a pipeline with 'steps' lists its commands in each step)"
    owner = _owner_model(model, loc)
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


def _kind(value: object) -> str:
    if isinstance(value, list | tuple):
        return "list"
    if isinstance(value, str):
        return "string"
    return type(value).__name__
