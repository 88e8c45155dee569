"""What the commit status outbox and sender say in Solvyd's words: the repository a job's
clone URL names, and the one line a forge shows beside a status. Each forge's request is its
provider's (`scm/provider.py`; the built-ins' in `scm/statuses.py`)."""

import re
from urllib.parse import urlsplit

from solvyd.protocol import BuildStatus

# GitHub cuts a longer description; the others take more, but a line is what shows.
MAX_DESCRIPTION = 140

# https://host/owner/repo(.git), ssh://git@host[:port]/owner/repo(.git), git@host:owner/repo.git
_SCP_LIKE = re.compile(r"^[\w.\-]+@[\w.\-]+:(?P<path>[^/].*)$")


def repository_from_scm_url(scm_url: str | None) -> str | None:
    """owner/repo (GitLab: group/.../project) from a clone URL; None if it names none."""
    if not scm_url:
        return None
    text = scm_url.strip()
    scp = _SCP_LIKE.match(text)
    if scp and "://" not in text:
        path = scp.group("path")
    else:
        parts = urlsplit(text)
        if parts.scheme not in ("http", "https", "ssh", "git") or not parts.hostname:
            return None
        path = parts.path
    path = path.strip("/").removesuffix(".git").strip("/")
    segments = [segment for segment in path.split("/") if segment]
    if len(segments) < 2:
        return None
    return "/".join(segments)


def describe(status: BuildStatus | str, number: int, error_message: str | None = None) -> str:
    """One line for the forge to show beside the status."""
    words = {
        BuildStatus.QUEUED: "is queued",
        BuildStatus.RUNNING: "is running",
        BuildStatus.SUCCESS: "passed",
        BuildStatus.FAILURE: "failed",
        BuildStatus.CANCELLED: "was cancelled",
        BuildStatus.ERROR: "could not run",
    }[BuildStatus(status)]
    text = f"Build #{number} {words}"
    if BuildStatus(status) is BuildStatus.ERROR and error_message:
        text = f"{text}: {error_message}"
    return _cut(" ".join(text.split()), MAX_DESCRIPTION)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
