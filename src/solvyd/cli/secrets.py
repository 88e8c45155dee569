"""`solvyd secrets`: set, list and remove secrets (admins). A value is never an argument: on a
command line it would end up in the shell's history and in `ps` for every user to read."""

import typer

from solvyd.cli.api_client import ApiClient
from solvyd.cli.display import table_with_ids, when
from solvyd.cli.errors import CliError
from solvyd.cli.hidden_input import read_hidden
from solvyd.cli.output import console, err_console

app = typer.Typer(
    help="Set, list and remove secrets (values are write-only).", no_args_is_help=True
)

JOB_HELP = "The job (name or id) the secret belongs to; without it, a global secret."


def _base(client: ApiClient, job: str | None) -> tuple[str, str]:
    """The API path of the scope, and how to name it to the user."""
    if job is None:
        return "/secrets", "global"
    found = client.resolve_job(job)
    return f"/jobs/{found['id']}/secrets", f"of job {found['name']}"


def _read_value(from_stdin: bool) -> str:
    # All of stdin, less one trailing newline: end the input with two newlines to keep one.
    value = read_hidden(
        "value", from_stdin=from_stdin, stdin_flag="--value-stdin", whole_stdin=True
    )
    if not value:
        raise CliError("a secret value cannot be empty")
    return value


@app.command("set")
def set_secret(
    name: str = typer.Argument(help="The secret's name, an environment variable name."),
    job: str | None = typer.Option(None, "--job", "-j", help=JOB_HELP),
    value_stdin: bool = typer.Option(
        False, "--value-stdin", help="Read the value from standard input instead of a prompt."
    ),
    protected_branches: list[str] = typer.Option(
        [],
        "--protected-branch",
        "-p",
        help="Give the value only to builds of this branch (a glob such as release/*), never "
        "to pull requests or forks; repeatable. Without it a replaced secret keeps its "
        "branches.",
    ),
    unprotected: bool = typer.Option(
        False, "--unprotected", help="Lift the branch protection: every build of the scope."
    ),
) -> None:
    """Create or replace a secret. The value is read without echo, or from stdin."""
    if unprotected and protected_branches:
        raise CliError("--unprotected and --protected-branch exclude each other")
    client = ApiClient()
    base, scope = _base(client, job)
    value = _read_value(value_stdin)
    body: dict[str, object] = {"value": value}
    if protected_branches or unprotected:
        body["protected_branches"] = protected_branches
    response = client.request("PUT", f"{base}/{name}", json=body)
    verb = "created" if response.status_code == 201 else "updated"
    branches = response.json()["protected_branches"]
    only = f", only for branches {', '.join(branches)}" if branches else ""
    err_console.print(f"{verb} secret {name} {scope}{only}")


@app.command("list")
def list_secrets(job: str | None = typer.Option(None, "--job", "-j", help=JOB_HELP)) -> None:
    """List secrets by name (values are never shown)."""
    client = ApiClient()
    base, _ = _base(client, job)
    table = table_with_ids("name", "scope", "protected branches", "created", "updated")
    for secret in client.get(base)["items"]:
        table.add_row(
            secret["name"],
            secret["scope"],
            ",".join(secret["protected_branches"]),
            when(secret["created_at"]),
            when(secret["updated_at"]),
        )
    console.print(table)


@app.command("rm")
def remove(
    name: str = typer.Argument(help="The secret's name."),
    job: str | None = typer.Option(None, "--job", "-j", help=JOB_HELP),
) -> None:
    """Remove a secret."""
    client = ApiClient()
    base, scope = _base(client, job)
    client.request("DELETE", f"{base}/{name}")
    err_console.print(f"removed secret {name} {scope}")
