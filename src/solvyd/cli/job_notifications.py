"""A job's notifications in the terminal: its rules in `jobs show`, and `jobs notify-test`,
which has the server send a test notice through each rule now and prints what happened."""

from typing import Any

import typer
from rich.text import Text

from solvyd.cli.api_client import ApiClient
from solvyd.cli.errors import CliError
from solvyd.cli.notify_rules import describe_rule, typed_target
from solvyd.cli.output import console, err_console, printable


def print_rules(rules: list[Any] | None) -> None:
    """The rules, numbered by their index: the number `notify-test --rule`, the server's
    refusals and a build's deliveries use."""
    if not rules:
        console.print(Text("notifications:", style="bold"), "none")
        return
    console.print("notifications:", style="bold")
    for index, rule in enumerate(rules):
        console.out(f"  [{index}] {printable(describe_rule(rule))}", highlight=False)


def result_line(result: dict[str, Any]) -> Text:
    """One rule's test result: `[N] type target: ok` or `... failed: error`."""
    target = typed_target(result.get("type"), result.get("target"))
    head = printable(f"[{result.get('rule')}] {target}: ")
    if result.get("ok"):
        return Text.assemble(head, ("ok", "green"))
    error = printable(result.get("error") or "no reason given")
    return Text.assemble(head, ("failed", "red"), f": {error}")


def notify_test(
    name: str,
    rule: int | None = typer.Option(
        None, "--rule", min=0, help="Only the rule of this number (as `jobs show` numbers them)."
    ),
) -> None:
    """Send a test notification through the job's rules (or one) now; exit 1 if any failed."""
    client = ApiClient()
    job = client.resolve_job(name)
    rules = job.get("notifications") or []
    if not rules:
        raise CliError(f"job {job['name']} has no notification rules to test")
    if rule is not None and rule >= len(rules):
        raise CliError(
            f"job {job['name']} has rules 0 to {len(rules) - 1}; there is no rule {rule}"
        )
    answer = client.post(f"/jobs/{job['id']}/notifications/test", {"rule": rule})
    results = answer.get("results") if isinstance(answer, dict) else None
    if not isinstance(results, list):
        raise CliError("the server's answer to the test has no results")
    for result in results:
        console.print(result_line(result if isinstance(result, dict) else {}))
    failed = [r for r in results if not (isinstance(r, dict) and r.get("ok"))]
    if failed:
        err_console.print(f"{len(failed)} of {len(results)} test notifications failed")
        raise typer.Exit(1)
