import json
from pathlib import Path
from typing import Any

import click
import typer
from rich.text import Text

from solvyd.cli import job_retention, notify_rules
from solvyd.cli.api_client import ApiClient
from solvyd.cli.display import table_with_ids
from solvyd.cli.errors import CliError
from solvyd.cli.follow import exit_code_for, follow_build
from solvyd.cli.hidden_input import read_hidden
from solvyd.cli.job_notifications import notify_test, print_rules
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


SCHEDULE_HELP = (
    "CRON[;branch=B][;tz=ZONE][;env=K=V]: a build at each time the five-field cron "
    "expression names (e.g. '0 3 * * *;tz=Europe/Berlin'). Repeatable."
)
_SCHEDULE_KEYS = {"branch": "branch", "tz": "timezone", "timezone": "timezone"}


def parse_schedule(text: str) -> dict[str, Any]:
    """`--schedule` text as the API's schedule object, its defaults filled in."""
    cron, *options = (part.strip() for part in text.split(";"))
    if not cron:
        raise CliError(f"--schedule needs a cron expression first, got {text!r}")
    schedule: dict[str, Any] = {"cron": cron, "branch": None, "env": {}, "timezone": "UTC"}
    for option in options:
        key, sep, value = option.partition("=")
        if key == "env" and sep:
            schedule["env"] |= _key_values([value], "--schedule env")
        elif key in _SCHEDULE_KEYS and sep and value:
            schedule[_SCHEDULE_KEYS[key]] = value
        else:
            raise CliError(f"--schedule option {option!r} is none of branch=B, tz=ZONE, env=K=V")
    return schedule


def _same_definition(job: dict[str, Any], body: dict[str, Any]) -> bool:
    def stored(key: str) -> Any:
        if key == "schedules":  # without the times the server adds
            return [{k: v for k, v in s.items() if k != "next_run_at"} for s in job[key]]
        return job.get(key)

    def same(key: str, value: Any) -> bool:
        if key == "notifications":  # the server fills in a rule's default events
            return notify_rules.same_rules(job.get(key), value)
        if key == "retention":  # the server shows the fields a job does not set as null
            return job_retention.compact(job.get(key)) == job_retention.compact(value)
        return bool(stored(key) == value)

    return all(same(key, value) for key, value in body.items())


SCM_URL_HELP = (
    "The repository builds check out: https://..., ssh (git@host:org/repo.git), or a path or "
    "file:// URL on the agent's machine. Without --pipeline, builds run its .solvyd.yml."
)


FORK_SECRETS_HELP = "Builds of pull requests from forks get the job's secrets too (default: no)."
FORK_APPROVAL_HELP = (
    "Builds of pull requests from forks wait for a developer's approval (default: no)."
)

FORGE_HELP = (
    'Report build states on the commit: a JSON object {"type": "github"|"gitlab"|"gitea"|'
    '"bitbucket", "api_url"?, "repository"?, "token_secret"} (or use the --forge-* options).'
)


def _forge(
    text: str | None,
    fields: dict[str, str | None],
    current: dict[str, Any] | None = None,
) -> dict[str, Any] | None:
    """The forge to send: --forge's JSON, or the --forge-* options over `current` (the job's
    forge, when editing); None if neither was given. The server checks the whole."""
    given = {key: value for key, value in fields.items() if value is not None}
    if text is not None and given:
        raise CliError("give --forge JSON or the --forge-* options, not both")
    if text is not None:
        try:
            forge = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CliError(f"--forge is not JSON: {exc.msg}") from None
        if not isinstance(forge, dict):
            raise CliError("--forge must be a JSON object")
        return forge
    if not given:
        return None
    return {**(current or {}), **{key: value or None for key, value in given.items()}}


def _forge_fields(
    forge_type: str | None, api_url: str | None, repository: str | None, token: str | None
) -> dict[str, str | None]:
    return {
        "type": forge_type,
        "api_url": api_url,
        "repository": repository,
        "token_secret": token,
    }


