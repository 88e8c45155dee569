"""Gitea / Forgejo webhook requests, shaped like the push example of
https://docs.gitea.com/usage/webhooks (headers X-Gitea-Delivery, X-Gitea-Event,
X-Gitea-Signature beside their X-GitHub-* and X-Gogs-* twins) and Gitea's API structs for
payloads (modules/structs/hook.go: PushPayload, PullRequestPayload; the pull request's
`head`/`base` are PRBranchInfo with `ref`, `sha`, `repo`)."""

from typing import Any

from tests.support.forge_payloads import ZERO, HookRequest, new_delivery_id


def _headers(event: str, delivery: str | None) -> dict[str, str]:
    delivery = delivery or new_delivery_id()
    return {
        "Content-Type": "application/json",
        "X-GitHub-Delivery": delivery,
        "X-GitHub-Event": event,
        "X-Gogs-Delivery": delivery,
        "X-Gogs-Event": event,
        "X-Gitea-Delivery": delivery,
        "X-Gitea-Event": event,
        "X-Gitea-Event-Type": event,
    }


def repository(
    owner: str, name: str, repo_id: int = 140, host: str = "gitea.example.com"
) -> dict[str, Any]:
    full = f"{owner}/{name}"
    return {
        "id": repo_id,
        "owner": {"id": 1, "login": owner, "full_name": owner, "username": owner},
        "name": name,
        "full_name": full,
        "description": "",
        "private": False,
        "fork": False,
        "html_url": f"https://{host}/{full}",
        "ssh_url": f"git@{host}:{full}.git",
        "clone_url": f"https://{host}/{full}.git",
        "default_branch": "main",
    }


def push(
    *,
    repo: dict[str, Any],
    ref: str = "refs/heads/develop",
    before: str = "28e1879d029cb852e4844d9c718537df08844e03",
    after: str = "bffeb74224043ba2feb48d137756c8a9331c449a",
    message: str = "Webhooks Yay!",
    files: dict[str, list[str]] | None = None,
    tagged_commit: str | None = None,
    total_commits: int | None = None,
    delivery: str | None = None,
) -> HookRequest:
    """A push; `tagged_commit` makes it the push of a new annotated tag, as Gitea's
    services/repository/push.go sends it: `after` the ref's new value (the tag object), no
    commits, and `head_commit` the commit the tag points at. `total_commits` is how many
    commits were pushed, of which Gitea lists at most its feed's limit."""
    files = files or {"modified": ["README.md"]}
    commit = {
        "id": tagged_commit or after,
        "message": message,
        "url": f"{repo['html_url']}/commit/{after}",
        "author": {"name": "Gitea", "email": "someone@gitea.io", "username": "gitea"},
        "committer": {"name": "Gitea", "email": "someone@gitea.io", "username": "gitea"},
        "timestamp": "2017-03-13T13:52:11-04:00",
        "added": files.get("added", []),
        "removed": files.get("removed", []),
        "modified": files.get("modified", []),
    }
    deleted = after == ZERO
    commits = [] if deleted or tagged_commit else [commit]
    payload = {
        "ref": ref,
        "before": before,
        "after": after,
        "compare_url": f"{repo['html_url']}/compare/{before}...{after}",
        "commits": commits,
        "total_commits": len(commits) if total_commits is None else total_commits,
        "head_commit": None if deleted else commit,
        "repository": repo,
        "pusher": {"id": 1, "login": "gitea", "full_name": "Gitea", "username": "gitea"},
        "sender": {"id": 1, "login": "gitea", "full_name": "Gitea", "username": "gitea"},
    }
    return HookRequest("gitea", _headers("push", delivery), payload)


def pull_request(
    *,
    repo: dict[str, Any],
    head_repo: dict[str, Any] | None = None,
    action: str = "opened",
    number: int = 2,
    title: str = "Add a feature",
    head_ref: str = "feature",
    base_ref: str = "main",
    head_sha: str = "8b2a1c5f1a8f3a0c3a4e4b9b0c9f3e2d1c0b9a8f",
    delivery: str | None = None,
) -> HookRequest:
    head_repo = head_repo or repo
    payload = {
        "action": action,
        "number": number,
        "pull_request": {
            "id": 12,
            "url": f"{repo['html_url']}/pulls/{number}",
            "number": number,
            "user": {"id": 1, "login": "gitea", "username": "gitea"},
            "title": title,
            "body": "",
            "state": "open",
            "html_url": f"{repo['html_url']}/pulls/{number}",
            "mergeable": True,
            "merged": False,
            "base": {
                "label": base_ref,
                "ref": base_ref,
                "sha": "28e1879d029cb852e4844d9c718537df08844e03",
                "repo_id": repo["id"],
                "repo": repo,
            },
            "head": {
                "label": head_ref,
                "ref": head_ref,
                "sha": head_sha,
                "repo_id": head_repo["id"],
                "repo": head_repo,
            },
            "merge_base": "28e1879d029cb852e4844d9c718537df08844e03",
        },
        "repository": repo,
        "sender": {"id": 1, "login": "gitea", "username": "gitea"},
        "review": None,
    }
    return HookRequest("gitea", _headers("pull_request", delivery), payload)
