"""Errors of the pipeline language, each pointing at the place in the file that caused it."""

from dataclasses import asdict, dataclass
from typing import Any

# Where in the document: keys and list indexes from the root (pydantic's `loc`).
Loc = tuple[int | str, ...]


def field_name(loc: Loc) -> str:
    """``steps[2].depends_on`` for ``("steps", 2, "depends_on")``."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


@dataclass(frozen=True)
class PipelineErrorItem:
    """One problem (or warning) in a pipeline file. ``line`` and ``column`` are 1-based; both
    are None when the pipeline was given as an already-parsed mapping (there is no text to
    point into)."""

    line: int | None
    column: int | None
    field: str  # e.g. "steps[1].commands"; "" for the document itself or a YAML syntax error
    message: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self, filename: str, severity: str = "") -> str:
        """``file:line:col: [severity: ][field: ]message``; an empty part is left out."""
        where = filename if self.line is None else f"{filename}:{self.line}:{self.column}"
        parts = [where, severity, self.field, self.message]
        return ": ".join(part for part in parts if part)


def excerpt(text: str, line: int | None, column: int | None) -> str:
    """The source line ``line`` and a caret under ``column``, indented; "" if there is none.

    The caret's padding copies the line's tabs, so the two stay aligned in any terminal."""
    lines = text.splitlines()
    if line is None or not 1 <= line <= len(lines):
        return ""
    source = lines[line - 1]
    before = source[: max((column or 1) - 1, 0)]
    padding = "".join(char if char == "\t" else " " for char in before)
    return f"    {source}\n    {padding}^"


class PipelineError(Exception):
    """The pipeline is not valid. ``str(error)`` has one line per problem, e.g.
    ``.solvyd.yml:7:5: steps[1].commands: field required``; ``errors`` has them structured,
    and ``warnings`` what was found besides (see ``CheckedPipeline``)."""

    def __init__(
        self,
        filename: str,
        errors: list[PipelineErrorItem],
        warnings: list[PipelineErrorItem] | None = None,
    ) -> None:
        self.filename = filename
        self.errors = errors
        self.warnings = warnings or []
        super().__init__("\n".join(item.describe(filename) for item in errors))


def render_report(
    filename: str,
    text: str,
    errors: list[PipelineErrorItem],
    warnings: list[PipelineErrorItem] | None = None,
) -> list[str]:
    """The errors, then the warnings, each with its source line and a caret under its column."""
    tagged = [("", item) for item in errors] + [("warning", item) for item in warnings or []]
    lines: list[str] = []
    for severity, item in tagged:
        lines.append(item.describe(filename, severity))
        shown = excerpt(text, item.line, item.column)
        if shown:
            lines.append(shown)
    return lines
