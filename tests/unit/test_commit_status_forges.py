"""The four forges' commit status requests, built from a report: state words, paths, headers
and bodies as each forge documents them (see services/commit_statuses/forges.py for where)."""

import pytest
from pydantic import ValidationError

from solvyd.protocol import BuildStatus
from solvyd.server.scm import BUILTIN_FORGES, StatusReport, StatusRequest
from solvyd.server.scm.statuses import MAX_BITBUCKET_KEY, bitbucket_key, forge_state
from solvyd.server.services.commit_statuses.forges import (
    MAX_DESCRIPTION,
    describe,
    repository_from_scm_url,
)
from solvyd.server.settings import ServerSettings

SHA = "0123456789abcdef0123456789abcdef01234567"


FORGES = {forge.name: forge for forge in BUILTIN_FORGES}


def status_request(forge_and_report: tuple[str, StatusReport], token: str) -> StatusRequest:
    forge, report = forge_and_report
    return FORGES[forge].status_request(report, token)


def already_in_state(forge: str, state: str, code: int, body: str) -> bool:
    request = StatusRequest(url="https://forge.example/", headers={}, body={"state": state})
    return FORGES[forge].already_in_state(request, code, body)


def _report(forge: str, **changes: object) -> tuple[str, StatusReport]:
    fields: dict[str, object] = {
        "api_url": None,
        "repository": "acme/widgets",
        "sha": SHA,
        "state": "running",
        "context": "solvyd/widgets",
        "description": "Build #3 is running",
        "target_url": "https://ci.example/builds/b1",
    }
    fields.update(changes)
    return forge, StatusReport(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("forge", "words"),
    [
        ("github", ["pending", "pending", "success", "failure", "error", "error"]),
        ("gitlab", ["pending", "running", "success", "failed", "canceled", "failed"]),
        ("gitea", ["pending", "pending", "success", "failure", "error", "error"]),
        ("bitbucket", ["INPROGRESS", "INPROGRESS", "SUCCESSFUL", "FAILED", "STOPPED", "FAILED"]),
    ],
)
def test_every_build_state_has_the_forges_word(forge: str, words: list[str]) -> None:
    states = ["queued", "running", "success", "failure", "cancelled", "error"]
    assert [forge_state(forge, BuildStatus(state)) for state in states] == words


def test_github_request() -> None:
    request = status_request(_report("github"), "tok")
    assert request.url == f"https://api.github.com/repos/acme/widgets/statuses/{SHA}"
    assert request.headers["Authorization"] == "Bearer tok"
    assert request.body == {
        "state": "pending",
        "context": "solvyd/widgets",
        "description": "Build #3 is running",
        "target_url": "https://ci.example/builds/b1",
    }


def test_gitlab_request_encodes_the_project_path_and_names_the_status() -> None:
    report = _report("gitlab", repository="grp/sub/proj", api_url="https://gl.example/api/v4")
    request = status_request(report, "tok")
    assert request.url == f"https://gl.example/api/v4/projects/grp%2Fsub%2Fproj/statuses/{SHA}"
    assert request.headers["PRIVATE-TOKEN"] == "tok"
    assert "Authorization" not in request.headers
    assert request.body["state"] == "running"
    assert request.body["name"] == "solvyd/widgets"
    assert request.body["target_url"] == "https://ci.example/builds/b1"


def test_gitea_request() -> None:
    request = status_request(_report("gitea", api_url="https://gitea.example/"), "tok")
    assert request.url == f"https://gitea.example/api/v1/repos/acme/widgets/statuses/{SHA}"
    assert request.headers["Authorization"] == "token tok"
    assert request.body["context"] == "solvyd/widgets"


def test_bitbucket_request_and_a_missing_link() -> None:
    request = status_request(_report("bitbucket", state="cancelled", target_url=None), "tok")
    assert request.url == (
        f"https://api.bitbucket.org/2.0/repositories/acme/widgets/commit/{SHA}/statuses/build"
    )
    assert request.headers["Authorization"] == "Bearer tok"
    assert request.body == {
        "key": "solvyd/widgets",
        "state": "STOPPED",
        "name": "solvyd/widgets",
        "description": "Build #3 is running",
    }


