"""Bitbucket Cloud webhook requests, shaped like
https://support.atlassian.com/bitbucket-cloud/docs/event-payloads/ ("HTTP headers":
X-Event-Key, X-Hook-UUID, X-Request-UUID, X-Attempt-Number, X-Hub-Signature; "Push"
(repo:push, `push.changes[]` with `new`/`old`), "Pull request events" (pullrequest:created,
pullrequest:updated) and the common Repository and Pull Request entities)."""

from typing import Any

from tests.support.forge_payloads import HookRequest, new_delivery_id


def _headers(event: str, delivery: str | None) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": "Bitbucket-Webhooks/2.0",
        "X-Event-Key": event,
        "X-Hook-UUID": "{5b6b3d8f-5c1e-4c53-9d0c-3a9e8d1f0b2a}",
        "X-Request-UUID": delivery or new_delivery_id(),
        "X-Attempt-Number": "1",
    }


def repository(workspace: str, slug: str) -> dict[str, Any]:
    full = f"{workspace}/{slug}"
    return {
        "type": "repository",
        "name": slug,
        "full_name": full,
        "uuid": "{d4e1b2c3-0000-4000-8000-000000000001}",
        "links": {
            "self": {"href": f"https://api.bitbucket.org/2.0/repositories/{full}"},
            "html": {"href": f"https://bitbucket.org/{full}"},
            "avatar": {"href": f"https://bytebucket.org/ravatar/{full}"},
        },
        "scm": "git",
        "is_private": True,
        "workspace": {"type": "workspace", "slug": workspace, "name": workspace},
    }


def _actor() -> dict[str, Any]:
    return {"type": "user", "display_name": "Emma", "nickname": "emma", "account_id": "557058:1"}


def _ref(kind: str, name: str, sha: str, message: str) -> dict[str, Any]:
    return {
        "type": kind,
        "name": name,
        "target": {
            "type": "commit",
            "hash": sha,
            "author": {"type": "author", "raw": "Emma <emma@example.com>", "user": _actor()},
            "message": message,
            "date": "2015-06-09T03:34:49+00:00",
            "parents": [],
        },
        "links": {},
    }


def push(
    *,
    repo: dict[str, Any],
    kind: str = "branch",
    name: str = "main",
    new_sha: str | None = "709d658dc5b6d6afcd46049c2f332ee3f515a67d",
    old_sha: str | None = "1e65c05c1d5171631d92438a13901ca7dae9618c",
    message: str = "Fix the build\n",
    delivery: str | None = None,
) -> HookRequest:
    change = {
        "new": None if new_sha is None else _ref(kind, name, new_sha, message),
        "old": None if old_sha is None else _ref(kind, name, old_sha, "older\n"),
        "links": {},
        "created": old_sha is None,
        "forced": False,
        "closed": new_sha is None,
        "commits": [],
        "truncated": False,
    }
    payload = {"actor": _actor(), "repository": repo, "push": {"changes": [change]}}
    return HookRequest("bitbucket", _headers("repo:push", delivery), payload)


def pull_request(
    *,
    repo: dict[str, Any],
    source_repo: dict[str, Any] | None = None,
    event: str = "pullrequest:created",
    number: int = 3,
    title: str = "Add a feature",
    source_branch: str = "feature",
    target_branch: str = "main",
    source_sha: str = "d3adb33fcafe",
    delivery: str | None = None,
) -> HookRequest:
    source_repo = source_repo or repo
    payload = {
        "actor": _actor(),
        "pullrequest": {
            "type": "pullrequest",
            "id": number,
            "title": title,
            "description": "",
            "state": "OPEN",
            "author": _actor(),
            "source": {
                "branch": {"name": source_branch},
                "commit": {"hash": source_sha},
                "repository": source_repo,
            },
            "destination": {
                "branch": {"name": target_branch},
                "commit": {"hash": "ce5965ddd289"},
                "repository": repo,
            },
            "merge_commit": None,
            "participants": [],
            "reviewers": [],
            "close_source_branch": False,
            "closed_by": None,
            "reason": "",
            "created_on": "2015-04-06T15:23:38.179678+00:00",
            "updated_on": "2015-04-06T15:23:38.205705+00:00",
            "links": {
                "html": {
                    "href": f"https://bitbucket.org/{repo['full_name']}/pull-requests/{number}"
                }
            },
        },
        "repository": repo,
    }
    return HookRequest("bitbucket", _headers(event, delivery), payload)
