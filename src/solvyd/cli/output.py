"""Where the CLI writes: stdout for results, stderr for status and errors."""

from rich.console import Console

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)
