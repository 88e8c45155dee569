"""A build notice as the JSON body of Discord's "Execute Webhook" call.

The shape follows Discord's public documentation:
https://discord.com/developers/docs/resources/webhook#execute-webhook (the body: `content`,
`embeds`, `allowed_mentions`) and https://discord.com/developers/docs/resources/message#embed-object
(an embed's `title`, `description`, `url`, `color`, `fields` of `name`/`value`/`inline`,
`timestamp`), with the limits given there on
https://discord.com/developers/docs/resources/message#embed-object-embed-limits.
"""

from typing import Any

from solvyd.plugins import BuildNotice

# Discord's embed limits: a longer text makes Discord answer 400 and nothing is posted.
TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
# A field's value may be 1024 characters, but all of an embed's text together at most 6000:
# six fields of 256 fit beside a full title and description.
FIELD_VALUE_LIMIT = 256

# An embed's colour is an integer RGB value.
_COLOURS = {
    "started": 0x1F6FEB,
    "success": 0x2DA44E,
    "fixed": 0x2DA44E,
    "failure": 0xCF222E,
    "error": 0xBF8700,
    "cancelled": 0x6E7781,
}
_SAID = {
    "started": "started",
    "success": "passed",
    "fixed": "is fixed",
    "failure": "failed",
    "error": "errored",
    "cancelled": "was cancelled",
}


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _code_block(lines: tuple[str, ...], room: int) -> str:
    """The last lines that fit in `room` characters, fenced. A backtick fence inside a log line
    would end the block early, so such fences are broken up."""
    body: list[str] = []
    used = len("```\n\n```")
    for line in reversed(lines):
        safe = line.replace("```", "`\u200b``")
        if used + len(safe) + 1 > room:
            break
        body.insert(0, safe)
        used += len(safe) + 1
    return "```\n" + "\n".join(body) + "\n```" if body else ""


def _description(notice: BuildNotice) -> str:
    parts: list[str] = []
    if notice.error_message:
        parts.append(_cut(notice.error_message, 1000))
    if notice.failed_step:
        parts.append(f"Step **{notice.failed_step}** failed; its last lines:")
        room = DESCRIPTION_LIMIT - sum(len(p) + 2 for p in parts)
        block = _code_block(notice.log_tail, room)
        if block:
            parts.append(block)
    return _cut("\n\n".join(parts), DESCRIPTION_LIMIT)


def _where(notice: BuildNotice) -> str | None:
    if notice.pull_request is not None:
        pr = notice.pull_request
        into = f" into {pr.target_branch}" if pr.target_branch else ""
        return f"pull request #{pr.number}{into}" + (" (from a fork)" if pr.from_fork else "")
    if notice.tag:
        return f"tag {notice.tag}"
    return notice.branch


def _commit(notice: BuildNotice) -> str | None:
    if not notice.commit_sha:
        return None
    first_line = (notice.commit_message or "").strip().splitlines()[:1]
    return " ".join([notice.commit_sha[:12], *first_line])


def _duration(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}m {rest:02d}s" if minutes else f"{rest}s"


def discord_message(notice: BuildNotice) -> dict[str, Any]:
    """The body to POST to a Discord webhook URL for `notice`."""
    candidates = [
        ("Status", notice.status),
        ("Branch", _where(notice)),
        ("Commit", _commit(notice)),
        ("Author", notice.commit_author),
        ("Trigger", notice.trigger),
        ("Duration", _duration(notice.duration_seconds)),
    ]
    # Discord refuses a field with an empty value: a fact the build does not have is left out.
    fields = [
        {"name": name, "value": _cut(value, FIELD_VALUE_LIMIT), "inline": True}
        for name, value in candidates
        if value
    ]
    when = notice.completed_at or notice.started_at or notice.queued_at
    embed: dict[str, Any] = {
        "title": _cut(
            f"{notice.job_name} #{notice.number} {_SAID.get(notice.outcome, notice.outcome)}",
            TITLE_LIMIT,
        ),
        "color": _COLOURS.get(notice.outcome, _COLOURS["cancelled"]),
        "fields": fields,
        "timestamp": when.isoformat(),
    }
    description = _description(notice)
    if description:
        embed["description"] = description
    if notice.url:
        embed["url"] = notice.url
    # A commit message or log line saying @everyone or <@id> must not ping anyone.
    return {"embeds": [embed], "allowed_mentions": {"parse": []}}
