"""What started a build, beyond its job, branch and commit: the event a forge or a schedule
reported. Webhooks and schedules build one; `queue_build` plans and stores it; a retry replays
the original build's."""

from dataclasses import dataclass

# The events a build can be planned for (`when.event`, `SOLVYD_EVENT`).
PUSH = "push"
TAG = "tag"
PULL_REQUEST = "pull_request"
CRON = "cron"
MANUAL = "manual"


@dataclass(frozen=True)
class PullRequestInfo:
    number: int
    title: str
    source_branch: str
    target_branch: str
    # The head branch lives in another repository than the job's.
    from_fork: bool = False
    # Where the head commit can be fetched when it is not in the job's repository: the
    # forge's ref for the pull request (e.g. refs/pull/7/head, refs/merge-requests/7/head)
    # in the base repository, and the fork's clone URL.
    head_ref: str | None = None
    head_clone_url: str | None = None


@dataclass(frozen=True)
class BuildOrigin:
    """`event` is one of push, tag, pull_request, cron, manual."""

    event: str
    tag: str | None = None
    pull_request: PullRequestInfo | None = None
    commit_message: str | None = None
    commit_author: str | None = None
