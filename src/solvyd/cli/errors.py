"""CLI errors end the command with one clear line, never a traceback."""


class CliError(Exception):
    """Raised anywhere in a command; `solvyd.cli.main.main` prints it as one line, exit 1."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
