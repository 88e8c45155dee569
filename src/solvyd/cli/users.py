"""`solvyd users`: create, list, disable, enable users and set their role (admins); `solvyd
passwd`: change your own password. A password is never an argument: on a command line it would
end up in the shell's history and in `ps`."""

from enum import StrEnum
from typing import Any

import typer

from solvyd.cli.api_client import ApiClient
from solvyd.cli.display import table_with_ids, when
from solvyd.cli.errors import CliError
from solvyd.cli.hidden_input import read_hidden
from solvyd.cli.output import console, err_console

app = typer.Typer(help="Manage users and their roles (admins).", no_args_is_help=True)


class RoleName(StrEnum):
    VIEWER = "viewer"
    DEVELOPER = "developer"
    ADMIN = "admin"


def _read_password(from_stdin: bool, prompt: str = "Password", confirm: bool = True) -> str:
    return read_hidden(
        "password",
        from_stdin=from_stdin,
        stdin_flag="--password-stdin",
        prompt=prompt,
        confirm=confirm,
    )


def _find(client: ApiClient, name: str) -> dict[str, Any]:
    for user in client.get("/users")["items"]:
        if user["username"] == name or user["id"] == name:
            return dict(user)
    raise CliError(f"no user named {name!r}")


def _change(name: str, change: dict[str, Any]) -> dict[str, Any]:
    client = ApiClient()
    user = _find(client, name)
    return dict(client.patch(f"/users/{user['id']}", change))


@app.command("create")
def create(
    name: str = typer.Argument(help="The username."),
    role: RoleName = typer.Option(RoleName.DEVELOPER, "--role", "-r", help="The user's role."),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from standard input (one line)."
    ),
) -> None:
    """Create a user. Its password (8+ characters) is prompted for twice, or read from stdin."""
    password = _read_password(password_stdin)
    user = ApiClient().post("/users", {"username": name, "password": password, "role": role})
    err_console.print(f"created {user['role']} {user['username']} ({user['id']})")


@app.command("list")
def list_users() -> None:
    """List users with their role and whether they are disabled."""
    table = table_with_ids("username", "role", "disabled", "created", "id")
    for user in ApiClient().get("/users")["items"]:
        table.add_row(
            user["username"],
            user["role"],
            "yes" if user["disabled"] else "",
            when(user["created_at"]),
            user["id"],
        )
    console.print(table)


@app.command("disable")
def disable(name: str = typer.Argument(help="The username.")) -> None:
    """Disable a user: every token of theirs stops working and they cannot log in."""
    user = _change(name, {"disabled": True})
    err_console.print(f"user {user['username']} is disabled")


@app.command("enable")
def enable(name: str = typer.Argument(help="The username.")) -> None:
    """Enable a disabled user again."""
    user = _change(name, {"disabled": False})
    err_console.print(f"user {user['username']} is enabled")


@app.command("set-role")
def set_role(
    name: str = typer.Argument(help="The username."),
    role: RoleName = typer.Argument(help="viewer, developer or admin."),
) -> None:
    """Change a user's role."""
    user = _change(name, {"role": role})
    err_console.print(f"user {user['username']} is now {user['role']}")


def change_own_password(
    password_stdin: bool = typer.Option(
        False,
        "--password-stdin",
        help="Read the current password, then the new one, from standard input (a line each).",
    ),
) -> None:
    """Change your own password. Your other login sessions end; personal tokens stay."""
    current = _read_password(password_stdin, "Current password", confirm=False)
    new = _read_password(password_stdin, "New password")
    ApiClient().post("/users/me/password", {"current_password": current, "new_password": new})
    err_console.print("password changed; your other login sessions have ended")
