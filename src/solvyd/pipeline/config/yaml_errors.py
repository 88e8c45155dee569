"""PyYAML's syntax errors, said in the terms of the person who wrote the file.

PyYAML names the scanner's and parser's state ("expected <block end>, but found
'<block mapping start>'"); a user needs to hear what is wrong with their line and how to fix
it. Each rule below recognises one common mistake from the error and the text around it; an
error no rule knows keeps PyYAML's words, which are at least accurate.
"""

import re
from dataclasses import dataclass

import yaml

_PREFIX = "invalid YAML: "
_FLOW = {"sequence": ("[", "]", "list"), "mapping": ("{", "}", "mapping")}
# PyYAML writes the character as Python would (a tab as '\\t').
_CANNOT_START = re.compile(r"found character '(.+?)' that cannot start any token")


@dataclass(frozen=True)
class SyntaxProblem:
    line: int  # 1-based
    column: int  # 1-based
    message: str


def describe_yaml_error(exc: yaml.MarkedYAMLError, text: str) -> SyntaxProblem | None:
    """Where the mistake is and what it is, or None when the error has no place."""
    mark = exc.problem_mark or exc.context_mark
    if mark is None:
        return None
    lines = text.splitlines()
    source = lines[mark.line] if mark.line < len(lines) else ""
    line, column = mark.line + 1, mark.column + 1
    problem, context = exc.problem or "", exc.context or ""
    before = source[: mark.column]
    message = f"{', '.join(part for part in (context, problem) if part)}"

    start = _CANNOT_START.fullmatch(problem)
    if start and start[1] == "\\t":
        if not before.strip():
            message = "a tab character cannot indent YAML; indent with spaces"
        else:
            message = "a tab character cannot separate values in YAML; use spaces"
    elif start:
        message = f"a value cannot start with '{start[1]}' in YAML; quote the value"
    elif problem == "mapping values are not allowed here":
        message, column = _colon_problem(before, column)
    elif context == "while scanning a quoted scalar":
        # Point where the quote opened: the end of the file, where PyYAML noticed, says little.
        assert exc.context_mark is not None  # noqa: S101 - PyYAML always sets it here
        line, column = exc.context_mark.line + 1, exc.context_mark.column + 1
        message = "unclosed quote: this quoted value has no closing quote"
    elif context.startswith("while parsing a flow "):
        kind = context.removeprefix("while parsing a flow ")
        opening, closing, what = _FLOW.get(kind, ("[", "]", "list"))
        if exc.context_mark is not None:
            where = exc.context_mark
            message = (
                f"the {what} opened with '{opening}' at line {where.line + 1} column "
                f"{where.column + 1} is not closed with '{closing}' (or a ',' is missing)"
            )
    elif "expected <block end>" in problem:
        message = _block_end_problem(exc, source, before)
    elif context == "while scanning an alias":
        message = "'*' starts an alias in YAML; quote a value that starts with '*'"
    elif context == "while scanning an anchor":
        message = "'&' starts an anchor in YAML; quote a value that starts with '&'"
    elif problem.startswith("found undefined alias"):
        message = (
            f"{problem.removeprefix('found ')}: '*' refers to an anchor ('&name') defined "
            "earlier; quote the value if '*' was meant as text"
        )
    elif problem.startswith("could not determine a constructor for the tag"):
        tag = problem.rsplit(" ", 1)[-1]
        message = f"unknown tag {tag}; quote a value that starts with '!'"
    elif context == "while scanning a simple key" and exc.context_mark is not None:
        line, column = exc.context_mark.line + 1, exc.context_mark.column + 1
        message = (
            "YAML reads this line as a key, but no ':' follows it before the next line; add "
            "the ':' (or quote the text if it is a value)"
        )
    elif problem.startswith("expected '<document start>'"):
        message = (
            "YAML read the whole file as ending before this point; look above it for a stray "
            "quote or bracket, or a first line indented differently from the rest"
        )
    elif context == "expected a single document in the stream":
        message = "a pipeline file holds one YAML document; remove the '---' separator"
    return SyntaxProblem(line, column, _PREFIX + message)


def _colon_problem(before: str, column: int) -> tuple[str, int]:
    """A ``:`` where no key may start: either in a value (``run: echo a: b``) or at the key of
    a line indented more than the line above, which YAML then reads as that line's value."""
    indent = len(before) - len(before.lstrip(" "))
    if ": " in before.strip() or before.rstrip().endswith(":") or before.lstrip().startswith("- "):
        return "a mapping value is not allowed here; quote a value that contains ': '", column
    return (
        "this line is indented more than the block it belongs to (YAML reads it as the rest "
        "of the line above); align it with its siblings",
        indent + 1,
    )


def _block_end_problem(exc: yaml.MarkedYAMLError, source: str, before: str) -> str:
    found = (exc.problem or "").rsplit("found ", 1)[-1].strip("'")
    stripped = before.rstrip()
    if found == "<scalar>" and stripped and not stripped.strip().startswith(("-", "#")):
        if stripped[-1] in "\"'":
            return "text after a quoted value; quote the whole value"
        return "text where YAML expected the end of the block; check the indentation"
    start = exc.context_mark
    block = f" that starts at line {start.line + 1}" if start is not None else ""
    if found == "-":
        return (
            f"a list item ('-') where a key of the mapping{block} was expected; "
            "check the indentation"
        )
    return (
        f"this line is not aligned with the block{block}; indent it exactly like the lines "
        "it belongs with"
    )


_NODE_START = (yaml.ScalarEvent, yaml.AliasEvent, yaml.MappingStartEvent, yaml.SequenceStartEvent)
_COLLECTION_START = (yaml.MappingStartEvent, yaml.SequenceStartEvent)


@dataclass
class _Frame:
    mapping: bool
    key: str | None = None
    # A mapping: "key" (expects a key), "value" (has its key) or "inside" (in its value).
    state: str = "key"
    index: int = -1  # a sequence: the item it is in
    open: bool = False  # a sequence: that item is a collection not yet closed


def field_at_error(text: str) -> str:
    """The setting being read when the YAML broke, e.g. ``steps[1].name``; "" at the top.

    The parser's events up to the error are replayed (a stream, so aliases cost nothing):
    a syntax error then names its place like every other problem."""
    stack: list[_Frame] = []
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, _NODE_START):
                _enter(stack, event)
            elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
                stack.pop()
                if stack and stack[-1].mapping and stack[-1].state == "inside":
                    stack[-1].state = "key"
                elif stack and not stack[-1].mapping:
                    stack[-1].open = False
    except yaml.YAMLError:
        pass
    text_path = ""
    for frame in stack:
        if frame.mapping and frame.state != "key" and frame.key is not None:
            text_path += f".{frame.key}" if text_path else frame.key
        elif not frame.mapping and frame.open:
            text_path += f"[{frame.index}]"
        else:
            break
    return text_path


def _enter(stack: list[_Frame], event: yaml.Event) -> None:
    collection = isinstance(event, _COLLECTION_START)
    if stack:
        parent = stack[-1]
        if parent.mapping and parent.state == "key":
            parent.key = event.value if isinstance(event, yaml.ScalarEvent) else None
            parent.state = "value"
        elif parent.mapping:
            parent.state = "inside" if collection else "key"
        else:
            parent.index += 1
            parent.open = collection
    if collection:
        stack.append(_Frame(mapping=isinstance(event, yaml.MappingStartEvent)))