def test_no_link_without_a_public_url() -> None:
    assert "target_url" not in status_request(_report("github", target_url=None), "t").body


def test_a_long_bitbucket_key_is_cut_stably() -> None:
    context = "solvyd/" + "x" * 80
    key = bitbucket_key(context)
    assert len(key) == MAX_BITBUCKET_KEY
    assert key == bitbucket_key(context)
    assert key != bitbucket_key(context + "y")


def test_the_description_is_one_short_line() -> None:
    assert describe("success", 7) == "Build #7 passed"
    long = describe("error", 7, "worker lost\n" + "because " * 50)
    assert len(long) == MAX_DESCRIPTION
    assert "\n" not in long
    assert long.startswith("Build #7 could not run: worker lost because")


@pytest.mark.parametrize(
    ("url", "repository"),
    [
        ("https://github.com/acme/widgets.git", "acme/widgets"),
        ("https://github.com/acme/widgets", "acme/widgets"),
        ("git@github.com:acme/widgets.git", "acme/widgets"),
        ("ssh://git@gitlab.example:2222/grp/sub/proj.git", "grp/sub/proj"),
        ("https://gitlab.example/grp/sub/proj/", "grp/sub/proj"),
        ("https://github.com/widgets", None),
        ("/srv/git/widgets", None),
        ("file:///srv/git/acme/widgets", None),
        (None, None),
    ],
)
def test_the_repository_is_read_from_the_scm_url(url: str | None, repository: str | None) -> None:
    assert repository_from_scm_url(url) == repository


@pytest.mark.parametrize(
    ("value", "stored"),
    [("", ""), ("https://ci.example.com/", "https://ci.example.com"), ("http://h:8080/ci", None)],
)
def test_the_public_url_is_an_http_url(value: str, stored: str | None) -> None:
    settings = ServerSettings(public_url=value)
    assert settings.public_url == (value if stored is None else stored)


@pytest.mark.parametrize("value", ["ftp://ci.example", "ci.example", "https://ci.example/?a=1"])
def test_a_public_url_that_is_no_http_url_stops_the_server(value: str) -> None:
    with pytest.raises(ValidationError, match="public"):
        ServerSettings(public_url=value)


# GitLab's answer to a state its status already has, as gitlab-foss issue 25807 shows it.
_GITLAB_SAME = (
    '{"message":"Cannot transition status via :%s from :%s '
    '(Reason(s): Status cannot transition via \\"%s\\")"}'
)


@pytest.mark.parametrize(
    ("forge", "state", "code", "body", "unchanged"),
    [
        ("gitlab", "running", 400, _GITLAB_SAME % ("run", "running", "run"), True),
        ("gitlab", "pending", 400, _GITLAB_SAME % ("enqueue", "pending", "enqueue"), True),
        # A real refusal: the status is elsewhere (a build handed back after it ran).
        ("gitlab", "pending", 400, _GITLAB_SAME % ("enqueue", "running", "enqueue"), False),
        ("gitlab", "running", 400, _GITLAB_SAME % ("run", "runningx", "run"), False),
        ("gitlab", "running", 422, _GITLAB_SAME % ("run", "running", "run"), False),
        ("github", "pending", 400, _GITLAB_SAME % ("enqueue", "pending", "enqueue"), False),
        ("gitlab", "running", 400, '{"message": {"state": ["is invalid"]}}', False),
        ("gitlab", "running", 400, '["Cannot transition status via :run from :running"]', False),
        ("gitlab", "running", 400, "Cannot transition status via :run from :running", False),
        ("gitlab", "running", 400, "[" * 8192, False),
        (
            "gitlab",
            "running",
            400,
            '{"message": "x Cannot transition status via :run from :running"}',
            False,
        ),
    ],
)
def test_gitlab_refusing_the_state_it_has_is_told_apart(
    forge: str, state: str, code: int, body: str, unchanged: bool
) -> None:
    assert already_in_state(forge, state, code, body) is unchanged
