"""GitLab webhook requests, shaped like the examples of
https://docs.gitlab.com/user/project/integrations/webhook_events/ ("Push events", "Tag
events", "Merge request events") with the headers GitLab documents on
https://docs.gitlab.com/user/project/integrations/webhooks/ ("Delivery headers": User-Agent,
X-Gitlab-Instance, X-Gitlab-Webhook-UUID, X-Gitlab-Event, X-Gitlab-Event-UUID,
Idempotency-Key; and X-Gitlab-Token). `delivery` is the Idempotency-Key, "consistent across
webhook retries"; X-Gitlab-Event-UUID is the event's, which webhooks triggered by earlier
webhooks share."""

from typing import Any

from tests.support.forge_payloads import ZERO, HookRequest, new_delivery_id


def _headers(event: str, delivery: str | None) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": "GitLab/17.6.0",
        "X-Gitlab-Event": event,
        "X-Gitlab-Event-UUID": new_delivery_id(),
        "X-Gitlab-Webhook-UUID": "16412037-4a7e-4c36-9d4d-d2f3e2b6f0a1",
        "X-Gitlab-Instance": "https://gitlab.example.com",
        "Idempotency-Key": delivery or new_delivery_id(),
    }


def project(
    namespace: str, name: str, project_id: int = 15, host: str = "gitlab.example.com"
) -> dict[str, Any]:
    path = f"{namespace}/{name}"
    return {
        "id": project_id,
        "name": name,
        "description": "",
        "web_url": f"https://{host}/{path}",
        "avatar_url": None,
        "git_ssh_url": f"git@{host}:{path}.git",
        "git_http_url": f"https://{host}/{path}.git",
        "namespace": namespace,
        "visibility_level": 0,
        "path_with_namespace": path,
        "default_branch": "main",
        "homepage": f"https://{host}/{path}",
        "url": f"git@{host}:{path}.git",
        "ssh_url": f"git@{host}:{path}.git",
        "http_url": f"https://{host}/{path}.git",
    }


def _commit(sha: str, message: str, author: str, files: dict[str, list[str]]) -> dict[str, Any]:
    return {
        "id": sha,
        "message": message,
        "title": message.splitlines()[0] if message else "",
        "timestamp": "2011-12-12T14:27:31+02:00",
        "url": f"https://gitlab.example.com/mike/diaspora/commit/{sha}",
        "author": {"name": author, "email": "jordi@softcatala.org"},
        "added": files.get("added", []),
        "modified": files.get("modified", []),
        "removed": files.get("removed", []),
    }


def push(
    *,
    proj: dict[str, Any],
    ref: str = "refs/heads/main",
    before: str = "95790bf891e76fee5e1747ab589903a6a1f80f22",
    after: str = "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
    message: str = "fixed readme",
    author: str = "GitLab dev user",
    files: dict[str, list[str]] | None = None,
    total_commits: int | None = None,
    delivery: str | None = None,
) -> HookRequest:
    tag = ref.startswith("refs/tags/")
    deleted = after == ZERO
    commits = (
        [] if deleted else [_commit(after, message, author, files or {"modified": ["README.md"]})]
    )
    payload = {
        "object_kind": "tag_push" if tag else "push",
        "event_name": "tag_push" if tag else "push",
        "before": before,
        "after": after,
        "ref": ref,
        "ref_protected": True,
        "checkout_sha": None if deleted else after,
        "message": None,
        "user_id": 4,
        "user_name": "John Smith",
        "user_username": "jsmith",
        "user_email": "john@example.com",
        "user_avatar": "https://s.gravatar.com/avatar/d4c74594d841139328695756648b6bd6?s=8://s.gravatar.com/avatar/d4c74594d841139328695756648b6bd6?s=80",
        "project_id": proj["id"],
        "project": proj,
        "repository": {
            "name": proj["name"],
            "url": proj["git_ssh_url"],
            "description": "",
            "homepage": proj["web_url"],
            "git_http_url": proj["git_http_url"],
            "git_ssh_url": proj["git_ssh_url"],
            "visibility_level": 0,
        },
        "commits": commits,
        "total_commits_count": len(commits) if total_commits is None else total_commits,
    }
    event = "Tag Push Hook" if tag else "Push Hook"
    return HookRequest("gitlab", _headers(event, delivery), payload)


def merge_request(
    *,
    proj: dict[str, Any],
    source: dict[str, Any] | None = None,
    action: str = "open",
    iid: int = 1,
    title: str = "MS-Viewport",
    source_branch: str = "ms-viewport",
    target_branch: str = "main",
    last_commit: str = "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
    oldrev: str | None = None,
    delivery: str | None = None,
) -> HookRequest:
    source = source or proj
    attributes: dict[str, Any] = {
        "id": 99,
        "iid": iid,
        "target_branch": target_branch,
        "source_branch": source_branch,
        "source_project_id": source["id"],
        "author_id": 51,
        "title": title,
        "created_at": "2013-12-03T17:23:34Z",
        "updated_at": "2013-12-03T17:23:34Z",
        "state": "opened",
        "merge_status": "unchecked",
        "target_project_id": proj["id"],
        "description": "",
        "url": f"{proj['web_url']}/-/merge_requests/{iid}",
        "source": source,
        "target": proj,
        "last_commit": {
            "id": last_commit,
            "message": "fixed readme",
            "title": "Update file README.md",
            "timestamp": "2012-01-03T23:36:29+02:00",
            "url": f"{source['web_url']}/commit/{last_commit}",
            "author": {"name": "GitLab dev user", "email": "gitlabdev@dv6700.(none)"},
        },
        "work_in_progress": False,
        "draft": False,
        "action": action,
    }
    if oldrev is not None:
        attributes["oldrev"] = oldrev
    payload = {
        "object_kind": "merge_request",
        "event_type": "merge_request",
        "user": {
            "id": 1,
            "name": "Administrator",
            "username": "root",
            "email": "admin@example.com",
        },
        "project": proj,
        "repository": {
            "name": proj["name"],
            "url": proj["git_ssh_url"],
            "description": "",
            "homepage": proj["web_url"],
        },
        "object_attributes": attributes,
        "labels": [],
        "changes": {},
    }
    return HookRequest("gitlab", _headers("Merge Request Hook", delivery), payload)
