"""The jobs' `--retention-*` options: a job's own build retention (docs/running.md)."""

from typing import Any

import typer

from solvyd.cli.errors import CliError

UNLIMITED = "unlimited"
# On `jobs edit`: drop the job's own value, so the server's setting holds again.
DEFAULT = "default"

_VALUE_HELP = f"a number, '{UNLIMITED}' (no limit whatever the server's setting)"
DAYS_HELP = f"Remove the job's finished branch builds this many days after they end: {_VALUE_HELP}."
MAX_BUILDS_HELP = (
    f"Keep only the newest this many finished branch builds of the job: {_VALUE_HELP}."
)
PR_DAYS_HELP = f"As --retention-days, for the job's pull-request builds: {_VALUE_HELP}."
PR_MAX_BUILDS_HELP = f"As --retention-max-builds, for the job's pull-request builds: {_VALUE_HELP}."
EDIT_SUFFIX = f" '{DEFAULT}': the server's setting again."

RETENTION_DAYS = typer.Option(None, "--retention-days", metavar="DAYS", help=DAYS_HELP)
RETENTION_MAX_BUILDS = typer.Option(
    None, "--retention-max-builds", metavar="N", help=MAX_BUILDS_HELP
)
PR_RETENTION_DAYS = typer.Option(None, "--pr-retention-days", metavar="DAYS", help=PR_DAYS_HELP)
PR_RETENTION_MAX_BUILDS = typer.Option(
    None, "--pr-retention-max-builds", metavar="N", help=PR_MAX_BUILDS_HELP
)
EDIT_RETENTION_DAYS = typer.Option(
    None, "--retention-days", metavar="DAYS", help=DAYS_HELP + EDIT_SUFFIX
)
EDIT_RETENTION_MAX_BUILDS = typer.Option(
    None, "--retention-max-builds", metavar="N", help=MAX_BUILDS_HELP + EDIT_SUFFIX
)
EDIT_PR_RETENTION_DAYS = typer.Option(
    None, "--pr-retention-days", metavar="DAYS", help=PR_DAYS_HELP + EDIT_SUFFIX
)
EDIT_PR_RETENTION_MAX_BUILDS = typer.Option(
    None, "--pr-retention-max-builds", metavar="N", help=PR_MAX_BUILDS_HELP + EDIT_SUFFIX
)


def _value(option: str, text: str, *, editing: bool) -> int | str | None:
    text = text.strip().lower()
    if text == UNLIMITED:
        return UNLIMITED
    if editing and text == DEFAULT:
        return None
    # Not isdigit(): it takes "²", which int() refuses.
    if text.isdecimal():
        return int(text)  # the server checks the range
    allowed = f"a number, '{UNLIMITED}' or '{DEFAULT}'" if editing else f"a number or '{UNLIMITED}'"
    raise CliError(f"{option} takes {allowed}, got {text!r}")


def compact(retention: dict[str, Any] | None) -> dict[str, Any]:
    """The fields a job's retention sets, as the server stores them."""
    kept = {key: value for key, value in (retention or {}).items() if value is not None}
    if isinstance(kept.get("pull_requests"), dict):
        kept["pull_requests"] = compact(kept["pull_requests"])
        if not kept["pull_requests"]:
            del kept["pull_requests"]
    return kept


def retention_body(
    days: str | None,
    max_builds: str | None,
    pr_days: str | None,
    pr_max_builds: str | None,
    current: dict[str, Any] | None = None,
) -> dict[str, Any] | None:
    """The job's retention to send: the options over `current` (the job's, when editing);
    None if no option was given."""
    given = {
        ("days",): ("--retention-days", days),
        ("max_builds",): ("--retention-max-builds", max_builds),
        ("pull_requests", "days"): ("--pr-retention-days", pr_days),
        ("pull_requests", "max_builds"): ("--pr-retention-max-builds", pr_max_builds),
    }
    if all(text is None for _, text in given.values()):
        return None
    editing = current is not None
    policy = compact(current)
    pulls = dict(policy.get("pull_requests") or {})
    for path, (option, text) in given.items():
        if text is None:
            continue
        target = pulls if path[0] == "pull_requests" else policy
        target[path[-1]] = _value(option, text, editing=editing)
    policy["pull_requests"] = pulls
    return compact(policy)


def describe(retention: dict[str, Any] | None) -> str:
    """One line for `jobs show`."""
    policy = compact(retention)
    if not policy:
        return "the server's settings"
    parts = [f"{key}={policy[key]}" for key in ("days", "max_builds") if key in policy]
    pulls = policy.get("pull_requests") or {}
    parts += [f"pull_requests.{key}={pulls[key]}" for key in ("days", "max_builds") if key in pulls]
    return ", ".join(parts) + " (other fields: the server's settings)"
