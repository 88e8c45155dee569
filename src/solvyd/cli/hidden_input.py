"""Passwords and secret values: piped in on stdin, or typed at a prompt without echo; never
command-line arguments, which end up in the shell's history and in `ps` for every user to read."""

import sys

import typer

from solvyd.cli.errors import CliError


def read_hidden(
    noun: str,
    *,
    from_stdin: bool,
    stdin_flag: str,
    prompt: str | None = None,
    whole_stdin: bool = False,
    confirm: bool = True,
) -> str:
    """The `noun` from stdin (one line, or all of it with `whole_stdin`, without the trailing
    newline that `echo` or a heredoc adds), else from a prompt without echo; with no terminal
    to prompt on, an error that names `stdin_flag`."""
    if from_stdin:
        text = sys.stdin.read() if whole_stdin else sys.stdin.readline()
        return text.removesuffix("\n").removesuffix("\r")
    if sys.stdin.isatty():
        label = prompt or noun.capitalize()
        return str(typer.prompt(label, hide_input=True, confirmation_prompt=confirm))
    raise CliError(f"no terminal to ask for the {noun} on: pipe it in with {stdin_flag}")
