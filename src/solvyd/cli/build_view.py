"""How builds look in the terminal: their status in colour, the details `builds show`
prints, the tables of `builds list` and `builds artifacts`. Everything from the server goes
in as plain text (`LiteralConsole`), styles only as `Text` styles."""

from typing import Any

from rich.console import Group, RenderableType
from rich.text import Text

from solvyd.cli.display import table_with_ids, when
from solvyd.cli.notify_rules import typed_target
from solvyd.cli.output import printable

# Any other status (pending, skipped, one a newer server adds) is shown without a style.
STATUS_STYLE = {
    "success": "green",
    "failure": "red",
    "error": "red",
    "cancelled": "yellow",
    "running": "cyan",
    "queued": "dim",
    "pending": "dim",
    "skipped": "dim",
}
DETAIL_KEYS = (
    "id",
    "branch",
    "commit_sha",
    "trigger",
    "event",
    "tag",
    "commit_author",
    "approved_by",
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
)


def status_text(status: object) -> Text:
    text = printable(status)
    return Text(text, style=STATUS_STYLE.get(text, ""))


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def build_details(build: dict[str, Any], artifacts: list[dict[str, Any]]) -> RenderableType:
    """`builds show`: the build, its steps and its artifacts."""
    title = f"{build.get('job_name') or build.get('job_id')} #{build.get('number')}"
    lines = [Text.assemble((printable(title), "bold"), " ", status_text(build.get("status")))]
    for key in DETAIL_KEYS:
        if build.get(key) is not None:
            lines.append(Text(f"  {key}: {printable(build[key])}"))
    pull_request = build.get("pull_request")
    if isinstance(pull_request, dict):
        pr = {key: printable(value) for key, value in pull_request.items()}
        fork = " from a fork" if pull_request.get("from_fork") else ""
        lines.append(
            Text(
                f"  pull_request: #{pr.get('number')} {pr.get('title')} "
                f"({pr.get('source_branch')} -> {pr.get('target_branch')}{fork})"
            )
        )
    for step in build.get("steps") or []:
        code = "" if step.get("exit_code") is None else f" (exit {step['exit_code']})"
        lines.append(
            Text.assemble(
                f"  step {printable(step.get('name'))}: ", status_text(step.get("status")), code
            )
        )
    if artifacts:
        lines.append(Text("  artifacts:"))
        for artifact in artifacts:
            size = human_size(int(artifact.get("size_bytes") or 0))
            lines.append(Text(f"    {printable(artifact.get('name'))} ({size})"))
    lines += notification_lines(build.get("notifications") or [])
    return Group(*lines)


# A delivery's status; "pending" is still being tried (or waits for its next attempt).
DELIVERY_STYLE = {"sent": "green", "failed": "red", "pending": "yellow"}


def notification_lines(deliveries: list[Any]) -> list[Text]:
    """The build's notification deliveries: what went where, for which event, how it went,
    and the last error in full (a failed one's reason is the point of showing it)."""
    if not deliveries:
        return []
    lines = [Text("  notifications:")]
    for delivery in deliveries:
        if not isinstance(delivery, dict):
            continue
        status = printable(delivery.get("status"))
        attempts = delivery.get("attempts")
        tries = "" if attempts is None else f", {attempts} attempt{'' if attempts == 1 else 's'}"
        target = typed_target(delivery.get("type"), delivery.get("target"))
        what = printable(
            f"    [{delivery.get('rule')}] {target} "
            f"{delivery.get('event')} ({delivery.get('outcome')}): "
        )
        lines.append(Text.assemble(what, (status, DELIVERY_STYLE.get(status, "")), tries))
        if delivery.get("last_error"):
            lines.append(Text(f"      last error: {printable(delivery['last_error'])}"))
    return lines


def builds_table(builds: list[dict[str, Any]]) -> RenderableType:
    table = table_with_ids("job", "#", "status", "queued", "duration", "id")
    for build in builds:
        duration = build.get("duration_seconds")
        table.add_row(
            str(build.get("job_name") or build.get("job_id")),
            str(build.get("number")),
            status_text(build.get("status")),
            when(build.get("queued_at")),
            f"{duration:.1f}s" if duration is not None else "",
            str(build.get("id")),
        )
    return table


def artifacts_table(artifacts: list[dict[str, Any]]) -> RenderableType:
    table = table_with_ids("path", "size", "created", "sha256")
    for artifact in artifacts:
        table.add_row(
            str(artifact.get("name")),
            human_size(int(artifact.get("size_bytes") or 0)),
            when(artifact.get("created_at")),
            str(artifact.get("sha256") or ""),
        )
    return table
