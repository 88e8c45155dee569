"""A `BuildNotice` as the plain facts every message is made of: the JSON of the webhook
notifier and the words of the email and Slack messages."""

from datetime import datetime
from typing import Any

from solvyd.server.notify.base import BuildNotice

# The words a message uses for each outcome.
OUTCOME_WORDS = {
    "started": "started",
    "success": "passed",
    "fixed": "is fixed",
    "failure": "failed",
    "error": "could not run",
    "cancelled": "was cancelled",
}


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment is not None else None


def build_fields(notice: BuildNotice) -> dict[str, Any]:
    """The build's part of the webhook's JSON (docs/notifications.md)."""
    pull = notice.pull_request
    return {
        "id": notice.build_id,
        "number": notice.number,
        "status": notice.status,
        "outcome": notice.outcome,
        "trigger": notice.trigger,
        "branch": notice.branch,
        "tag": notice.tag,
        "commit_sha": notice.commit_sha,
        "commit_message": notice.commit_message,
        "commit_author": notice.commit_author,
        "pull_request": None
        if pull is None
        else {
            "number": pull.number,
            "title": pull.title,
            "source_branch": pull.source_branch,
            "target_branch": pull.target_branch,
            "from_fork": pull.from_fork,
        },
        "queued_at": iso(notice.queued_at),
        "started_at": iso(notice.started_at),
        "completed_at": iso(notice.completed_at),
        "duration_seconds": notice.duration_seconds,
        "error_message": notice.error_message,
        "url": notice.url,
        "failed_step": notice.failed_step,
        "log_tail": list(notice.log_tail),
    }


def headline(notice: BuildNotice) -> str:
    """One line: "app #12 failed on main"."""
    where = ""
    if notice.tag:
        where = f" at tag {notice.tag}"
    elif notice.pull_request is not None:
        where = f" for pull request #{notice.pull_request.number}"
    elif notice.branch:
        where = f" on {notice.branch}"
    words = OUTCOME_WORDS.get(notice.outcome, notice.outcome)
    return f"{notice.job_name} #{notice.number} {words}{where}"


def duration_text(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    whole = round(seconds)
    minutes, secs = divmod(whole, 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h {minutes}m {secs}s"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"


def first_line(text: str | None, limit: int = 200) -> str | None:
    if not text:
        return None
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


def facts(notice: BuildNotice) -> list[tuple[str, str]]:
    """(label, value) pairs for a message, in reading order; unknown facts left out."""
    rows: list[tuple[str, str | None]] = [
        ("Job", notice.job_name),
        ("Build", f"#{notice.number}"),
        ("Status", notice.status),
        ("Branch", notice.branch),
        ("Tag", notice.tag),
        (
            "Pull request",
            None
            if notice.pull_request is None
            else f"#{notice.pull_request.number} {notice.pull_request.title or ''}".strip(),
        ),
        ("Commit", (notice.commit_sha or "")[:12] or None),
        ("Message", first_line(notice.commit_message)),
        ("Author", notice.commit_author),
        ("Duration", duration_text(notice.duration_seconds)),
        ("Error", notice.error_message),
        ("Failed step", notice.failed_step),
    ]
    return [(label, value) for label, value in rows if value]
