"""GitHub (and GitHub Enterprise): `X-GitHub-Event` push | pull_request | ping, signed with
`X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>`.

Shapes: https://docs.github.com/en/webhooks/webhook-events-and-payloads (push,
pull_request, ping)."""

from collections.abc import Mapping

from solvyd.server.scm.event import (
    ForgeEvent,
    Payload,
    PayloadError,
    header,
    hmac_sha256_hex,
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
from solvyd.server.scm.statuses import DEFAULT_API_URLS, github_request
from solvyd.server.services.builds.origin import PullRequestInfo

# Actions of a pull_request event that mean new code to build.
BUILD_ACTIONS = frozenset({"opened", "synchronize", "reopened"})
# A push event lists "a maximum of 2048 commits" and "a maximum of 3000 changed files ... per
# commit" (GitHub's push event: `commits`, `added`); a list that long may have been cut.
MAX_LISTED_COMMITS = 2048
MAX_LISTED_FILES = 3000


class Repository(Payload):
    full_name: str | None = None
    clone_url: str | None = None
    ssh_url: str | None = None
    html_url: str | None = None
    git_url: str | None = None

    def urls(self) -> tuple[str, ...]:
        return urls(self.clone_url, self.ssh_url, self.html_url, self.git_url)


class Person(Payload):
    name: str | None = None
    email: str | None = None
    username: str | None = None


class Commit(Payload):
    id: str
    message: str | None = None
    author: Person | None = None
    added: list[str] = []
    removed: list[str] = []
    modified: list[str] = []


class Push(Payload):
    ref: str
    before: str
    after: str
    deleted: bool = False
    repository: Repository
    head_commit: Commit | None = None
    commits: list[Commit] = []
    # Gitea's: how many commits were pushed, of which `commits` lists at most its feed's limit.
    total_commits: int | None = None


class Account(Payload):
    login: str | None = None


class PullEnd(Payload):
    ref: str
    sha: str
    # None when the fork was deleted.
    repo: Repository | None = None


class PullRequest(Payload):
    title: str
    head: PullEnd
    base: PullEnd
    user: Account | None = None


class PullRequestEvent(Payload):
    action: str
    number: int
    pull_request: PullRequest
    repository: Repository


def parse(headers: Mapping[str, str], body: bytes) -> list[ForgeEvent]:
    event = header(headers, "X-GitHub-Event")
    if event is None:
        raise PayloadError("the X-GitHub-Event header is missing")
    document = load_json(body)
    if event == "ping":
        return [ForgeEvent(kind="ping")]
    if event == "push":
        return [push_event(read_payload(Push, document, "GitHub push"))]
    if event == "pull_request":
        return [pull_request_event(read_payload(PullRequestEvent, document, "GitHub pull_request"))]
    where = repository_urls_of(Repository, document, "repository")
    return [ignored(f"GitHub event {event!r} starts no build", where)]


def push_event(push: Push) -> ForgeEvent:
    """A push as GitHub and Gitea report it (Gitea's payload is GitHub's shape)."""
    where = push.repository.urls()
    found = ref_event(push.ref)
    if found is None:
        return ignored(f"a push to {push.ref}, neither a branch nor a tag", where)
    kind, name = found
    if push.deleted or is_zero(push.after):
        return ignored(f"the push deletes {push.ref}", where)
    head = push.head_commit or next((c for c in push.commits if c.id == push.after), None)
    # A pushed annotated tag's `after` is the tag object; `head_commit` is "the commit pointed
    # to by the annotated tag" (GitHub's push event; Gitea sends the same). The build checks
    # out a commit and reports its status on it: the commit it is.
    sha = push.head_commit.id if kind == "tag" and push.head_commit else push.after
    changed: frozenset[str] | None = None
    if push.commits and _lists_every_change(push):
        changed = frozenset(
            path
            for commit in push.commits
            for path in (*commit.added, *commit.removed, *commit.modified)
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
        commit_author=_author(head.author) if head else None,
    )


def _lists_every_change(push: Push) -> bool:
    """Whether the payload lists every commit of the push and every file of each: only then
    can a job's `paths` filter tell that the push touches none of its paths."""
    if push.total_commits is not None and push.total_commits > len(push.commits):
        return False
    if len(push.commits) >= MAX_LISTED_COMMITS:
        return False
    return all(
        len(c.added) + len(c.removed) + len(c.modified) < MAX_LISTED_FILES for c in push.commits
    )


def _author(person: Person | None) -> str | None:
    if person is None:
        return None
    return person.name or person.username or person.email


def pull_request_event(
    event: PullRequestEvent, *, build_actions: frozenset[str] = BUILD_ACTIONS
) -> ForgeEvent:
    """A pull request as GitHub and Gitea report it."""
    where = event.repository.urls()
    if event.action not in build_actions:
        return ignored(f"pull request #{event.number} {event.action}: nothing to build", where)
    pull = event.pull_request
    head_repo, base_repo = pull.head.repo, pull.base.repo
    from_fork = head_repo is None or (
        base_repo is not None and head_repo.full_name != base_repo.full_name
    )
    info = PullRequestInfo(
        number=event.number,
        title=pull.title,
        source_branch=pull.head.ref,
        target_branch=pull.base.ref,
        from_fork=from_fork,
        head_ref=f"refs/pull/{event.number}/head",
        head_clone_url=head_repo.clone_url if head_repo is not None else None,
    )
    return ForgeEvent(
        kind="pull_request",
        repository_urls=where,
        branch=pull.head.ref,
        commit_sha=pull.head.sha,
        after=pull.head.sha,
        commit_author=pull.user.login if pull.user else None,
        pull_request=info,
    )


def verify(headers: Mapping[str, str], body: bytes, secret: str) -> bool:
    return same(header(headers, "X-Hub-Signature-256"), "sha256=" + hmac_sha256_hex(secret, body))


FORGE = BuiltinForge(
    name="github",
    event_header="X-GitHub-Event",
    delivery_headers=("X-GitHub-Delivery",),
    secret_headers=("X-Hub-Signature", "X-Hub-Signature-256"),
    parse=parse,
    verify=verify,
    status_request=github_request,
    default_api_url=DEFAULT_API_URLS["github"],
)
