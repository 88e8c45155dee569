import os

import typer

from solvyd.cli import api_client
from solvyd.cli.client_config import ClientConfig, save_config
from solvyd.cli.output import err_console


def login(
    server_url: str = typer.Argument(..., help="The server, e.g. http://127.0.0.1:8080"),
    username: str = typer.Option(..., "--username", "-u", prompt=True),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from standard input."
    ),
) -> None:
    """Log in and save the token for later commands."""
    if password_stdin:
        password = typer.get_text_stream("stdin").readline().rstrip("\n")
    else:
        password = os.environ.get("SOLVYD_PASSWORD") or typer.prompt("Password", hide_input=True)
    token = api_client.login(server_url, username, password)
    path = save_config(ClientConfig(server_url=server_url, token=token))
    err_console.print(f"Logged in to {server_url} as {username} (token saved in {path})")
