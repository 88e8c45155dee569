from pathlib import Path
from typing import Any

import typer

from solvyd.cli import artifact_download
from solvyd.cli.api_client import ApiClient
from solvyd.cli.build_ref import BUILD_HELP, build_label, resolve_build, select_steps
from solvyd.cli.build_view import artifacts_table, build_details, builds_table
from solvyd.cli.errors import CliError
from solvyd.cli.follow import exit_code_for, follow_build
from solvyd.cli.log_lines import LineFormat
from solvyd.cli.output import console, err_console

app = typer.Typer(
    help="List, inspect, follow, cancel, approve and retry builds, and fetch their artifacts.",
    no_args_is_help=True,
)

BUILD = typer.Argument(..., metavar="BUILD", help=BUILD_HELP, show_default=False)


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
    console.print(builds_table(client.get("/builds", params=params)["items"]))


@app.command("show")
def show(build: str = BUILD) -> None:
    """Show a build, its steps and its artifacts."""
    client = ApiClient()
    found = resolve_build(client, build)
    artifacts = client.get(f"/builds/{found['id']}/artifacts")["items"]
    console.print(build_details(found, artifacts))


@app.command("logs")
def logs(
    build: str = BUILD,
    follow: bool = typer.Option(
        False, "--follow", "-f", help="Print the log live; exit with the build's exit code."
    ),
    step: str | None = typer.Option(
        None, "--step", help="Only this step's lines (a matrix step's name: all its cells)."
    ),
    raw: bool = typer.Option(False, "--raw", help="Plain text: no ANSI colour codes."),
    timestamps: bool = typer.Option(
        False, "--timestamps", "-t", help="Prefix each line with the time the agent read it."
    ),
) -> None:
    """Print a build's log, each line after its \\[step] when it shows several steps."""
    client = ApiClient()
    found = resolve_build(client, build)
    steps = select_steps(found, step) if step else None
    shown = steps or [s["name"] for s in found["steps"]]
    fmt = LineFormat.for_view(
        shown if len(shown) > 1 or not step else None, timestamps=timestamps, raw=raw
    )
    if follow:
        finished = follow_build(client, found["id"], steps=steps, fmt=fmt)
        raise typer.Exit(exit_code_for(finished))
    # One step is filtered by the server; several (a matrix's cells) here.
    wanted = set(steps) if steps and len(steps) > 1 else None
    cursor = (-1, 0)
    while True:
        params: dict[str, Any] = {"after": cursor[0], "line": cursor[1]}
        if steps and len(steps) == 1:
            params["step"] = steps[0]
        page = client.get(f"/builds/{found['id']}/logs", params=params)
        fmt.write(line for line in page["lines"] if wanted is None or line.get("step") in wanted)
        # A page may end within a batch (`next_line`): the cursor is the pair.
        following = (page["next_after"], page.get("next_line", 0))
        if following == cursor:
            return
        cursor = following


@app.command("cancel")
def cancel(build: str = BUILD) -> None:
    """Cancel a queued or running build."""
    client = ApiClient()
    found = resolve_build(client, build)
    result = client.post(f"/builds/{found['id']}/cancel")
    err_console.print(f"build {build_label(found)} {result['status']} ({result['id']})")


@app.command("approve")
def approve(build: str = BUILD) -> None:
    """Let a build of a pull request from a fork, held for approval, run."""
    client = ApiClient()
    found = resolve_build(client, build)
    client.post(f"/builds/{found['id']}/approve")
    err_console.print(f"build {build_label(found)} approved ({found['id']})")


@app.command("retry")
def retry(
    build: str = BUILD,
    follow: bool = typer.Option(
        False, "--follow", "-f", help="Print the log live; exit with the build's exit code."
    ),
) -> None:
    """Run a finished build again, as a new build of the same commit."""
    client = ApiClient()
    old = resolve_build(client, build)
    new = client.post(f"/builds/{old['id']}/retry")
    err_console.print(f"build #{new['number']} queued, retrying {old['id']} ({new['id']})")
    if follow:
        raise typer.Exit(exit_code_for(follow_build(client, new["id"])))
    console.out(new["id"])


@app.command("artifacts")
def artifacts(build: str = BUILD) -> None:
    """List a build's artifacts."""
    client = ApiClient()
    found = resolve_build(client, build)
    items = client.get(f"/builds/{found['id']}/artifacts")["items"]
    if not items:
        err_console.print(f"build {build_label(found)} has no artifacts")
        return
    console.print(artifacts_table(items))


@app.command("download")
def download(
    build: str = BUILD,
    pattern: str | None = typer.Argument(
        None, help="Only artifacts whose path matches this glob ('*' crosses '/'); default all."
    ),
    out_dir: Path = typer.Option(Path("."), "--output", "-o", help="Directory to save into."),
) -> None:
    """Download a build's artifacts, keeping their paths under the output directory."""
    client = ApiClient()
    found = resolve_build(client, build)
    items = client.get(f"/builds/{found['id']}/artifacts")["items"]
    chosen = artifact_download.matching(items, pattern)
    if not chosen:
        which = f" matching {pattern!r}" if pattern else ""
        raise CliError(f"build {build_label(found)} has no artifacts{which}")
    out_dir.mkdir(parents=True, exist_ok=True)
    for artifact in chosen:
        saved = artifact_download.download(client, found["id"], artifact, out_dir)
        console.out(str(saved))
