"""checkout() never lets a value from the network reach git as an option.

A branch, sha, pull request ref or fork URL like `--upload-pack=touch FILE` makes git run
`touch FILE` when git reads it as an option (the first test shows the payload does, with git
alone). The agent refuses such values before git runs; and below that check, its git commands
put `--end-of-options` before the values, so even a value that slipped through is a name."""

import asyncio
import subprocess
import uuid
from pathlib import Path

import pytest

from solvyd.agent.checkout import CheckoutError, _checkout_commit, _Git, _git_env, _Masker, checkout
from solvyd.protocol import JobSpec
from tests.support.git_repos import GitRepo, git_env, make_repo


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> GitRepo:
    return make_repo(tmp_path_factory.mktemp("repos"))


def _spec(url: str, **fields: object) -> JobSpec:
    return JobSpec(
        build_id=uuid.uuid4(),
        build_number=1,
        job_id=uuid.uuid4(),
        job_name="injection-test",
        scm_url=url,
        steps=[],
        **fields,  # type: ignore[arg-type]
    )


def _payload(marker: Path) -> str:
    return f"--upload-pack=touch {marker}"


def test_the_payload_runs_a_command_when_git_reads_it_as_an_option(
    repo: GitRepo, tmp_path: Path
) -> None:
    marker = tmp_path / "pwned"
    workspace = tmp_path / "ws"
    workspace.mkdir()
    env = git_env(tmp_path)
    subprocess.run(["git", "init", "--quiet", "."], cwd=workspace, env=env, check=True)
    subprocess.run(
        ["git", "fetch", "--depth", "1", "--no-tags", repo.file_url, _payload(marker)],
        cwd=workspace,
        env=env,
        capture_output=True,
        check=False,
    )
    assert marker.exists()


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("commit_sha", "--upload-pack=touch {marker}", "is not a commit sha"),
        ("commit_sha", "-oProxyCommand=touch {marker}", "is not a commit sha"),
        ("branch", "--upload-pack=touch {marker}", "is not a valid git branch name"),
        ("branch", "main..{marker}", "is not a valid git branch name"),
        ("checkout_ref", "--upload-pack=touch {marker}", "pull request's ref is not a valid"),
        ("checkout_url", "--upload-pack=touch {marker}", "fork's clone URL is refused"),
        ("checkout_url", "ext::sh -c touch% {marker}", "fork's clone URL is refused"),
    ],
)
async def test_a_hostile_value_is_refused_before_git_runs(
    repo: GitRepo, tmp_path: Path, field: str, value: str, says: str
) -> None:
    marker = tmp_path / "pwned"
    fields: dict[str, object] = {field: value.format(marker=marker)}
    if field in ("checkout_ref", "checkout_url"):
        # Used only when the commit is not fetched by its sha: name one that is not there.
        fields["commit_sha"] = "0123456789abcdef"
    lines: list[str] = []
    with pytest.raises(CheckoutError, match="refusing to check out") as raised:
        await checkout(_spec(repo.file_url, **fields), tmp_path / "ws", lines.append)
    assert says in str(raised.value)
    assert not marker.exists()
    # Refused before anything ran: no workspace, no line of git's.
    assert lines == []
    assert not (tmp_path / "ws").exists()


async def test_git_reads_a_value_that_slipped_through_as_a_name(
    repo: GitRepo, tmp_path: Path
) -> None:
    """Below the check: the commands themselves, given a hostile sha, pull request ref and
    fork URL at once (every fallback runs), run nothing."""
    marker = tmp_path / "pwned"
    hostile = _payload(marker)
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (tmp_path / "base").mkdir()
    (tmp_path / "fork").mkdir()
    deadline = asyncio.get_running_loop().time() + 60
    lines: list[str] = []
    masker = _Masker([])
    git = _Git(workspace, _git_env(tmp_path / "base", None), lines.append, masker, deadline, 60)
    fork = _Git(workspace, _git_env(tmp_path / "fork", None), lines.append, masker, deadline, 60)
    spec = _spec(repo.file_url, commit_sha=hostile, checkout_ref=hostile, checkout_url=hostile)
    with pytest.raises(CheckoutError, match="was not found"):
        await _checkout_commit(git, repo.file_url, hostile, repo.file_url, spec, fork)
    assert not marker.exists()
    # The fallbacks did run, and git saw the value where a name goes.
    assert any("fetching the whole repository" in line for line in lines)
