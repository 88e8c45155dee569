from pathlib import Path
from typing import Any

import typer

from solvyd.cli.api_client import ApiClient
from solvyd.cli.display import table_with_ids
from solvyd.cli.errors import CliError
from solvyd.cli.follow import exit_code_for, follow_build
from solvyd.cli.output import console, err_console
from solvyd.pipeline.config import PipelineErrorItem

app = typer.Typer(help="Create, inspect and trigger jobs.", no_args_is_help=True)


def _key_values(pairs: list[str], what: str) -> dict[str, str]:
    result = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise CliError(f"{what} must look like KEY=VALUE, got {pair!r}")
        result[key] = value
    return result


def _point_at_file(error: CliError, pipeline: Path | None) -> CliError:
    """The server only saw the pipeline's text: name the user's file in its line:col errors."""
    located = [d for d in error.details if d.get("line")]
    if pipeline is None or not located:
        return error
    items = [
        PipelineErrorItem(d["line"], d.get("column"), d.get("field") or "", str(d.get("message")))
        for d in located
    ]
    return CliError("\n".join(item.describe(str(pipeline)) for item in items))


@app.command("create")
def create(
    name: str,
    pipeline: Path | None = typer.Option(None, "--pipeline", "-p", help="A pipeline YAML file."),
    scm_url: str | None = typer.Option(None, "--scm-url"),
    branch: str | None = typer.Option(None, "--branch"),
    labels: str = typer.Option("", "--labels", help="Comma-separated labels a worker must have."),
    env: list[str] = typer.Option([], "--env", "-e", help="KEY=VALUE, repeatable."),
    max_retries: int = typer.Option(0, "--max-retries"),
    timeout: int | None = typer.Option(None, "--timeout", help="Build timeout in seconds."),
    priority: int = typer.Option(0, "--priority", help="Higher runs first when agents are busy."),
    max_concurrent: int | None = typer.Option(
        None, "--max-concurrent", min=1, help="At most this many builds at once (e.g. 1)."
    ),
    cancel_previous: bool = typer.Option(
        False, "--cancel-previous", help="A new build cancels older queued ones of its branch."
    ),
) -> None:
    """Create a job. Creating one that exists with the same definition changes nothing."""
    body: dict[str, Any] = {
        "name": name,
        "labels": [label for label in labels.split(",") if label],
        "env": _key_values(env, "--env"),
        "max_retries": max_retries,
        "priority": priority,
        "max_concurrent_builds": max_concurrent,
        "cancel_previous": cancel_previous,
    }
    if pipeline is not None:
        try:
            body["pipeline"] = pipeline.read_text()
        except OSError as exc:
            raise CliError(f"cannot read {pipeline}: {exc.strerror}") from None
    for key, value in (("scm_url", scm_url), ("branch", branch), ("timeout_seconds", timeout)):
        if value is not None:
            body[key] = value
    client = ApiClient()
    existing = client.get("/jobs", params={"name": name})["items"]
    if existing:
        job = existing[0]
        same = all(job.get(key) == value for key, value in body.items())
        if same:
            err_console.print(f"job {name} already exists, unchanged ({job['id']})")
            return
        raise CliError(f"a job named {name!r} already exists with a different definition")
    try:
        job = client.post("/jobs", body)
    except CliError as exc:
        raise _point_at_file(exc, pipeline) from None
    err_console.print(f"created job {job['name']} ({job['id']})")


@app.command("list")
def list_jobs() -> None:
    """List jobs."""
    jobs = ApiClient().get("/jobs")["items"]
    table = table_with_ids("name", "id", "labels", "repository")
    for job in jobs:
        table.add_row(job["name"], job["id"], ",".join(job["labels"]), job["scm_url"] or "")
    console.print(table)


@app.command("show")
def show(name: str) -> None:
    """Show a job's definition."""
    job = ApiClient().resolve_job(name)
    for key in (
        "id",
        "name",
        "scm_url",
        "branch",
        "labels",
        "max_retries",
        "timeout_seconds",
        "priority",
        "max_concurrent_builds",
        "cancel_previous",
    ):
        console.print(f"[bold]{key}:[/] {job[key]}")
    if job.get("pipeline"):
        console.print("[bold]pipeline:[/]")
        console.out(job["pipeline"].rstrip(), highlight=False)


@app.command("trigger")
def trigger(
    name: str,
    branch: str | None = typer.Option(None, "--branch"),
    commit: str | None = typer.Option(None, "--commit"),
    env: list[str] = typer.Option([], "--env", "-e", help="KEY=VALUE, repeatable."),
    follow: bool = typer.Option(
        False, "--follow", "-f", help="Print the log live; exit with the build's exit code."
    ),
) -> None:
    """Trigger a build of a job."""
    client = ApiClient()
    job = client.resolve_job(name)
    body: dict[str, Any] = {"env": _key_values(env, "--env")}
    if branch:
        body["branch"] = branch
    if commit:
        body["commit_sha"] = commit
    build = client.post(f"/jobs/{job['id']}/trigger", body)
    err_console.print(f"build #{build['number']} of {job['name']} queued ({build['id']})")
    if follow:
        finished = follow_build(client, build["id"])
        raise typer.Exit(exit_code_for(finished))
    console.out(build["id"])
