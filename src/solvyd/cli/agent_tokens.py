"""`solvyd agent-tokens`: registration tokens for agents (admins). A token is printed once, on
stdout, so it can go straight into a file an agent reads with `--token-file`."""

import typer

from solvyd.cli.api_client import ApiClient
from solvyd.cli.display import table_with_ids, when
from solvyd.cli.output import console, err_console

app = typer.Typer(
    help="Create, list and revoke agent registration tokens (admins).", no_args_is_help=True
)


@app.command("create")
def create(
    name: str = typer.Argument(help="What the token is for, e.g. 'rack 3'."),
    labels: str | None = typer.Option(
        None,
        "--labels",
        help="Comma-separated labels its agents may have and claim builds for (include the "
        "executor's name, e.g. local); default: any.",
    ),
) -> None:
    """Create a token; it is printed once."""
    body: dict[str, object] = {"name": name}
    if labels is not None:
        body["labels"] = [label.strip() for label in labels.split(",") if label.strip()]
    created = ApiClient().post("/agent-tokens", body)
    console.print(created["token"], soft_wrap=True)
    granted = "any label" if created["labels"] is None else ",".join(created["labels"]) or "none"
    err_console.print(
        f"created agent token {created['name']} ({created['id']}), labels: {granted}. "
        "It is not shown again: store it in a file for `solvyd agent --token-file`."
    )


@app.command("list")
def list_tokens() -> None:
    """List registration tokens (values are never shown)."""
    table = table_with_ids("name", "labels", "created", "last used", "revoked", "id")
    for token in ApiClient().get("/agent-tokens")["items"]:
        table.add_row(
            token["name"],
            "(any)" if token["labels"] is None else ",".join(token["labels"]),
            when(token["created_at"]),
            when(token["last_used_at"]),
            "yes" if token["revoked"] else "",
            token["id"],
        )
    console.print(table)


@app.command("revoke")
def revoke(token_id: str = typer.Argument(help="The token's id (see `list`).")) -> None:
    """Revoke a token: no new agent registers with it; registered workers keep working."""
    ApiClient().request("DELETE", f"/agent-tokens/{token_id}")
    err_console.print(f"revoked agent token {token_id}")