WEBHOOK_PROMPT_HELP = (
    "Ask for the secret that verifies the forges' webhooks (typed without echo); see "
    "docs/forges.md."
)
TRIGGER_EVENTS_HELP = "Comma-separated events webhooks build: push, tag, pull_request."
BRANCHES_HELP = "Comma-separated branch globs webhooks build (a pull request: its target)."
PATHS_HELP = "Comma-separated globs of changed files a webhook push must touch (** spans dirs)."


def _webhook_secret(prompt: bool, from_stdin: bool, path: Path | None) -> str | None:
    """The webhook secret from a prompt, stdin or a file: never an argument of its own, which
    the shell's history and `ps` would show."""
    if sum((prompt, from_stdin, path is not None)) > 1:
        raise CliError(
            "give one of --webhook-secret, --webhook-secret-stdin, --webhook-secret-file"
        )
    if path is not None:
        try:
            return path.read_text().removesuffix("\n").removesuffix("\r")
        except OSError as exc:
            raise CliError(f"cannot read {path}: {exc.strerror}") from None
    if prompt or from_stdin:
        return read_hidden(
            "webhook secret", from_stdin=from_stdin, stdin_flag="--webhook-secret-stdin"
        )
    return None


def _csv(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _webhook_fields(
    trigger_events: str | None, branches: str | None, paths: str | None
) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for key, text in (("trigger_events", trigger_events), ("branches", branches), ("paths", paths)):
        if text is not None:
            fields[key] = _csv(text)
    return fields


CHECKOUT_CREDENTIALS_HELP = (
    "The name of a secret (set with `solvyd secrets set`) holding an HTTPS token "
    "(TOKEN or USERNAME:TOKEN) or an SSH private key, used for the checkout only."
)


NOTIFICATIONS = typer.Option(
    None, "--notifications", metavar="FILE", help=notify_rules.NOTIFICATIONS_HELP
)
NOTIFY_EMAIL = typer.Option(
    [], "--notify-email", metavar="ADDR", help=notify_rules.NOTIFY_EMAIL_HELP
)
NOTIFY_SLACK = typer.Option(
    [], "--notify-slack", metavar="SECRET", help=notify_rules.NOTIFY_SLACK_HELP
)
NOTIFY_WEBHOOK = typer.Option(
    [], "--notify-webhook", metavar="URL", help=notify_rules.NOTIFY_WEBHOOK_HELP
)
NOTIFY_WEBHOOK_SECRET = typer.Option(
    None,
    "--notify-webhook-secret",
    metavar="SECRET",
    help=notify_rules.NOTIFY_SIGNING_HELP,
)
NOTIFY_ON = typer.Option(None, "--notify-on", metavar="EVENTS", help=notify_rules.NOTIFY_ON_HELP)
NOTIFY_BRANCHES = typer.Option(
    None, "--notify-branches", metavar="GLOBS", help=notify_rules.NOTIFY_BRANCHES_HELP
)


def _rules_file(source: str | None) -> list[Any] | None:
    return None if source is None else notify_rules.read_rules_file(source)


def _one_reader_of_stdin(notifications: str | None, webhook_secret_stdin: bool) -> None:
    if notifications == "-" and webhook_secret_stdin:
        raise CliError("--notifications - and --webhook-secret-stdin cannot both read stdin")


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
        False,
        "--cancel-previous",
        help="A new build cancels older queued ones of its kind and branch.",
    ),
    fork_secrets: bool = typer.Option(
        False,
        "--fork-secrets/--no-fork-secrets",
        "--secrets-for-forks/--no-secrets-for-forks",
        help=FORK_SECRETS_HELP,
    ),
    fork_approval: bool = typer.Option(
        False, "--fork-approval/--no-fork-approval", help=FORK_APPROVAL_HELP
    ),
    forge: str | None = typer.Option(None, "--forge", help=FORGE_HELP),
    forge_type: str | None = typer.Option(
        None, "--forge-type", help="github, gitlab, gitea or bitbucket."
    ),
    forge_api_url: str | None = typer.Option(
        None, "--forge-api-url", help="The forge's API URL (needed for Gitea, self-hosted)."
    ),
    forge_repository: str | None = typer.Option(
        None, "--forge-repository", help="owner/repo (default: from --scm-url)."
    ),
    forge_token_secret: str | None = typer.Option(
        None, "--forge-token-secret", help="The secret holding the forge's API token."
    ),
    webhook_secret: bool = typer.Option(False, "--webhook-secret", help=WEBHOOK_PROMPT_HELP),
    webhook_secret_stdin: bool = typer.Option(
        False, "--webhook-secret-stdin", help="Read the webhook secret from standard input."
    ),
    webhook_secret_file: Path | None = typer.Option(
        None, "--webhook-secret-file", help="Read the webhook secret from this file."
    ),
    trigger_events: str | None = typer.Option(None, "--trigger-events", help=TRIGGER_EVENTS_HELP),
    branches: str | None = typer.Option(None, "--branches", help=BRANCHES_HELP),
    paths: str | None = typer.Option(None, "--paths", help=PATHS_HELP),
    schedules: list[str] = typer.Option([], "--schedule", help=SCHEDULE_HELP),
    public_badge: bool = typer.Option(
        False, "--public-badge/--no-public-badge", help="Anyone may see the job's build badge."
    ),
    checkout_credentials: str | None = typer.Option(
        None, "--checkout-credentials", metavar="SECRET", help=CHECKOUT_CREDENTIALS_HELP
    ),
    notifications: str | None = NOTIFICATIONS,
    notify_email: list[str] = NOTIFY_EMAIL,
    notify_slack: list[str] = NOTIFY_SLACK,
    notify_webhook: list[str] = NOTIFY_WEBHOOK,
    notify_webhook_secret: str | None = NOTIFY_WEBHOOK_SECRET,
    notify_on: str | None = NOTIFY_ON,
    notify_branches: str | None = NOTIFY_BRANCHES,
    retention_days: str | None = job_retention.RETENTION_DAYS,
    retention_max_builds: str | None = job_retention.RETENTION_MAX_BUILDS,
    pr_retention_days: str | None = job_retention.PR_RETENTION_DAYS,
    pr_retention_max_builds: str | None = job_retention.PR_RETENTION_MAX_BUILDS,
) -> None:
    """Create a job. Creating one that exists with the same definition changes nothing."""
    _one_reader_of_stdin(notifications, webhook_secret_stdin)
    body: dict[str, Any] = {
        "name": name,
        "labels": [label.strip() for label in labels.split(",") if label.strip()],
        "env": _key_values(env, "--env"),
        "max_retries": max_retries,
        "priority": priority,
        "max_concurrent_builds": max_concurrent,
        "cancel_previous": cancel_previous,
        "fork_secrets": fork_secrets,
        "fork_approval": fork_approval,
        "schedules": [parse_schedule(text) for text in schedules],
        "public_badge": public_badge,
    }
    fields = _forge_fields(forge_type, forge_api_url, forge_repository, forge_token_secret)
    forge_body = _forge(forge, fields)
    if forge_body is not None:
        # Unset fields as the server shows them, so that creating the same job again matches.
        body["forge"] = {"api_url": None, "repository": None, **forge_body}
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
    body |= _webhook_fields(trigger_events, branches, paths)
    added = notify_rules.shorthand_rules(
        email=notify_email,
        slack=notify_slack,
        webhook=notify_webhook,
        webhook_secret=notify_webhook_secret,
        on=notify_on,
        branches=notify_branches,
    )
    rules = _rules_file(notifications)
    if rules is not None or added:
        body["notifications"] = (rules or []) + added
    retention = job_retention.retention_body(
        retention_days, retention_max_builds, pr_retention_days, pr_retention_max_builds
    )
    if retention is not None:
        body["retention"] = retention
    secret = _webhook_secret(webhook_secret, webhook_secret_stdin, webhook_secret_file)
    client = ApiClient()
    existing = client.get("/jobs", params={"name": name})["items"]
    if existing:
        job = existing[0]
        # A secret is never shown: only whether the job has one can be compared.
        same = _same_definition(job, body) and (
            secret is None or job.get("has_webhook_secret") is True
        )
        if same:
            err_console.print(f"job {name} already exists, unchanged ({job['id']})")
            return
        raise CliError(f"a job named {name!r} already exists with a different definition")
    if secret is not None:
        body["webhook_secret"] = secret
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
        "fork_secrets",
        "fork_approval",
        "has_webhook_secret",
        "trigger_events",
        "branches",
        "paths",
        "public_badge",
        "next_run_at",
        "checkout_credentials",
    ):
        if key in job:
            console.print(Text(f"{key}:", style="bold"), str(job[key]))
    if job.get("forge"):
        forge = job["forge"]
        where = forge.get("repository") or "(from scm_url)"
        console.print(
            Text("forge:", style="bold"),
            f"{forge['type']} {where}, token in secret {forge['token_secret']}",
            highlight=False,
        )
    print_rules(job.get("notifications"))
    console.print(
        Text("retention:", style="bold"),
        job_retention.describe(job.get("retention")),
        highlight=False,
    )
    if job.get("schedules"):
        console.print("schedules:", style="bold")
        for schedule in job["schedules"]:
            console.out(f"  {_describe_schedule(schedule)}", highlight=False)
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


