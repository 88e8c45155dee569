"""CLI errors end the command with one clear line, never a traceback."""

from typing import Any


class CliError(Exception):
    """Raised anywhere in a command; `solvyd.cli.main.main` prints it as one line, exit 1."""

    def __init__(self, message: str, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        # The server's structured problems, e.g. a pipeline's {line, column, field, message}.
        self.details = details or []
