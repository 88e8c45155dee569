"""The four forges' commit status endpoints: the URL, the auth header and the body of one
report, and how Solvyd's build states map to each forge's words. Pure: no HTTP, no database.

Where each shape comes from (the forges' API documentation):
- GitHub, "Create a commit status" (docs.github.com/rest/commits/statuses): POST
  {api}/repos/{owner}/{repo}/statuses/{sha}, body {state: error|failure|pending|success,
  target_url, description, context}; a fine-grained token needs "Commit statuses: write".
- GitLab, "Set the pipeline status of a commit" (docs.gitlab.com/api/commits): POST
  /api/v4/projects/{id or URL-encoded path}/statuses/{sha}, header PRIVATE-TOKEN, body {state:
  pending|running|success|failed|canceled, name (alias context), target_url, description}.
- Gitea, "Create a commit status" (the API's CreateStatusOption): POST
  /api/v1/repos/{owner}/{repo}/statuses/{sha}, header "Authorization: token ...", body {state:
  pending|success|error|failure|warning, context, target_url, description}.
- Bitbucket Cloud, "Create a build status for a commit"
  (developer.atlassian.com/cloud/bitbucket/rest/api-group-commit-statuses): POST
  /2.0/repositories/{workspace}/{repo_slug}/commit/{commit}/statuses/build, body {key, state:
  INPROGRESS|SUCCESSFUL|FAILED|STOPPED, name, url, description}; a status of the same key is
  overwritten.
"""

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from solvyd.protocol import BuildStatus

FORGES = ("github", "gitlab", "gitea", "bitbucket")
DEFAULT_API_URLS = {
    "github": "https://api.github.com",
    "gitlab": "https://gitlab.com",
    "bitbucket": "https://api.bitbucket.org",
}
# GitHub cuts a longer description; the others take more, but a line is what shows.
MAX_DESCRIPTION = 140
# Bitbucket's key identifies the status per commit; kept short so no server refuses it.
MAX_BITBUCKET_KEY = 40

_STATES: dict[str, dict[BuildStatus, str]] = {
    # GitHub and Gitea have no "running" nor "cancelled": pending until it ends, and a
    # cancelled build is an error (it neither passed nor failed its checks).
    "github": {
        BuildStatus.QUEUED: "pending",
        BuildStatus.RUNNING: "pending",
        BuildStatus.SUCCESS: "success",
        BuildStatus.FAILURE: "failure",
        BuildStatus.CANCELLED: "error",
        BuildStatus.ERROR: "error",
    },
    "gitlab": {
        BuildStatus.QUEUED: "pending",
        BuildStatus.RUNNING: "running",
        BuildStatus.SUCCESS: "success",
        BuildStatus.FAILURE: "failed",
        BuildStatus.CANCELLED: "canceled",
        BuildStatus.ERROR: "failed",
    },
    "gitea": {
        BuildStatus.QUEUED: "pending",
        BuildStatus.RUNNING: "pending",
        BuildStatus.SUCCESS: "success",
        BuildStatus.FAILURE: "failure",
        BuildStatus.CANCELLED: "error",
        BuildStatus.ERROR: "error",
    },
    "bitbucket": {
        BuildStatus.QUEUED: "INPROGRESS",
        BuildStatus.RUNNING: "INPROGRESS",
        BuildStatus.SUCCESS: "SUCCESSFUL",
        BuildStatus.FAILURE: "FAILED",
        BuildStatus.CANCELLED: "STOPPED",
        BuildStatus.ERROR: "FAILED",
    },
}


def forge_state(forge: str, status: BuildStatus | str) -> str:
    """The word `forge` uses for a build in `status`."""
    return _STATES[forge][BuildStatus(status)]


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


def bitbucket_key(context: str) -> str:
    """The context, or, if too long, its start and a digest of the whole (stable per job)."""
    if len(context) <= MAX_BITBUCKET_KEY:
        return context
    digest = hashlib.sha256(context.encode()).hexdigest()[:8]
    return f"{context[: MAX_BITBUCKET_KEY - 9]}-{digest}"


@dataclass(frozen=True)
class StatusRequest:
    url: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass(frozen=True)
class Report:
    """What to report, in Solvyd's words."""

    forge: str
    api_url: str | None
    repository: str
    sha: str
    state: str
    context: str
    description: str
    target_url: str | None


def status_request(report: Report, token: str) -> StatusRequest:
    """The forge's request for `report`, authenticated with `token`."""
    forge = report.forge
    state = forge_state(forge, report.state)
    base = (report.api_url or DEFAULT_API_URLS.get(forge, "")).rstrip("/")
    sha = quote(report.sha, safe="")
    body: dict[str, Any]
    if forge == "github":
        owner, repo = (quote(part, safe="") for part in report.repository.split("/", 1))
        url = f"{base}/repos/{owner}/{repo}/statuses/{sha}"
        headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
        }
        body = {"state": state, "context": report.context, "description": report.description}
        if report.target_url:
            body["target_url"] = report.target_url
    elif forge == "gitlab":
        base = base.removesuffix("/api/v4")
        project = quote(report.repository, safe="")
        url = f"{base}/api/v4/projects/{project}/statuses/{sha}"
        headers = {"PRIVATE-TOKEN": token}
        body = {"state": state, "name": report.context, "description": report.description}
        if report.target_url:
            body["target_url"] = report.target_url
    elif forge == "gitea":
        base = base.removesuffix("/api/v1")
        owner, repo = (quote(part, safe="") for part in report.repository.split("/", 1))
        url = f"{base}/api/v1/repos/{owner}/{repo}/statuses/{sha}"
        headers = {"Authorization": f"token {token}"}
        body = {"state": state, "context": report.context, "description": report.description}
        if report.target_url:
            body["target_url"] = report.target_url
    elif forge == "bitbucket":
        base = base.removesuffix("/2.0")
        workspace, repo = (quote(part, safe="") for part in report.repository.split("/", 1))
        url = f"{base}/2.0/repositories/{workspace}/{repo}/commit/{sha}/statuses/build"
        headers = {"Authorization": f"Bearer {token}"}
        body = {
            "key": bitbucket_key(report.context),
            "state": state,
            "name": report.context,
            "description": report.description,
        }
        if report.target_url:
            body["url"] = report.target_url
    else:
        raise ValueError(f"unknown forge {forge!r}")
    headers["User-Agent"] = "solvyd"
    return StatusRequest(url=url, headers=headers, body=body)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# GitLab refuses a state its status already has: 400 with its state machine's words, e.g.
# {"message": "Cannot transition status via :run from :running (Reason(s): Status cannot
# transition via \"run\")"} (gitlab-foss issue 25807; same for :enqueue from :pending).
_GITLAB_UNCHANGED = re.compile(r"Cannot transition status via :\w+ from :(?P<current>\w+)\b")


def already_in_state(forge: str, state: str, status_code: int, body: str) -> bool:
    """Whether the forge's refusal (`status_code`, `body`) says the commit already shows
    `state` (the forge's word), which is what the report meant: sent, not an error."""
    if forge != "gitlab" or status_code != 400:
        return False
    try:
        answer = json.loads(body)
    except (ValueError, RecursionError):  # hostile text: 8 KiB of "[" is too deep
        return False
    message = answer.get("message") if isinstance(answer, dict) else None
    if not isinstance(message, str):
        return False
    match = _GITLAB_UNCHANGED.match(message)
    return match is not None and match["current"] == state
