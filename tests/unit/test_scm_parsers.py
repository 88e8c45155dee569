"""Each forge's parser on its documented payload shapes (tests/support/forge_payloads): the
normalised event, and the fields a build carries (tag, pull request, head commit)."""

import pytest

from solvyd.server.scm import BUILTIN_FORGES, PayloadError
from solvyd.server.scm.event import ForgeEvent
from tests.support.forge_payloads import HookRequest, bitbucket, gitea, github, gitlab, sign

FORGES = {forge.name: forge for forge in BUILTIN_FORGES}

SHA = "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"


def parse(request: HookRequest) -> ForgeEvent:
    [event] = FORGES[request.forge].parse(request.headers, request.body)
    return event


def test_a_github_push_names_its_head_commit_and_files() -> None:
    repo = github.repository("octo", "hello")
    event = parse(
        github.push(
            repo=repo,
            after=SHA,
            message="Fix it\n\nbody",
            author="Mona",
            files={"added": ["a.py"], "removed": ["b.py"], "modified": ["c.py"]},
        )
    )
    assert (event.kind, event.branch, event.commit_sha) == ("push", "main", SHA)
    assert (event.commit_message, event.commit_author) == ("Fix it\n\nbody", "Mona")
    assert event.changed_files == {"a.py", "b.py", "c.py"}
    assert set(event.repository_urls) >= {repo["clone_url"], repo["ssh_url"], repo["html_url"]}
    assert event.origin().event == "push"


def test_a_github_pull_request_from_a_fork() -> None:
    repo = github.repository("octo", "hello")
    fork = github.repository("someone", "hello")
    event = parse(github.pull_request(repo=repo, head_repo=fork, number=7, action="synchronize"))
    pull = event.pull_request
    assert pull is not None
    assert (pull.number, pull.source_branch, pull.target_branch) == (7, "changes", "main")
    assert pull.from_fork and pull.head_ref == "refs/pull/7/head"
    assert pull.head_clone_url == fork["clone_url"]
    assert event.origin().pull_request == pull


def test_a_gitlab_annotated_tag_builds_the_commit_it_points_at() -> None:
    request = gitlab.push(proj=gitlab.project("g", "p"), ref="refs/tags/v2", after="f" * 40)
    request.payload["checkout_sha"] = SHA
    request = request.with_payload(request.payload)
    event = parse(request)
    assert (event.kind, event.tag, event.commit_sha) == ("tag", "v2", SHA)


def test_a_gitlab_merge_request_from_a_fork() -> None:
    proj = gitlab.project("g", "p", 1)
    event = parse(gitlab.merge_request(proj=proj, source=gitlab.project("f", "p", 2), iid=9))
    assert event.pull_request is not None
    assert event.pull_request.from_fork
    assert event.pull_request.head_ref == "refs/merge-requests/9/head"
    assert event.commit_author == "GitLab dev user"


def test_gitea_synchronized_builds_and_create_is_left_to_push() -> None:
    repo = gitea.repository("o", "r")
    assert parse(gitea.pull_request(repo=repo, action="synchronized")).kind == "pull_request"
    create = gitea.push(repo=repo).with_payload({"ref": "v1", "ref_type": "tag"})
    create.headers["X-Gitea-Event"] = "create"
    assert parse(create).kind == "ignored"


def test_a_bitbucket_push_lists_no_files_and_deletions_build_nothing() -> None:
    repo = bitbucket.repository("w", "r")
    event = parse(bitbucket.push(repo=repo, new_sha=SHA))
    assert (event.kind, event.branch, event.commit_sha, event.changed_files) == (
        "push",
        "main",
        SHA,
        None,
    )
    assert event.commit_author == "Emma"
    assert parse(bitbucket.push(repo=repo, new_sha=None)).kind == "ignored"


@pytest.mark.parametrize("forge", sorted(FORGES))
def test_the_event_comes_from_the_header_only(forge: str) -> None:
    header = FORGES[forge].event_header
    with pytest.raises(PayloadError, match=header):
        FORGES[forge].parse({"Content-Type": "application/json"}, b"{}")
    assert FORGES[forge].parse({header: "something-else"}, b"{}")[0].kind == "ignored"


def test_signatures_are_checked_against_the_raw_body() -> None:
    request = github.push(repo=github.repository("o", "r"))
    signed = sign(request, "s3cret-s3cret")
    assert FORGES["github"].verify(signed.headers, signed.body, "s3cret-s3cret")
    assert not FORGES["github"].verify(signed.headers, signed.body + b" ", "s3cret-s3cret")
    assert not FORGES["github"].verify(signed.headers, signed.body, "another-secret")
    assert not FORGES["github"].verify(request.headers, request.body, "s3cret-s3cret")