def _describe_schedule(schedule: dict[str, Any]) -> str:
    parts = [schedule["cron"], f"tz={schedule.get('timezone') or 'UTC'}"]
    if schedule.get("branch"):
        parts.append(f"branch={schedule['branch']}")
    parts += [f"env={key}={value}" for key, value in (schedule.get("env") or {}).items()]
    return f"{';'.join(parts)}  next run: {schedule.get('next_run_at') or '-'}"


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
    fork_secrets: bool | None = typer.Option(
        None,
        "--fork-secrets/--no-fork-secrets",
        "--secrets-for-forks/--no-secrets-for-forks",
        help=FORK_SECRETS_HELP,
    ),
    fork_approval: bool | None = typer.Option(
        None, "--fork-approval/--no-fork-approval", help=FORK_APPROVAL_HELP
    ),
    forge: str | None = typer.Option(None, "--forge", help=FORGE_HELP),
    forge_type: str | None = typer.Option(
        None, "--forge-type", help="github, gitlab, gitea or bitbucket."
    ),
    forge_api_url: str | None = typer.Option(
        None, "--forge-api-url", help="The forge's API URL (needed for Gitea, self-hosted)."
    ),
    forge_repository: str | None = typer.Option(
        None, "--forge-repository", help="owner/repo (default: from --scm-url)."
    ),
    forge_token_secret: str | None = typer.Option(
        None, "--forge-token-secret", help="The secret holding the forge's API token."
    ),
    no_forge: bool = typer.Option(
        False, "--no-forge", help="Stop reporting build states on the commit."
    ),
    webhook_secret: bool = typer.Option(False, "--webhook-secret", help=WEBHOOK_PROMPT_HELP),
    webhook_secret_stdin: bool = typer.Option(
        False, "--webhook-secret-stdin", help="Read the webhook secret from standard input."
    ),
    webhook_secret_file: Path | None = typer.Option(
        None, "--webhook-secret-file", help="Read the webhook secret from this file."
    ),
    no_webhook_secret: bool = typer.Option(
        False, "--no-webhook-secret", help="Remove the webhook secret: no webhook builds the job."
    ),
    trigger_events: str | None = typer.Option(None, "--trigger-events", help=TRIGGER_EVENTS_HELP),
    branches: str | None = typer.Option(
        None, "--branches", help=BRANCHES_HELP + " An empty value: every branch."
    ),
    paths: str | None = typer.Option(
        None, "--paths", help=PATHS_HELP + " An empty value: any change."
    ),
    schedules: list[str] = typer.Option(
        [], "--schedule", help=SCHEDULE_HELP + " Replaces the job's schedules."
    ),
    clear_schedules: bool = typer.Option(
        False, "--clear-schedules", help="Remove all of the job's schedules."
    ),
    public_badge: bool | None = typer.Option(None, "--public-badge/--no-public-badge"),
    checkout_credentials: str | None = typer.Option(
        None,
        "--checkout-credentials",
        metavar="SECRET",
        help=CHECKOUT_CREDENTIALS_HELP + " An empty value removes it.",
    ),
    notifications: str | None = NOTIFICATIONS,
    notify_email: list[str] = NOTIFY_EMAIL,
    notify_slack: list[str] = NOTIFY_SLACK,
    notify_webhook: list[str] = NOTIFY_WEBHOOK,
    notify_webhook_secret: str | None = NOTIFY_WEBHOOK_SECRET,
    notify_on: str | None = NOTIFY_ON,
    notify_branches: str | None = NOTIFY_BRANCHES,
    retention_days: str | None = job_retention.EDIT_RETENTION_DAYS,
    retention_max_builds: str | None = job_retention.EDIT_RETENTION_MAX_BUILDS,
    pr_retention_days: str | None = job_retention.EDIT_PR_RETENTION_DAYS,
    pr_retention_max_builds: str | None = job_retention.EDIT_PR_RETENTION_MAX_BUILDS,
) -> None:
    """Change a job: only the options given change, everything else stays."""
    _one_reader_of_stdin(notifications, webhook_secret_stdin)
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
    if fork_secrets is not None:
        body["fork_secrets"] = fork_secrets
    if fork_approval is not None:
        body["fork_approval"] = fork_approval
    body |= _webhook_fields(trigger_events, branches, paths)
    secret = _webhook_secret(webhook_secret, webhook_secret_stdin, webhook_secret_file)
    if secret is not None and no_webhook_secret:
        raise CliError("give a webhook secret or --no-webhook-secret, not both")
    if secret is not None or no_webhook_secret:
        body["webhook_secret"] = secret
    if schedules and clear_schedules:
        raise CliError("give --schedule or --clear-schedules, not both")
    if schedules or clear_schedules:
        body["schedules"] = [parse_schedule(text) for text in schedules]
    if public_badge is not None:
        body["public_badge"] = public_badge
    if checkout_credentials is not None:
        body["checkout_credentials"] = checkout_credentials or None
    # Read before asking the server: a bad rules file sends nothing.
    added = notify_rules.shorthand_rules(
        email=notify_email,
        slack=notify_slack,
        webhook=notify_webhook,
        webhook_secret=notify_webhook_secret,
        on=notify_on,
        branches=notify_branches,
    )
    rules = _rules_file(notifications)
    client = ApiClient()
    job = client.resolve_job(name)
    if rules is not None or added:
        # A file replaces the job's rules; the shorthands alone add to them.
        kept = rules if rules is not None else list(job.get("notifications") or [])
        body["notifications"] = kept + added
    fields = _forge_fields(forge_type, forge_api_url, forge_repository, forge_token_secret)
    forge_body = _forge(forge, fields, job.get("forge"))
    if no_forge and forge_body is not None:
        raise CliError("give --no-forge or a forge, not both")
    if no_forge:
        body["forge"] = None
    elif forge_body is not None:
        body["forge"] = forge_body
    retention = job_retention.retention_body(
        retention_days,
        retention_max_builds,
        pr_retention_days,
        pr_retention_max_builds,
        current=job.get("retention") or {},
    )
    if retention is not None:
        body["retention"] = retention or None
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


# The API's verb (PATCH is an update), for whoever reaches for it.
app.command("update", help="Change a job: the same as `edit`.")(edit)
app.command("notify-test")(notify_test)


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
