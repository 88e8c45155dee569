"""Which repository a URL names, and which files and branches a job's globs take."""

import pytest

from solvyd.server.scm import repository_key
from solvyd.server.services.hooks.filters import branch_matches, path_matches

SAME_REPOSITORY = [
    "https://github.com/octo-org/hello-world",
    "https://github.com/octo-org/hello-world.git",
    "https://github.com/octo-org/hello-world/",
    "https://GitHub.COM/octo-org/hello-world.git/",
    "http://github.com/octo-org/hello-world",
    "https://user:token@github.com/octo-org/hello-world.git",
    "https://github.com:443/octo-org/hello-world",
    "git@github.com:octo-org/hello-world.git",
    "git@github.com:octo-org/hello-world",
    "github.com:octo-org/hello-world",
    "ssh://git@github.com/octo-org/hello-world.git",
    "ssh://git@github.com:22/octo-org/hello-world",
    "git://github.com/octo-org/hello-world.git",
]


@pytest.mark.parametrize("url", SAME_REPOSITORY)
def test_every_form_of_a_repository_url_has_one_key(url: str) -> None:
    assert repository_key(url) == "github.com/octo-org/hello-world"


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/octo-org/hello-world-2",
        "https://github.com/octo-org/Hello-World",  # a path's case is the forge's to judge
        "https://gitlab.com/octo-org/hello-world",
        "https://github.com/octo-org",
        "git@github.com:other/hello-world.git",
    ],
)
def test_other_repositories_have_other_keys(url: str) -> None:
    assert repository_key(url) != "github.com/octo-org/hello-world"


def test_subgroups_keep_their_whole_path() -> None:
    assert repository_key("git@gitlab.example.com:group/sub/project.git") == repository_key(
        "https://gitlab.example.com/group/sub/project"
    )


@pytest.mark.parametrize(
    "url", [None, "", "/srv/git/repo", "file:///srv/git/repo.git", "./repo", "https://", "x"]
)
def test_what_names_no_network_repository_has_no_key(url: str | None) -> None:
    assert repository_key(url) is None


@pytest.mark.parametrize(
    ("glob", "path", "matches"),
    [
        ("README.md", "README.md", True),
        ("*.md", "README.md", True),
        ("*.md", "docs/guide.md", False),
        ("**/*.md", "docs/guide.md", True),
        ("**/*.md", "README.md", True),
        ("docs/**", "docs/a/b/c.txt", True),
        ("docs/**", "src/docs/a.txt", False),
        ("src/*/main.py", "src/app/main.py", True),
        ("src/*/main.py", "src/app/sub/main.py", False),
        ("src/**/main.py", "src/app/sub/main.py", True),
        ("file?.txt", "file1.txt", True),
        ("file?.txt", "file/.txt", False),
        ("/src/**", "src/x.py", True),
        ("a+b(c).txt", "a+b(c).txt", True),
    ],
)
def test_path_globs(glob: str, path: str, matches: bool) -> None:
    assert path_matches([glob], path) is matches


@pytest.mark.parametrize(
    ("glob", "branch", "matches"),
    [("main", "main", True), ("release/*", "release/1.0", True), ("release/*", "main", False)],
)
def test_branch_globs_are_when_branch_globs(glob: str, branch: str, matches: bool) -> None:
    assert branch_matches([glob], branch) is matches
