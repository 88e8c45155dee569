"""GitHub webhook requests, shaped like the examples and property tables of
https://docs.github.com/en/webhooks/webhook-events-and-payloads (push, pull_request, ping)
and the headers of "Delivery headers" there (X-GitHub-Event, X-GitHub-Delivery,
X-GitHub-Hook-ID, X-Hub-Signature-256, User-Agent: GitHub-Hookshot/...)."""

from typing import Any

from tests.support.forge_payloads import ZERO, HookRequest, new_delivery_id


def _headers(event: str, delivery: str | None) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/044aadd",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or new_delivery_id(),
        "X-GitHub-Hook-ID": "292430182",
        "X-GitHub-Hook-Installation-Target-ID": "79929171",
        "X-GitHub-Hook-Installation-Target-Type": "repository",
    }


def repository(owner: str, name: str, host: str = "github.com") -> dict[str, Any]:
    full = f"{owner}/{name}"
    return {
        "id": 35129377,
        "node_id": "MDEwOlJlcG9zaXRvcnkzNTEyOTM3Nw==",
        "name": name,
        "full_name": full,
        "private": False,
        "owner": {"name": owner, "login": owner, "id": 21031067, "type": "User"},
        "html_url": f"https://{host}/{full}",
        "description": "",
        "fork": False,
        "url": f"https://{host}/{full}",
        "git_url": f"git://{host}/{full}.git",
        "ssh_url": f"git@{host}:{full}.git",
        "clone_url": f"https://{host}/{full}.git",
        "svn_url": f"https://{host}/{full}",
        "default_branch": "main",
        "master_branch": "main",
    }


def _commit(sha: str, message: str, author: str, files: dict[str, list[str]]) -> dict[str, Any]:
    return {
        "id": sha,
        "tree_id": "f9d2a07e9488b91af2641b26b9407fe22a451433",
        "distinct": True,
        "message": message,
        "timestamp": "2015-05-05T19:40:15-04:00",
        "url": f"https://github.com/baxterthehacker/public-repo/commit/{sha}",
        "author": {
            "name": author,
            "email": "baxterthehacker@users.noreply.github.com",
            "username": "baxterthehacker",
        },
        "committer": {
            "name": author,
            "email": "baxterthehacker@users.noreply.github.com",
            "username": "baxterthehacker",
        },
        "added": files.get("added", []),
        "removed": files.get("removed", []),
        "modified": files.get("modified", []),
    }


def push(
    *,
    repo: dict[str, Any],
    ref: str = "refs/heads/main",
    before: str = "9049f1265b7d61be4a8904a9a27120d2064dab3b",
    after: str = "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c",
    message: str = "Update README.md",
    author: str = "baxterthehacker",
    files: dict[str, list[str]] | None = None,
    tagged_commit: str | None = None,
    delivery: str | None = None,
) -> HookRequest:
    """A push; `tagged_commit` makes it the push of a new annotated tag: `after` is then the
    tag object, `head_commit` "an expanded representation of the commit pointed to by the
    annotated tag" (the push event's `head_commit`), and no commit is new (`commits` empty)."""
    deleted = after == ZERO
    commit = _commit(tagged_commit or after, message, author, files or {"modified": ["README.md"]})
    payload = {
        "ref": ref,
        "before": before,
        "after": after,
        "created": before == ZERO,
        "deleted": deleted,
        "forced": False,
        "base_ref": "refs/heads/main" if tagged_commit else None,
        "compare": f"{repo['html_url']}/compare/{before[:12]}...{after[:12]}",
        "commits": [] if deleted or tagged_commit else [commit],
        "head_commit": None if deleted else commit,
        "repository": repo,
        "pusher": {"name": author, "email": "baxterthehacker@users.noreply.github.com"},
        "sender": {"login": author, "id": 6752317, "type": "User"},
    }
    return HookRequest("github", _headers("push", delivery), payload)


def pull_request(
    *,
    repo: dict[str, Any],
    head_repo: dict[str, Any] | None = None,
    action: str = "opened",
    number: int = 1,
    title: str = "Update the README with new information",
    head_ref: str = "changes",
    base_ref: str = "main",
    head_sha: str = "34c5c7793cb3b279e22454cb6750c80560547b3a",
    delivery: str | None = None,
) -> HookRequest:
    head_repo = head_repo or repo
    payload = {
        "action": action,
        "number": number,
        "pull_request": {
            "url": f"https://api.github.com/repos/{repo['full_name']}/pulls/{number}",
            "id": 34778301,
            "html_url": f"{repo['html_url']}/pull/{number}",
            "number": number,
            "state": "open",
            "locked": False,
            "title": title,
            "user": {"login": "baxterthehacker", "id": 6752317, "type": "User"},
            "body": "This is a pretty simple change that we need to pull into main.",
            "head": {
                "label": f"{head_repo['owner']['login']}:{head_ref}",
                "ref": head_ref,
                "sha": head_sha,
                "user": head_repo["owner"],
                "repo": head_repo,
            },
            "base": {
                "label": f"{repo['owner']['login']}:{base_ref}",
                "ref": base_ref,
                "sha": "9049f1265b7d61be4a8904a9a27120d2064dab3b",
                "user": repo["owner"],
                "repo": repo,
            },
            "merged": False,
            "commits": 1,
            "additions": 1,
            "deletions": 1,
            "changed_files": 1,
        },
        "repository": repo,
        "sender": {"login": "baxterthehacker", "id": 6752317, "type": "User"},
    }
    return HookRequest("github", _headers("pull_request", delivery), payload)


def ping(*, repo: dict[str, Any]) -> HookRequest:
    payload = {
        "zen": "Keep it logically awesome.",
        "hook_id": 292430182,
        "hook": {
            "type": "Repository",
            "id": 292430182,
            "name": "web",
            "active": True,
            "events": ["push", "pull_request"],
            "config": {
                "content_type": "json",
                "insecure_ssl": "0",
                "url": "https://ci.example/api/v1/hooks/github",
            },
        },
        "repository": repo,
        "sender": {"login": "baxterthehacker", "id": 6752317, "type": "User"},
    }
    return HookRequest("github", _headers("ping", None), payload)
