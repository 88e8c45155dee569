"""The four built-in forges' commit status endpoints: the URL, the auth header and the body
of one report, and how Solvyd's build states map to each forge's words. Pure: no HTTP, no
database.

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
from typing import Any
from urllib.parse import quote

from solvyd.protocol import BuildStatus
from solvyd.server.scm.provider import StatusReport, StatusRequest

DEFAULT_API_URLS = {
    "github": "https://api.github.com",
    "gitlab": "https://gitlab.com",
    "bitbucket": "https://api.bitbucket.org",
}
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


def bitbucket_key(context: str) -> str:
    """The context, or, if too long, its start and a digest of the whole (stable per job)."""
    if len(context) <= MAX_BITBUCKET_KEY:
        return context
    digest = hashlib.sha256(context.encode()).hexdigest()[:8]
    return f"{context[: MAX_BITBUCKET_KEY - 9]}-{digest}"


def _base(forge: str, report: StatusReport, suffix: str) -> str:
    base = (report.api_url or DEFAULT_API_URLS.get(forge, "")).rstrip("/")
    return base.removesuffix(suffix)


def _owner_repo(report: StatusReport) -> tuple[str, str]:
    owner, repo = (quote(part, safe="") for part in report.repository.split("/", 1))
    return owner, repo


def _with_link(body: dict[str, Any], key: str, report: StatusReport) -> dict[str, Any]:
    if report.target_url:
        body[key] = report.target_url
    return body


def _request(url: str, headers: dict[str, str], body: dict[str, Any]) -> StatusRequest:
    return StatusRequest(url=url, headers={**headers, "User-Agent": "solvyd"}, body=body)


def github_request(report: StatusReport, token: str) -> StatusRequest:
    owner, repo = _owner_repo(report)
    sha = quote(report.sha, safe="")
    body = {
        "state": forge_state("github", report.state),
        "context": report.context,
        "description": report.description,
    }
    return _request(
        f"{_base('github', report, '')}/repos/{owner}/{repo}/statuses/{sha}",
        {
            "Authorization": f"Bearer {token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
        },
        _with_link(body, "target_url", report),
    )


def gitlab_request(report: StatusReport, token: str) -> StatusRequest:
    project = quote(report.repository, safe="")
    sha = quote(report.sha, safe="")
    body = {
        "state": forge_state("gitlab", report.state),
        "name": report.context,
        "description": report.description,
    }
    return _request(
        f"{_base('gitlab', report, '/api/v4')}/api/v4/projects/{project}/statuses/{sha}",
        {"PRIVATE-TOKEN": token},
        _with_link(body, "target_url", report),
    )


def gitea_request(report: StatusReport, token: str) -> StatusRequest:
    owner, repo = _owner_repo(report)
    sha = quote(report.sha, safe="")
    body = {
        "state": forge_state("gitea", report.state),
        "context": report.context,
        "description": report.description,
    }
    return _request(
        f"{_base('gitea', report, '/api/v1')}/api/v1/repos/{owner}/{repo}/statuses/{sha}",
        {"Authorization": f"token {token}"},
        _with_link(body, "target_url", report),
    )


def bitbucket_request(report: StatusReport, token: str) -> StatusRequest:
    workspace, repo = _owner_repo(report)
    sha = quote(report.sha, safe="")
    base = _base("bitbucket", report, "/2.0")
    body = {
        "key": bitbucket_key(report.context),
        "state": forge_state("bitbucket", report.state),
        "name": report.context,
        "description": report.description,
    }
    return _request(
        f"{base}/2.0/repositories/{workspace}/{repo}/commit/{sha}/statuses/build",
        {"Authorization": f"Bearer {token}"},
        _with_link(body, "url", report),
    )


# GitLab refuses a state its status already has: 400 with its state machine's words, e.g.
# {"message": "Cannot transition status via :run from :running (Reason(s): Status cannot
# transition via \"run\")"} (gitlab-foss issue 25807; same for :enqueue from :pending).
_GITLAB_UNCHANGED = re.compile(r"Cannot transition status via :\w+ from :(?P<current>\w+)\b")


def gitlab_already_in_state(request: StatusRequest, status_code: int, body: str) -> bool:
    """Whether GitLab's refusal says the commit already shows the state `request` sets."""
    if status_code != 400:
        return False
    try:
        answer = json.loads(body)
    except (ValueError, RecursionError):  # hostile text: 8 KiB of "[" is too deep
        return False
    message = answer.get("message") if isinstance(answer, dict) else None
    if not isinstance(message, str):
        return False
    match = _GITLAB_UNCHANGED.match(message)
    return match is not None and match["current"] == str(request.body.get("state"))
