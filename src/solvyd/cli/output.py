"""Where the CLI writes: stdout for results, stderr for status and errors."""

import sys

from rich.console import Console

# Piped output keeps whole table rows rather than folding them to Rich's default 80 columns.
console = Console(highlight=False, width=None if sys.stdout.isatty() else 200)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)
