from pathlib import Path
from typing import Any

import click
import typer
from rich.text import Text

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


SCM_URL_HELP = (
    "The repository builds check out: https://..., ssh (git@host:org/repo.git), or a path or "
    "file:// URL on the agent's machine. Without --pipeline, builds run its .solvyd.yml."
)


CHECKOUT_CREDENTIALS_HELP = (
    "The name of a secret (set with `solvyd secrets set`) holding an HTTPS token "
    "(TOKEN or USERNAME:TOKEN) or an SSH private key, used for the checkout only."
)


def _read_pipeline(pipeline: Path) -> str:
    try:
        return pipeline.read_text()
    except OSError as exc:
        raise CliError(f"cannot read {pipeline}: {exc.strerror}") from None


@app.command("create")
def create(
    name: str,
    pipeline: Path | None = typer.Option(None, "--pipeline", "-p", help="A pipeline YAML file."),
    scm_url: str | None = typer.Option(None, "--scm-url", help=SCM_URL_HELP),
    branch: str | None = typer.Option(None, "--branch", help="The branch builds check out."),
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
    checkout_credentials: str | None = typer.Option(
        None, "--checkout-credentials", metavar="SECRET", help=CHECKOUT_CREDENTIALS_HELP
    ),
) -> None:
    """Create a job. Creating one that exists with the same definition changes nothing."""
    body: dict[str, Any] = {
        "name": name,
        "labels": [label.strip() for label in labels.split(",") if label.strip()],
        "env": _key_values(env, "--env"),
        "max_retries": max_retries,
        "priority": priority,
        "max_concurrent_builds": max_concurrent,
        "cancel_previous": cancel_previous,
    }
    if pipeline is not None:
        body["pipeline"] = _read_pipeline(pipeline)
    for key, value in (
        ("scm_url", scm_url),
        ("branch", branch),
        ("timeout_seconds", timeout),
        ("checkout_credentials", checkout_credentials),
    ):
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
        "checkout_credentials",
    ):
        console.print(Text(f"{key}:", style="bold"), str(job.get(key)))
    if job.get("pipeline"):
        console.print("pipeline:", style="bold")
        console.out(job["pipeline"].rstrip(), highlight=False)
    elif job.get("build_config"):
        console.print(
            Text("pipeline:", style="bold"), "the job's build_config (the seed's one-step form)"
        )
    else:
        path = job.get("pipeline_path") or ".solvyd.yml"
        console.print(Text("pipeline:", style="bold"), f"from the repository ({path})")


@app.command("edit")
def edit(
    name: str,
    description: str | None = typer.Option(
        None, "--description", help="A line saying what the job is for."
    ),
    scm_url: str | None = typer.Option(
        None, "--scm-url", help=SCM_URL_HELP + " An empty value removes it."
    ),
    branch: str | None = typer.Option(
        None, "--branch", help="The branch builds check out; an empty value: the default one."
    ),
    pipeline: Path | None = typer.Option(
        None, "--pipeline", "-p", help="Use this pipeline YAML file from now on."
    ),
    from_repository: bool = typer.Option(
        False,
        "--pipeline-from-repo",
        help="Drop the job's own pipeline: builds run the repository's file again.",
    ),
    pipeline_path: str | None = typer.Option(
        None, "--pipeline-path", help="The repository's pipeline file (default .solvyd.yml)."
    ),
    labels: str | None = typer.Option(
        None, "--labels", help="Comma-separated labels, replacing the job's (empty: none)."
    ),
    env: list[str] = typer.Option([], "--env", "-e", help="KEY=VALUE to set, repeatable."),
    unset_env: list[str] = typer.Option([], "--unset-env", help="KEY to remove, repeatable."),
    max_retries: int | None = typer.Option(None, "--max-retries"),
    timeout: int | None = typer.Option(
        None, "--timeout", min=0, help="Build timeout in seconds; 0 for none."
    ),
    priority: int | None = typer.Option(None, "--priority"),
    max_concurrent: int | None = typer.Option(
        None, "--max-concurrent", min=0, help="At most this many builds at once; 0 for no limit."
    ),
    cancel_previous: bool | None = typer.Option(None, "--cancel-previous/--no-cancel-previous"),
    secrets_for_forks: bool | None = typer.Option(
        None, "--secrets-for-forks/--no-secrets-for-forks"
    ),
    checkout_credentials: str | None = typer.Option(
        None,
        "--checkout-credentials",
        metavar="SECRET",
        help=CHECKOUT_CREDENTIALS_HELP + " An empty value removes it.",
    ),
) -> None:
    """Change a job: only the options given change, everything else stays."""
    if pipeline is not None and from_repository:
        raise CliError("give --pipeline FILE or --pipeline-from-repo, not both")
    body: dict[str, Any] = {}
    for key, text in (("description", description), ("scm_url", scm_url), ("branch", branch)):
        if text is not None:
            body[key] = text or (None if key != "description" else "")
    if pipeline is not None:
        body["pipeline"] = _read_pipeline(pipeline)
    if from_repository:
        body |= {"pipeline": None, "build_config": None}
    if pipeline_path is not None:
        body["pipeline_path"] = pipeline_path
    if labels is not None:
        body["labels"] = [label.strip() for label in labels.split(",") if label.strip()]
    for key, number in (("max_retries", max_retries), ("priority", priority)):
        if number is not None:
            body[key] = number
    if timeout is not None:
        body["timeout_seconds"] = timeout or None
    if max_concurrent is not None:
        body["max_concurrent_builds"] = max_concurrent or None
    if cancel_previous is not None:
        body["cancel_previous"] = cancel_previous
    if secrets_for_forks is not None:
        body["secrets_for_forks"] = secrets_for_forks
    if checkout_credentials is not None:
        body["checkout_credentials"] = checkout_credentials or None
    client = ApiClient()
    job = client.resolve_job(name)
    if env or unset_env:
        variables = dict(job["env"]) | _key_values(env, "--env")
        for key in unset_env:
            if variables.pop(key, None) is None:
                raise CliError(f"job {job['name']} has no variable {key!r} to unset")
        body["env"] = variables
    if not body:
        raise CliError("nothing to change: give at least one option (see --help)")
    try:
        client.patch(f"/jobs/{job['id']}", body)
    except CliError as exc:
        raise _point_at_file(exc, pipeline) from None
    err_console.print(f"updated job {job['name']}: {', '.join(sorted(body))}", highlight=False)


@app.command("delete")
def delete(
    name: str,
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Delete a job with all its builds, their logs and artifacts, and its secrets."""
    client = ApiClient()
    job = client.resolve_job(name)
    if not yes:
        question = (
            f"Delete job {job['name']} with all its builds, their logs and artifacts, and its "
            "secrets? This cannot be undone."
        )
        try:
            confirmed = typer.confirm(question, default=False, err=True)
        except (click.Abort, typer.Abort):  # no answer (stdin closed)
            err_console.print()  # ends the question's line
            confirmed = False
        if not confirmed:
            raise CliError(f"job {job['name']} was not deleted (add --yes to skip the question)")
    client.request("DELETE", f"/jobs/{job['id']}")
    err_console.print(f"deleted job {job['name']} ({job['id']})", highlight=False)


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
