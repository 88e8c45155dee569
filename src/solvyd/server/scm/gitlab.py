"""GitLab: `X-Gitlab-Event` "Push Hook" | "Tag Push Hook" | "Merge Request Hook", sending the
secret itself in `X-Gitlab-Token`. A delivery is named by `Idempotency-Key` ("consistent
across webhook retries", GitLab 17.4 and later), else by `X-Gitlab-Event-UUID`, which is not
promised to survive a retry and which webhooks triggered by earlier webhooks share: it names a
delivery only where GitLab sends nothing better (docs.gitlab.com/user/project/integrations/
webhooks/, "Delivery headers").

Shapes: https://docs.gitlab.com/user/project/integrations/webhook_events/ (push events, tag
events, merge request events)."""

from collections.abc import Mapping

from solvyd.server.scm.event import (
    ForgeEvent,
    Payload,
    PayloadError,
    header,
    ignored,
    is_zero,
    load_json,
    read_payload,
    ref_event,
    repository_urls_of,
    same,
    urls,
)
from solvyd.server.scm.provider import BuiltinForge
from solvyd.server.scm.statuses import DEFAULT_API_URLS, gitlab_already_in_state, gitlab_request
from solvyd.server.services.builds.origin import PullRequestInfo


class Project(Payload):
    id: int | None = None
    web_url: str | None = None
    git_http_url: str | None = None
    git_ssh_url: str | None = None
    path_with_namespace: str | None = None

    def urls(self) -> tuple[str, ...]:
        return urls(self.git_http_url, self.git_ssh_url, self.web_url)


class Person(Payload):
    name: str | None = None
    email: str | None = None


class Commit(Payload):
    id: str
    message: str | None = None
    author: Person | None = None
    added: list[str] = []
    modified: list[str] = []
    removed: list[str] = []


class Push(Payload):
    ref: str
    before: str
    after: str
    # The commit a tag points at (`after` is the tag object of an annotated tag); None when
    # the ref was deleted.
    checkout_sha: str | None = None
    project: Project
    commits: list[Commit] = []
    total_commits_count: int | None = None
    user_name: str | None = None


class MergeRequest(Payload):
    iid: int
    title: str
    action: str | None = None
    source_branch: str
    target_branch: str
    source_project_id: int | None = None
    target_project_id: int | None = None
    source: Project | None = None
    target: Project | None = None
    last_commit: Commit
    # Present when the update brought new commits.
    oldrev: str | None = None


class MergeRequestEvent(Payload):
    project: Project
    object_attributes: MergeRequest


def parse(headers: Mapping[str, str], body: bytes) -> list[ForgeEvent]:
    event = header(headers, "X-Gitlab-Event")
    if event is None:
        raise PayloadError("the X-Gitlab-Event header is missing")
    document = load_json(body)
    if event in ("Push Hook", "Tag Push Hook"):
        return [
            _push(read_payload(Push, document, f"GitLab {event}"), tag=event == "Tag Push Hook")
        ]
    if event == "Merge Request Hook":
        return [
            _merge_request(read_payload(MergeRequestEvent, document, "GitLab Merge Request Hook"))
        ]
    where = repository_urls_of(Project, document, "project")
    return [ignored(f"GitLab event {event!r} starts no build", where)]


def _push(push: Push, *, tag: bool) -> ForgeEvent:
    where = push.project.urls()
    found = ref_event(push.ref)
    if found is None or (found[0] == "tag") != tag:
        return ignored(f"a push to {push.ref} that the event header does not announce", where)
    kind, name = found
    if is_zero(push.after):
        return ignored(f"the push deletes {push.ref}", where)
    sha = push.checkout_sha or push.after
    head = next((c for c in push.commits if c.id == sha), None)
    changed: frozenset[str] | None = None
    # GitLab lists at most 20 commits; beyond, which files changed is unknown.
    listed_all = push.total_commits_count is None or push.total_commits_count <= len(push.commits)
    if push.commits and listed_all:
        changed = frozenset(
            path for c in push.commits for path in (*c.added, *c.modified, *c.removed)
        )
    return ForgeEvent(
        kind=kind,
        repository_urls=where,
        branch=name if kind == "push" else None,
        tag=name if kind == "tag" else None,
        commit_sha=sha,
        before=None if is_zero(push.before) else push.before,
        after=push.after,
        changed_files=changed,
        commit_message=head.message if head else None,
        commit_author=(head.author.name if head and head.author else None) or push.user_name,
    )


def _merge_request(event: MergeRequestEvent) -> ForgeEvent:
    mr = event.object_attributes
    where = event.project.urls()
    action = mr.action or ""
    builds = action in ("open", "reopen") or (action == "update" and mr.oldrev is not None)
    if not builds:
        what = "updated without new commits" if action == "update" else action or "changed"
        return ignored(f"merge request !{mr.iid} {what}: nothing to build", where)
    from_fork = (
        mr.source_project_id is not None
        and mr.target_project_id is not None
        and mr.source_project_id != mr.target_project_id
    )
    info = PullRequestInfo(
        number=mr.iid,
        title=mr.title,
        source_branch=mr.source_branch,
        target_branch=mr.target_branch,
        from_fork=from_fork,
        head_ref=f"refs/merge-requests/{mr.iid}/head",
        head_clone_url=mr.source.git_http_url if mr.source else None,
    )
    head = mr.last_commit
    return ForgeEvent(
        kind="pull_request",
        repository_urls=where,
        branch=mr.source_branch,
        commit_sha=head.id,
        before=mr.oldrev,
        after=head.id,
        commit_message=head.message,
        commit_author=head.author.name if head.author else None,
        pull_request=info,
    )


def verify(headers: Mapping[str, str], body: bytes, secret: str) -> bool:
    # GitLab signs nothing: it sends the secret itself.
    return same(header(headers, "X-Gitlab-Token"), secret)


FORGE = BuiltinForge(
    name="gitlab",
    event_header="X-Gitlab-Event",
    delivery_headers=("Idempotency-Key", "X-Gitlab-Event-UUID"),
    # GitLab 19.0 signs a hook that has a signing token with Standard Webhooks' headers; the
    # signature is not checked here (the job's secret is the X-Gitlab-Token), but never kept.
    secret_headers=("X-Gitlab-Token", "webhook-signature"),
    parse=parse,
    verify=verify,
    status_request=gitlab_request,
    default_api_url=DEFAULT_API_URLS["gitlab"],
    already_in_state=gitlab_already_in_state,
)
