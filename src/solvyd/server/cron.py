"""Cron arithmetic for job schedules, on croniter: checking an expression and a time zone, the
latest due time at or before a moment, the next one after it. No database, no I/O."""

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterError, croniter

# croniter's own names for common expressions; anything else must be the five classic fields
# (minute hour day-of-month month day-of-week). A sixth field would mean seconds to croniter
# and a year to others: refused rather than guessed.
ALIASES = frozenset(
    {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
)
DEFAULT_TIMEZONE = "UTC"
# More due times than a day of minutes between croniter's step back and now would be a bug.
_MAX_STEPS = 1500


def check_cron(expression: str) -> str:
    """The expression, stripped; ValueError saying why if it is no usable schedule."""
    text = " ".join(expression.split())
    if text not in ALIASES and len(text.split(" ")) != 5:
        raise ValueError(
            f"{expression!r} is no cron expression: write five fields "
            "(minute hour day-of-month month day-of-week), e.g. '0 3 * * *'"
        )
    if not croniter.is_valid(text):
        raise ValueError(f"{expression!r} is no valid cron expression")
    try:
        # An expression that never matches (31 February) is valid syntax but no schedule.
        croniter(text, datetime.now(UTC)).get_next(datetime)
    except (CroniterError, ValueError) as exc:
        raise ValueError(f"{expression!r} never comes due") from exc
    return text


def check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(
            f"unknown time zone {name!r}: use an IANA name like 'Europe/Berlin'"
        ) from exc
    return name


def latest_due(expression: str, timezone: str, now: datetime) -> datetime:
    """The latest time at or before `now` the expression names, in UTC."""
    return due_times(expression, timezone, now)[0]


def due_times(expression: str, timezone: str, now: datetime) -> tuple[datetime, datetime]:
    """The latest time at or before `now` the expression names, and the first one after it
    (the next run), in UTC: one pass, since finding the first finds the second."""
    local = now.astimezone(ZoneInfo(timezone))
    # croniter's previous time is strictly before its start: start a microsecond (the
    # smallest step a datetime has) after `now`, so a due time equal to `now` counts.
    due = croniter(expression, local + timedelta(microseconds=1)).get_prev(datetime)
    # Around a change of the clocks (the hour that happens twice) croniter's step back can
    # land a day early; stepping forward is right, so walk forward to the last one up to now.
    # Outside such an hour this takes one step, and that step is the next run.
    # Compared in UTC: aware datetimes of one zone compare by wall time, blind to that hour.
    for _ in range(_MAX_STEPS):
        following = croniter(expression, due).get_next(datetime)
        if following.astimezone(UTC) > now:
            return due.astimezone(UTC), following.astimezone(UTC)
        due = following
    return due.astimezone(UTC), next_due(expression, timezone, now)


def next_due(expression: str, timezone: str, after: datetime) -> datetime:
    """The first time strictly after `after` the expression names, in UTC."""
    local = after.astimezone(ZoneInfo(timezone))
    return croniter(expression, local).get_next(datetime).astimezone(UTC)


def schedule_key(schedule: dict[str, Any]) -> str:
    """A stable name for one schedule of a job: the same schedule keeps its key wherever it
    moves in the list, and a changed one gets a new key (and so starts afresh)."""
    canonical = json.dumps(
        {
            "cron": schedule["cron"],
            "timezone": schedule.get("timezone") or DEFAULT_TIMEZONE,
            "branch": schedule.get("branch"),
            "env": schedule.get("env") or {},
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]
