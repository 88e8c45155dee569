from typing import Any

import typer

from solvyd.cli.api_client import ApiClient
from solvyd.cli.display import table_with_ids, when
from solvyd.cli.follow import LineFormat, exit_code_for, follow_build, print_lines
from solvyd.cli.output import console, err_console

app = typer.Typer(help="List, inspect, follow, cancel and retry builds.", no_args_is_help=True)

STATUS_STYLE = {
    "success": "green",
    "failure": "red",
    "error": "red",
    "cancelled": "yellow",
    "running": "cyan",
    "queued": "dim",
}


def _status(status: str) -> str:
    return f"[{STATUS_STYLE.get(status, '')}]{status}[/]"


@app.command("list")
def list_builds(
    job: str | None = typer.Option(None, "--job", help="Only this job (name or id)."),
    status: str | None = typer.Option(None, "--status"),
    limit: int = typer.Option(20, "--limit", min=1, max=200),
) -> None:
    """List the newest builds."""
    client = ApiClient()
    params: dict[str, Any] = {"limit": limit}
    if job:
        params["job_id"] = client.resolve_job(job)["id"]
    if status:
        params["status"] = status
    builds = client.get("/builds", params=params)["items"]
    table = table_with_ids("job", "#", "status", "queued", "duration", "id")
    for build in builds:
        duration = build["duration_seconds"]
        table.add_row(
            build.get("job_name") or build["job_id"],
            str(build["number"]),
            _status(build["status"]),
            when(build["queued_at"]),
            f"{duration:.1f}s" if duration is not None else "",
            build["id"],
        )
    console.print(table)


@app.command("show")
def show(build_id: str) -> None:
    """Show a build and its steps."""
    build = ApiClient().get(f"/builds/{build_id}")
    console.print(f"[bold]{build.get('job_name')} #{build['number']}[/] {_status(build['status'])}")
    for key in (
        "id",
        "branch",
        "commit_sha",
        "worker_id",
        "exit_code",
        "error_message",
        "waiting_reason",
        "attempt",
        "retry_of",
        "queued_at",
        "started_at",
        "completed_at",
        "duration_seconds",
    ):
        if build.get(key) is not None:
            console.print(f"  {key}: {build[key]}")
    for step in build["steps"]:
        code = "" if step["exit_code"] is None else f" (exit {step['exit_code']})"
        console.print(f"  step {step['name']}: {_status(step['status'])}{code}")


@app.command("logs")
def logs(
    build_id: str,
    follow: bool = typer.Option(
        False, "--follow", "-f", help="Print the log live; exit with the build's exit code."
    ),
    step: str | None = typer.Option(None, "--step", help="Only this step's lines."),
    raw: bool = typer.Option(False, "--raw", help="Plain text: no ANSI colour codes."),
    timestamps: bool = typer.Option(
        False, "--timestamps", "-t", help="Prefix each line with the time the agent read it."
    ),
) -> None:
    """Print a build's log."""
    client = ApiClient()
    fmt = LineFormat(timestamps=timestamps, raw=raw)
    if follow:
        finished = follow_build(client, build_id, step=step, fmt=fmt)
        raise typer.Exit(exit_code_for(finished))
    cursor = (-1, 0)
    while True:
        params: dict[str, Any] = {"after": cursor[0], "line": cursor[1]}
        if step:
            params["step"] = step
        page = client.get(f"/builds/{build_id}/logs", params=params)
        print_lines(page["lines"], fmt)
        # A page may end within a batch (`next_line`): the cursor is the pair.
        following = (page["next_after"], page.get("next_line", 0))
        if following == cursor:
            return
        cursor = following


@app.command("cancel")
def cancel(build_id: str) -> None:
    """Cancel a queued or running build."""
    result = ApiClient().post(f"/builds/{build_id}/cancel")
    err_console.print(f"build {result['id']} {result['status']}")


@app.command("retry")
def retry(
    build_id: str,
    follow: bool = typer.Option(
        False, "--follow", "-f", help="Print the log live; exit with the build's exit code."
    ),
) -> None:
    """Run a finished build again, as a new build of the same commit."""
    client = ApiClient()
    build = client.post(f"/builds/{build_id}/retry")
    err_console.print(f"build #{build['number']} queued, retrying {build_id} ({build['id']})")
    if follow:
        raise typer.Exit(exit_code_for(follow_build(client, build["id"])))
    console.out(build["id"])
