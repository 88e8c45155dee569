"""How log lines reach the terminal: with a `[step]` column when the view holds more than
one step (docker-compose style: each step keeps one colour, names padded to one width), and
`::group::name` / `::endgroup::` markers as section headers. Written straight to stdout, not
through Rich: the text is the step's own, ANSI colours included, and never markup."""

import os
import sys
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from solvyd.cli.output import printable
from solvyd.shared.log_text import colours_only, strip_ansi

# Foreground colours that read on dark and light terminals; red is left for failures.
PALETTE = ("36", "33", "32", "35", "34", "96", "93", "92", "95", "94")
GROUP_START = "::group::"
GROUP_END = "::endgroup::"


def stdout_is_terminal() -> bool:
    return sys.stdout.isatty()


def colour_wanted() -> bool:
    # https://no-color.org: any non-empty NO_COLOR turns colour off.
    return stdout_is_terminal() and not os.environ.get("NO_COLOR")


def _paint(code: str, text: str) -> str:
    return f"\x1b[{code}m{text}\x1b[0m"


def _label(step: str | None) -> str:
    # One line, whatever the server calls the step.
    return " ".join(printable(step or "").split())


@dataclass
class StepColumn:
    """The `[step]` column. Steps not known at the start (a pipeline read from the repository
    is planned after the checkout) join it as their lines arrive; the column shows once there
    is more than one step to tell apart."""

    steps: list[str] = field(default_factory=list)
    colour: bool = False

    def __post_init__(self) -> None:
        self.steps = [_label(name) for name in self.steps]
        self._width = max((len(name) for name in self.steps), default=0)

    def prefix(self, step: str | None) -> str:
        name = _label(step)
        if not name:
            # A line of the build itself, not of a step: the column stays, blank.
            return " " * (self._width + 3) if len(self.steps) > 1 else ""
        if name not in self.steps:
            self.steps.append(name)
            self._width = max(self._width, len(name))
        if len(self.steps) < 2:
            return ""
        label = f"[{name}]"
        padding = " " * (self._width - len(name) + 1)
        # A stable hash: the same step has the same colour in every run and every command.
        code = PALETTE[zlib.crc32(name.encode()) % len(PALETTE)]
        return (_paint(code, label) if self.colour else label) + padding


@dataclass(frozen=True)
class LineFormat:
    """How log lines are printed: with their step (`column`), their time, with group
    markers shown as headers (`groups`, on a terminal), or as plain text (`raw`: no step
    prefix, no ANSI colour codes, markers kept)."""

    column: StepColumn | None = None
    timestamps: bool = False
    raw: bool = False
    groups: bool = False
    colour: bool = False

    @classmethod
    def for_view(
        cls, steps: Iterable[str] | None, *, timestamps: bool = False, raw: bool = False
    ) -> "LineFormat":
        """`steps`: the steps the view shows, None for one step (no column)."""
        colour = colour_wanted() and not raw
        column = None if steps is None or raw else StepColumn(list(steps), colour)
        groups = stdout_is_terminal() and not raw
        return cls(column, timestamps, raw, groups, colour)

    def render(self, line: dict[str, Any], step: str | None) -> str | None:
        """The line as printed, or None for a line not shown (an `::endgroup::` marker)."""
        text = str(line["text"])
        if self.raw:
            return strip_ansi(text)
        text = colours_only(text)
        if self.groups:
            marker = strip_ansi(text).strip()
            if marker.startswith(GROUP_END):
                return None
            if marker.startswith(GROUP_START):
                header = "▸ " + marker.removeprefix(GROUP_START).strip()
                text = _paint("1", header) if self.colour else header
        if self.column is not None:
            text = self.column.prefix(step) + text
        if self.timestamps and line.get("ts"):
            text = f"{line['ts']} {text}"
        return text

    def write(self, lines: Iterable[dict[str, Any]], step: str | None = None) -> None:
        """Print `lines`; each line's own `step` wins over `step`."""
        shown = (self.render(line, line.get("step") or step) for line in lines)
        sys.stdout.write("".join(text + "\n" for text in shown if text is not None))
        sys.stdout.flush()
