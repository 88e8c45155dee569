import contextlib
import os
import socket

import typer

from solvyd.cli import api_client
from solvyd.cli.api_client import ApiClient
from solvyd.cli.client_config import ClientConfig, save_config, saved_config
from solvyd.cli.errors import CliError
from solvyd.cli.output import err_console


def login(
    server_url: str = typer.Argument(..., help="The server, e.g. http://127.0.0.1:8080"),
    username: str = typer.Option(..., "--username", "-u", prompt=True),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from standard input."
    ),
) -> None:
    """Log in, and save a personal API token (cli@HOST, 90 days) for later commands."""
    if password_stdin:
        password = typer.get_text_stream("stdin").readline().rstrip("\n")
    else:
        password = os.environ.get("SOLVYD_PASSWORD") or typer.prompt("Password", hide_input=True)
    previous = saved_config()
    created = api_client.login(server_url, username, password, f"cli@{socket.gethostname()}")
    config = ClientConfig(server_url=server_url, token=created["token"], token_id=created["id"])
    path = save_config(config)
    if previous and previous.token_id and previous.server_url == server_url:
        _revoke_itself(previous, previous.token_id)
    err_console.print(
        f"Logged in to {server_url} as {username} (token {created['name']}, valid until "
        f"{created['expires_at'][:10]}, saved in {path})"
    )


def _revoke_itself(previous: ClientConfig, token_id: str) -> None:
    """The token the previous login saved is of no more use. It revokes itself, so only its
    own owner's token goes; if it no longer works, there is nothing to do."""
    with contextlib.suppress(CliError):
        ApiClient(previous).request("DELETE", f"/tokens/{token_id}")
