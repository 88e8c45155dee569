"""Bitbucket Cloud: `X-Event-Key` repo:push | pullrequest:created | pullrequest:updated,
signed with `X-Hub-Signature: sha256=<hex HMAC-SHA256 of the body>`; `X-Request-UUID` per
delivery. (`X-Hook-UUID` is not one: it names the webhook, the same in all its deliveries, so
taking it for a delivery id would answer every later push as a redelivery of the first.)

A push lists its changes per ref (`push.changes[]`, `new: null` when the ref was deleted),
never the files: a job's `paths` filter cannot apply and the build starts.

Shapes: https://support.atlassian.com/bitbucket-cloud/docs/event-payloads/ (repo:push,
pullrequest:created, the common Repository and Pull Request entities)."""

from collections.abc import Mapping

from solvyd.server.scm.event import (
    ForgeEvent,
    Kind,
    Payload,
    PayloadError,
    header,
    hmac_sha256_hex,
    ignored,
    load_json,
    read_payload,
    repository_urls_of,
    same,
    urls,
)
from solvyd.server.scm.provider import BuiltinForge
from solvyd.server.scm.statuses import DEFAULT_API_URLS, bitbucket_request
from solvyd.server.services.builds.origin import PullRequestInfo

BUILD_EVENTS = frozenset({"pullrequest:created", "pullrequest:updated"})
PING_EVENTS = frozenset({"diagnostics:ping"})


class Link(Payload):
    href: str


class Links(Payload):
    html: Link | None = None


class Repository(Payload):
    full_name: str
    links: Links | None = None

    def urls(self) -> tuple[str, ...]:
        html = self.links.html.href if self.links and self.links.html else None
        # Bitbucket's clone URLs are its web URL's: https://bitbucket.org/<full name>(.git) and
        # git@bitbucket.org:<full name>.git; the web URL's key is theirs.
        return urls(html)


class User(Payload):
    display_name: str | None = None
    nickname: str | None = None


class Author(Payload):
    raw: str | None = None
    user: User | None = None


class Commit(Payload):
    hash: str
    message: str | None = None
    author: Author | None = None


class Ref(Payload):
    type: str
    name: str
    target: Commit


class Change(Payload):
    new: Ref | None = None
    old: Ref | None = None


class PushDetails(Payload):
    changes: list[Change]


class Push(Payload):
    push: PushDetails
    repository: Repository


class Branch(Payload):
    name: str


class PullCommit(Payload):
    hash: str


class PullEnd(Payload):
    branch: Branch
    commit: PullCommit
    repository: Repository


class PullRequest(Payload):
    id: int
    title: str
    source: PullEnd
    destination: PullEnd
    author: User | None = None


class PullRequestEvent(Payload):
    pullrequest: PullRequest
    repository: Repository


def parse(headers: Mapping[str, str], body: bytes) -> list[ForgeEvent]:
    event = header(headers, "X-Event-Key")
    if event is None:
        raise PayloadError("the X-Event-Key header is missing")
    document = load_json(body)
    if event in PING_EVENTS:
        return [ForgeEvent(kind="ping")]
    if event == "repo:push":
        push = read_payload(Push, document, "Bitbucket repo:push")
        where = push.repository.urls()
        return [_change(change, where) for change in push.push.changes] or [
            ignored("the push lists no change", where)
        ]
    if event.startswith("pullrequest:"):
        pull = read_payload(PullRequestEvent, document, f"Bitbucket {event}")
        if event not in BUILD_EVENTS:
            where = pull.repository.urls()
            return [
                ignored(f"pull request #{pull.pullrequest.id} {event}: nothing to build", where)
            ]
        return [_pull_request(pull)]
    where = repository_urls_of(Repository, document, "repository")
    return [ignored(f"Bitbucket event {event!r} starts no build", where)]


def _author(author: Author | None) -> str | None:
    if author is None:
        return None
    if author.user is not None and author.user.display_name:
        return author.user.display_name
    return author.raw


def _change(change: Change, where: tuple[str, ...]) -> ForgeEvent:
    if change.new is None:
        name = change.old.name if change.old else "a ref"
        return ignored(f"the push deletes {name}", where)
    ref = change.new
    if ref.type not in ("branch", "tag"):
        return ignored(f"a push of a {ref.type}, neither a branch nor a tag", where)
    kind: Kind = "push" if ref.type == "branch" else "tag"
    return ForgeEvent(
        kind=kind,
        repository_urls=where,
        branch=ref.name if kind == "push" else None,
        tag=ref.name if kind == "tag" else None,
        commit_sha=ref.target.hash,
        before=change.old.target.hash if change.old else None,
        after=ref.target.hash,
        commit_message=ref.target.message,
        commit_author=_author(ref.target.author),
    )


def _pull_request(event: PullRequestEvent) -> ForgeEvent:
    pull = event.pullrequest
    from_fork = pull.source.repository.full_name != pull.destination.repository.full_name
    source_urls = pull.source.repository.urls()
    info = PullRequestInfo(
        number=pull.id,
        title=pull.title,
        source_branch=pull.source.branch.name,
        target_branch=pull.destination.branch.name,
        from_fork=from_fork,
        # Bitbucket has no ref for a pull request's head in the target repository.
        head_ref=None,
        head_clone_url=source_urls[0] if source_urls else None,
    )
    return ForgeEvent(
        kind="pull_request",
        repository_urls=event.repository.urls(),
        branch=pull.source.branch.name,
        commit_sha=pull.source.commit.hash,
        after=pull.source.commit.hash,
        commit_author=pull.author.display_name if pull.author else None,
        pull_request=info,
    )


def verify(headers: Mapping[str, str], body: bytes, secret: str) -> bool:
    return same(header(headers, "X-Hub-Signature"), "sha256=" + hmac_sha256_hex(secret, body))


FORGE = BuiltinForge(
    name="bitbucket",
    event_header="X-Event-Key",
    delivery_headers=("X-Request-UUID",),
    secret_headers=("X-Hub-Signature",),
    parse=parse,
    verify=verify,
    status_request=bitbucket_request,
    default_api_url=DEFAULT_API_URLS["bitbucket"],
)
