"""Where the CLI writes: stdout for results, stderr for status and errors. Most of what it
prints came from the server (names, messages, statuses), so a string is always shown as the
literal text: never read as Rich markup or emoji codes, and with no terminal control
sequences. Styling is given explicitly (`style=`, `rich.text.Text`), never inside a string."""

import re
import sys
from typing import Any

from rich.console import Console
from rich.text import Text

from solvyd.shared.log_text import strip_ansi

# C0 controls but tab and newline, DEL and C1: they could move the cursor or rewrite the screen.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(value: object) -> str:
    """`value` as text a terminal shows as it is: ANSI sequences and control characters out."""
    return _CONTROL.sub("", strip_ansi(str(value)))


class LiteralConsole(Console):
    """A Rich console that shows every string literally (see the module docstring)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(markup=False, emoji=False, highlight=False, **kwargs)

    def render_str(self, text: str, **kwargs: Any) -> Text:
        # Every str printed, in a table cell or on its own, passes here.
        kwargs["markup"] = kwargs["emoji"] = False
        return super().render_str(printable(text), **kwargs)


# Piped output keeps whole table rows rather than folding them to Rich's default 80 columns.
console = LiteralConsole(width=None if sys.stdout.isatty() else 200)
err_console = LiteralConsole(stderr=True, soft_wrap=True)
