"""`solvyd retention`: the build retention in force, and what a run would remove now."""

from typing import Any

import typer
from rich.table import Table

from solvyd.cli.api_client import ApiClient
from solvyd.cli.output import console

app = typer.Typer(
    help="Build retention: the limits in force and a dry run of what they remove.",
    no_args_is_help=True,
)

KINDS = (("branch", "branch builds"), ("pull_requests", "pull-request builds"))


def _describe(limits: dict[str, Any]) -> str:
    days, count = limits["days"], limits["max_builds"]
    age = "no age limit" if days is None else f"removed {days:g} days after they finish"
    newest = "no count limit" if count is None else f"only the newest {count} kept"
    return f"{age}; {newest}"


def _print_policy(policy: dict[str, Any], whose: str) -> None:
    console.print(f"retention ({whose}):", style="bold", highlight=False)
    for kind, label in KINDS:
        console.out(f"  {label}: {_describe(policy[kind])}", highlight=False)


@app.command("show")
def show() -> None:
    """The server's build retention settings."""
    policy = ApiClient().get("/retention")
    _print_policy(policy, "server settings")
    console.out(
        f"  runs every {policy['interval_seconds']:g} s, "
        f"{policy['batch_size']} builds per transaction",
        highlight=False,
    )


@app.command("preview")
def preview(
    job: str | None = typer.Option(None, "--job", "-j", help="Only this job (name or id)."),
) -> None:
    """A dry run: how many finished builds, artifacts and archived logs a retention run would
    remove now. Removes nothing."""
    client = ApiClient()
    params: dict[str, str] = {}
    whose = "server settings"
    if job is not None:
        found = client.resolve_job(job)
        params["job_id"] = found["id"]
        whose = f"job {found['name']}"
    answer = client.get("/retention/preview", params=params)
    _print_policy(answer["policy"], whose)
    table = Table("would remove", "builds", "artifacts", "artifact bytes", "archived logs")
    for kind, label in (*KINDS, ("total", "total")):
        counts = answer[kind]
        table.add_row(
            label,
            str(counts["builds"]),
            str(counts["artifacts"]),
            str(counts["artifact_bytes"]),
            str(counts["archived_logs"]),
        )
    console.print(table)
    for item in answer["jobs"]:
        console.out(f"  {item['name']}: {item['builds']} builds", highlight=False)
