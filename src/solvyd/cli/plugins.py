"""`solvyd plugins`: what the server and each agent loaded, and what they refused."""

import json
from typing import Any

import typer
from rich.console import Group, RenderableType
from rich.table import Column, Table
from rich.text import Text

from solvyd.cli.api_client import ApiClient
from solvyd.cli.output import console, printable

app = typer.Typer(help="List the plugins of the server and of its agents.", no_args_is_help=True)

# The kinds of thing a plugin can add, in the order a reader scans for them.
_KINDS = ("executors", "notifiers", "forges", "artifact_stores")
_STATUS_STYLE = {"loaded": "green", "refused": "yellow", "failed": "bold red"}


def _provides(provides: dict[str, list[str]] | None) -> str:
    provides = provides or {}
    # Known kinds first in a fixed order; a kind a newer server adds is still shown.
    kinds = [k for k in _KINDS if k in provides] + sorted(set(provides) - set(_KINDS))
    return "; ".join(
        f"{kind.replace('_', ' ')}: {', '.join(provides[kind])}" for kind in kinds if provides[kind]
    )


def _where(plugin: dict[str, Any]) -> str:
    if plugin["loaded_in"] == "agent":
        return f"agent {plugin.get('worker') or '?'}"
    return str(plugin["loaded_in"])


def plugins_view(answer: dict[str, Any]) -> RenderableType:
    """The table of plugins, then the error of each refused or failed one on a line of its own
    (an error is often long: in a cell it would fold into a column of a few letters)."""
    table = Table(
        Column("name", no_wrap=True),
        "version",
        "provides",
        Column("where", no_wrap=True),
        "builtin",
        Column("status", no_wrap=True),
    )
    problems: list[Text] = []
    for plugin in answer["plugins"]:
        status = str(plugin["status"])
        table.add_row(
            plugin["name"],
            plugin.get("version") or "",
            _provides(plugin.get("provides")),
            _where(plugin),
            "yes" if plugin.get("builtin") else "no",
            # A Text is not passed through the console's render_str: made printable here.
            Text(printable(status), style=_STATUS_STYLE.get(status, "")),
        )
        if status != "loaded" or plugin.get("error"):
            line = Text(f"{printable(plugin['name'])} ({printable(_where(plugin))}) ")
            line.append(printable(status), style=_STATUS_STYLE.get(status, ""))
            line.append(f": {printable(plugin.get('error') or 'no reason given')}")
            problems.append(line)
    header = Text(f"plugin API {printable(answer.get('api_version', '?'))}", style="dim")
    return Group(header, table, *problems)


@app.command("list")
def list_plugins(
    as_json: bool = typer.Option(False, "--json", help="Print the server's answer as JSON."),
) -> None:
    """List the plugins the server loaded and those each agent reported, with their status."""
    answer = ApiClient().get("/plugins")
    if as_json:
        # json.dumps escapes every control character, so the server's text cannot reach the
        # terminal as a sequence.
        typer.echo(json.dumps(answer, indent=2))
        return
    console.print(plugins_view(answer))
