"""`solvyd tokens`: personal API tokens for scripts. A token is printed once, on stdout, so
it can be piped into a secret store; the server keeps only its hash."""

from enum import StrEnum

import typer

from solvyd.cli.api_client import ApiClient
from solvyd.cli.display import table_with_ids, when
from solvyd.cli.output import console, err_console

app = typer.Typer(help="Create, list and revoke personal API tokens.", no_args_is_help=True)


class ScopeName(StrEnum):
    READ = "read"
    WRITE = "write"
    ADMIN = "admin"


@app.command("create")
def create(
    name: str = typer.Argument(help="What the token is for, e.g. 'nightly script'."),
    scopes: list[ScopeName] = typer.Option(
        [],
        "--scope",
        "-s",
        help="read (view), write (jobs, builds), admin; repeatable. Default: all three, "
        "which still never exceeds your role.",
    ),
    expires_in_days: int = typer.Option(
        90, "--expires-in-days", min=1, max=3650, help="Days until the token expires."
    ),
) -> None:
    """Create a token; it is printed once."""
    body: dict[str, object] = {"name": name, "expires_in_days": expires_in_days}
    if scopes:
        body["scopes"] = [scope.value for scope in scopes]
    created = ApiClient().post("/tokens", body)
    console.print(created["token"], soft_wrap=True)
    err_console.print(
        f"created token {created['name']} ({created['id']}), scopes "
        f"{','.join(created['scopes'])}, valid until {when(created['expires_at'])}. "
        "It is not shown again: store it now."
    )


@app.command("list")
def list_tokens(
    everyone: bool = typer.Option(False, "--all", help="Everyone's tokens (admins)."),
) -> None:
    """List your tokens (values are never shown)."""
    params = {"all": "true"} if everyone else {}
    table = table_with_ids("name", "scopes", "created", "expires", "last used", "revoked", "id")
    for token in ApiClient().get("/tokens", params=params)["items"]:
        table.add_row(
            token["name"],
            ",".join(token["scopes"]),
            when(token["created_at"]),
            when(token["expires_at"]),
            when(token["last_used_at"]),
            "yes" if token["revoked"] else "",
            token["id"],
        )
    console.print(table)


@app.command("revoke")
def revoke(
    token_id: str = typer.Argument(help="The token's id (see `solvyd tokens list`)."),
) -> None:
    """Revoke a token: it stops working at once."""
    ApiClient().request("DELETE", f"/tokens/{token_id}")
    err_console.print(f"revoked token {token_id}")
