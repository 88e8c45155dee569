"""shared/git_names.py against git itself: a ref name passes exactly when
`git check-ref-format --branch` accepts it, but for a leading '-' (which git would read as an
option) and a name over 255 characters."""

import subprocess

import pytest

from solvyd.shared.git_names import (
    MAX_REF_NAME_LENGTH,
    branch_problem,
    commit_sha_problem,
    full_ref_problem,
    is_commit_sha,
    is_ref_name,
    remote_url_problem,
    url_problem,
)

NAMES = [
    "main",
    "feature/login",
    "release-1.2",
    "v1.0.0",
    "user/ünïcode",
    "a.b/c_d",
    "fix@home",
    "--upload-pack=touch /tmp/pwned",
    "-b",
    "has space",
    "tab\there",
    "new\nline",
    "del\x7f",
    "a..b",
    "a~1",
    "a^2",
    "a:b",
    "what?",
    "star*",
    "br[acket",
    "back\\slash",
    "a@{1}",
    "x.lock",
    "dir/x.lock/y",
    ".hidden",
    "dir/.hidden",
    "/lead",
    "trail/",
    "dou//ble",
    "dot.",
    "",
]


def _git_accepts(name: str) -> bool:
    result = subprocess.run(
        ["git", "check-ref-format", "--branch", name], capture_output=True, check=False
    )
    return result.returncode == 0


@pytest.mark.parametrize("name", NAMES)
def test_ref_names_are_judged_as_git_judges_them(name: str) -> None:
    expected = _git_accepts(name) and not name.startswith("-")
    assert is_ref_name(name) is expected, branch_problem(name)


def test_a_leading_dash_is_refused_though_git_check_ref_format_may_allow_it() -> None:
    problem = branch_problem("--upload-pack=touch /tmp/pwned")
    assert problem is not None and "option" in problem


def test_a_huge_name_is_refused_and_not_repeated_whole() -> None:
    name = "a" * (MAX_REF_NAME_LENGTH + 1)
    assert _git_accepts(name)
    problem = branch_problem(name)
    assert problem is not None and len(problem) < 200


def test_full_refs_start_with_refs() -> None:
    assert full_ref_problem("refs/pull/7/head") is None
    assert full_ref_problem("refs/merge-requests/7/head") is None
    assert full_ref_problem("pull/7/head") is not None
    assert full_ref_problem("refs/pull/7/head:refs/heads/main") is not None


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("0d1a26e", True),
        ("0D1A26E67D8F5EAF1F6BA5C57FC3C7D91AC0FD1C", True),
        ("a" * 64, True),
        ("0d1a26", False),
        ("a" * 65, False),
        ("-oProxyCommand=touch /tmp/pwned", False),
        ("--upload-pack=x", False),
        ("0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1g", False),
        ("HEAD", False),
        ("", False),
    ],
)
def test_commit_shas(value: str, valid: bool) -> None:
    assert is_commit_sha(value) is valid
    assert (commit_sha_problem(value) is None) is valid


@pytest.mark.parametrize(
    ("url", "local_ok", "remote_ok"),
    [
        ("https://github.com/someone/repo.git", True, True),
        ("http://git.example:3000/someone/repo.git", True, True),
        ("ssh://git@gitlab.example:2222/someone/repo.git", True, True),
        ("git://git.example/repo.git", True, True),
        ("git@github.com:someone/repo.git", True, True),
        ("file:///srv/git/repo.git", True, False),
        ("/srv/git/my repo.git", True, False),
        ("--upload-pack=touch /tmp/pwned", False, False),
        ("-oProxyCommand=touch /tmp/pwned", False, False),
        ("ext::sh -c touch% /tmp/pwned", False, False),
        ("https://github.com/a/b\n", False, False),
        ("ssh://-oProxyCommand=x/repo", True, False),
        ("git@-oProxyCommand=x:repo", True, False),
        ("https://github.com/a b", True, False),
        ("", False, False),
    ],
)
def test_urls(url: str, local_ok: bool, remote_ok: bool) -> None:
    assert (url_problem(url) is None) is local_ok
    assert (remote_url_problem(url) is None) is remote_ok
