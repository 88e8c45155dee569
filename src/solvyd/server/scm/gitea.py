"""Gitea and Forgejo: `X-Gitea-Event` push | pull_request (Forgejo sends Gitea's headers and
payloads, and `X-Forgejo-*` twins), signed with `X-Gitea-Signature: <hex HMAC-SHA256 of the
body>`. The payloads are GitHub's shape; a pull request update is `synchronized`.

Shapes: https://docs.gitea.com/usage/webhooks (the push example) and Gitea's
modules/structs/hook.go (PushPayload, PullRequestPayload), which Forgejo keeps."""

from collections.abc import Mapping

from solvyd.server.scm import github
from solvyd.server.scm.event import (
    ForgeEvent,
    PayloadError,
    header,
    hmac_sha256_hex,
    ignored,
    load_json,
    read_payload,
    repository_urls_of,
    same,
)
from solvyd.server.scm.provider import BuiltinForge
from solvyd.server.scm.statuses import gitea_request

BUILD_ACTIONS = frozenset({"opened", "synchronized", "reopened"})


def parse(headers: Mapping[str, str], body: bytes) -> list[ForgeEvent]:
    event = header(headers, "X-Gitea-Event") or header(headers, "X-Forgejo-Event")
    if event is None:
        raise PayloadError("the X-Gitea-Event header is missing")
    document = load_json(body)
    if event == "push":
        return [github.push_event(read_payload(github.Push, document, "Gitea push"))]
    if event == "pull_request":
        pull = read_payload(github.PullRequestEvent, document, "Gitea pull_request")
        return [github.pull_request_event(pull, build_actions=BUILD_ACTIONS)]
    where = repository_urls_of(github.Repository, document, "repository")
    if event in ("create", "delete"):
        return [ignored(f"Gitea event {event!r}: the push event of the same ref builds", where)]
    return [ignored(f"Gitea event {event!r} starts no build", where)]


def verify(headers: Mapping[str, str], body: bytes, secret: str) -> bool:
    given = header(headers, "X-Gitea-Signature") or header(headers, "X-Forgejo-Signature")
    return same(given, hmac_sha256_hex(secret, body))


FORGE = BuiltinForge(
    name="gitea",
    event_header="X-Gitea-Event",
    delivery_headers=("X-Gitea-Delivery", "X-Forgejo-Delivery"),
    secret_headers=(
        "X-Gitea-Signature",
        "X-Forgejo-Signature",
        "X-Gogs-Signature",
        "X-Hub-Signature",
        "X-Hub-Signature-256",
    ),
    parse=parse,
    verify=verify,
    status_request=gitea_request,
)
