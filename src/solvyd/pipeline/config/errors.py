"""Errors of the pipeline language, each pointing at the place in the file that caused it."""

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class PipelineErrorItem:
    """One problem in a pipeline file. ``line`` and ``column`` are 1-based; both are None when
    the pipeline was given as an already-parsed mapping (there is no text to point into)."""

    line: int | None
    column: int | None
    field: str  # e.g. "steps[1].commands"; "" for the document itself
    message: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self, filename: str) -> str:
        where = filename if self.line is None else f"{filename}:{self.line}:{self.column}"
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


class PipelineError(Exception):
    """The pipeline is not valid. ``str(error)`` has one line per problem, e.g.
    ``.solvyd.yml:7:5: steps[1].commands: field required``; ``errors`` has them structured."""

    def __init__(self, filename: str, errors: list[PipelineErrorItem]) -> None:
        self.filename = filename
        self.errors = errors
        super().__init__("\n".join(item.describe(filename) for item in errors))
