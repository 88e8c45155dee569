"""The normalised event every forge's parser returns, and what the parsers share."""

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from solvyd.server.services.builds.origin import BuildOrigin, PullRequestInfo
from solvyd.shared.git_names import (
    branch_problem,
    commit_sha_problem,
    full_ref_problem,
    remote_url_problem,
)
from solvyd.shared.text import is_storable

Kind = Literal["push", "tag", "pull_request", "ping", "ignored"]
BUILT_KINDS = frozenset({"push", "tag", "pull_request"})
ZERO_SHA = "0" * 40
BRANCH_PREFIX = "refs/heads/"
TAG_PREFIX = "refs/tags/"


class PayloadError(ValueError):
    """The request is not a webhook this forge sends: unreadable JSON, a missing event header
    or a payload without a field the event needs. The message says which (a 400)."""


@dataclass(frozen=True)
class ForgeEvent:
    """What one webhook reports. `kind` ignored: nothing is built, `reason` says why.

    An event to build names only what git reads as names: its branch, tag and pull request
    branches are valid ref names, its commit a sha, the pull request's ref a full ref and the
    fork's clone URL a remote URL (they reach the agent's git command line, where
    `--upload-pack=...` would run a command). Else it is not made: a PayloadError (a 400)."""

    kind: Kind
    reason: str | None = None
    # Every URL the payload names the repository by (clone over HTTP and SSH, web page).
    repository_urls: tuple[str, ...] = ()
    branch: str | None = None
    tag: str | None = None
    commit_sha: str | None = None
    before: str | None = None
    after: str | None = None
    deleted: bool = False
    # The files the push changed, as the payload lists them; None: not listed (build).
    changed_files: frozenset[str] | None = None
    commit_message: str | None = None
    commit_author: str | None = None
    pull_request: PullRequestInfo | None = None

    def __post_init__(self) -> None:
        if self.kind not in BUILT_KINDS:
            return
        problems = [
            commit_sha_problem(self.commit_sha or ""),
            branch_problem(self.branch) if self.branch is not None else None,
            branch_problem(self.tag, "tag") if self.tag is not None else None,
        ]
        pull = self.pull_request
        if pull is not None:
            problems += [branch_problem(pull.source_branch), branch_problem(pull.target_branch)]
            if pull.head_ref is not None and (problem := full_ref_problem(pull.head_ref)):
                problems.append(f"the pull request's ref is refused: {problem}")
            if pull.head_clone_url is not None and (
                problem := remote_url_problem(pull.head_clone_url)
            ):
                problems.append(f"the head repository's clone URL is refused: {problem}")
        found = [problem for problem in problems if problem is not None]
        if found:
            raise PayloadError("the payload names what git cannot build: " + "; ".join(found))

    def origin(self) -> BuildOrigin:
        return BuildOrigin(
            event=self.kind,
            tag=self.tag,
            pull_request=self.pull_request,
            commit_message=self.commit_message,
            commit_author=self.commit_author,
        )


def ignored(reason: str, urls: tuple[str, ...] = ()) -> ForgeEvent:
    return ForgeEvent(kind="ignored", reason=reason, repository_urls=urls)


class Payload(BaseModel):
    """Base of the payload models: only the fields Solvyd reads are declared; the rest of
    what the forge sends is ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)


M = TypeVar("M", bound=Payload)


# What a body must hold to decode into a NUL or a lone surrogate (see shared/text.py).
_MAYBE_UNSTORABLE = re.compile(rb"\\u[dD][89a-fA-F]|\\u0000|\x00")


def load_json(body: bytes) -> Any:
    """The body's JSON document; a PayloadError for one that is not UTF-8 JSON, or that holds
    text no database column can store (forges send none)."""
    try:
        document = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise PayloadError("the body is not UTF-8 text") from None
    except (ValueError, RecursionError) as exc:
        raise PayloadError(f"the body is not valid JSON: {exc}") from None
    if _MAYBE_UNSTORABLE.search(body) and not _storable(document):
        raise PayloadError("the body holds a NUL character or a lone UTF-16 surrogate")
    return document


def _storable(document: Any) -> bool:
    pending = [document]
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            if not is_storable(value):
                return False
        elif isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return True


def read_payload(model: type[M], document: Any, what: str) -> M:
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()[:5]
        )
        raise PayloadError(f"not a {what} payload: {problems}") from None


def repository_urls_of(model: type[M], document: Any, field: str) -> tuple[str, ...]:
    """The repository URLs of an event Solvyd does not build (`document[field]`), so that the
    delivery is still verified and answered 202 with the reason, not 401; none if absent."""
    if not isinstance(document, dict):
        return ()
    try:
        repository = model.model_validate(document.get(field))
    except ValidationError:
        return ()
    found = getattr(repository, "urls", None)
    return tuple(found()) if callable(found) else ()


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header's value (names are matched without case), None when absent or empty."""
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value.strip() or None
    return None


def hmac_sha256_hex(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def same(given: str | None, expected: str) -> bool:
    """Constant-time comparison (as long as the expected value's length)."""
    if given is None:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


def ref_event(ref: str) -> tuple[Kind, str] | None:
    """("push", branch) or ("tag", tag name) for a full ref; None for another ref."""
    if ref.startswith(BRANCH_PREFIX):
        return "push", ref.removeprefix(BRANCH_PREFIX)
    if ref.startswith(TAG_PREFIX):
        return "tag", ref.removeprefix(TAG_PREFIX)
    return None


def is_zero(sha: str | None) -> bool:
    return sha is not None and set(sha) == {"0"}


def urls(*candidates: str | None) -> tuple[str, ...]:
    return tuple(dict.fromkeys(url for url in candidates if url))
