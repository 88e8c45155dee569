"""CLI errors end the command with one clear line, never a traceback."""

import click


class CliError(click.ClickException):
    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code

    def show(self, file: object = None) -> None:
        from solvyd.cli.output import err_console

        err_console.print(f"[bold red]error:[/] {self.message}", highlight=False)
