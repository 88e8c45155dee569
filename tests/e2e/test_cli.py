"""The newcomer's walk-through, through the real `solvyd` command: `up`, then login, create,
trigger --follow and list in a second process."""

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from solvyd.cli.demo import HELLO_PIPELINE
from tests.support.processes import (
    ADMIN_PASSWORD,
    Process,
    start_embedded,
)

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]


def test_demo_pipeline_is_the_example_file() -> None:
    assert (REPO / "examples" / "hello.yml").read_text() == HELLO_PIPELINE


@pytest.fixture
def embedded(tmp_path: Path, log_dir: Path) -> Iterator[tuple[Process, str, Path]]:
    """`solvyd up` with its defaults (SQLite under ./.solvyd of its working directory)."""
    workdir = tmp_path / "newcomer"
    workdir.mkdir()
    env = {"SOLVYD_ADMIN_PASSWORD": ADMIN_PASSWORD, "SOLVYD_DATABASE_URL": ""}
    process, url = start_embedded(workdir, env, log_dir)
    yield process, url, workdir
    assert process.stop() == 0, process.output()


def _cli(args: list[str], config: Path, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "solvyd.cli", *args],
        env={**os.environ, "SOLVYD_CLI_CONFIG": str(config), "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        **kwargs,  # type: ignore[arg-type]
    )


def test_newcomer_walkthrough(embedded: tuple[Process, str, Path], tmp_path: Path) -> None:
    _, url, workdir = embedded
    config = tmp_path / "cli" / "config.json"

    login = _cli(
        ["login", url, "--username", "admin", "--password-stdin"],
        config,
        input=ADMIN_PASSWORD + "\n",
    )
    assert login.returncode == 0, login.stderr
    assert oct(config.stat().st_mode & 0o777) == "0o600"
    assert ADMIN_PASSWORD not in login.stdout + login.stderr
    # What is saved is a personal API token (an access token would last only minutes).
    assert json.loads(config.read_text())["token"].startswith("svp_")

    create = _cli(["jobs", "create", "hello", "--pipeline", "examples/hello.yml"], config)
    assert create.returncode == 0, create.stderr
    assert "already exists, unchanged" in create.stderr  # `up` made the demo job

    run = _cli(["jobs", "trigger", "hello", "--follow"], config)
    assert run.returncode == 0, run.stderr
    assert "Hello from Solvyd build 1 of hello" in run.stdout
    # Two steps: each line after its step, in a column (no colour: stdout is a pipe).
    assert [line for line in run.stdout.splitlines() if "] tick" in line] == [
        f"[count] tick {i}" for i in range(1, 6)
    ]
    assert "build #1 success" in run.stderr

    listing = _cli(["builds", "list"], config)
    assert listing.returncode == 0, listing.stderr
    assert "hello" in listing.stdout and "success" in listing.stdout

    assert (workdir / ".solvyd" / "solvyd.db").exists()


def test_follow_exits_with_the_build_exit_code(
    embedded: tuple[Process, str, Path], tmp_path: Path
) -> None:
    _, url, _ = embedded
    config = tmp_path / "cli" / "config.json"
    assert (
        _cli(
            ["login", url, "-u", "admin", "--password-stdin"], config, input=ADMIN_PASSWORD + "\n"
        ).returncode
        == 0
    )
    pipeline = tmp_path / "fails.yml"
    pipeline.write_text("steps:\n  - name: s\n    commands: ['echo failing', 'exit 3']\n")
    assert _cli(["jobs", "create", "fails", "--pipeline", str(pipeline)], config).returncode == 0
    run = _cli(["jobs", "trigger", "fails", "--follow"], config)
    assert run.returncode == 3
    assert "failing" in run.stdout


def test_cli_errors_are_one_line(tmp_path: Path) -> None:
    config = tmp_path / "none.json"
    result = _cli(["jobs", "list"], config)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "not logged in" in result.stderr
    bad = _cli(
        ["login", "http://127.0.0.1:1", "-u", "admin", "--password-stdin"], config, input="x\n"
    )
    assert bad.returncode == 1
    assert "cannot reach the server" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_drain_resume_and_retry_from_the_cli(
    embedded: tuple[Process, str, Path], tmp_path: Path
) -> None:
    _, url, _ = embedded
    config = tmp_path / "cli" / "config.json"
    login = _cli(["login", url, "-u", "admin", "--password-stdin"], config, input=ADMIN_PASSWORD)
    assert login.returncode == 0, login.stderr
    token = json.loads(config.read_text())["token"]
    workers = httpx.get(
        f"{url}/api/v1/workers", headers={"Authorization": f"Bearer {token}"}, timeout=10
    ).json()["items"]
    name = workers[0]["name"]

    drained = _cli(["workers", "drain", name], config)
    assert drained.returncode == 0, drained.stderr
    assert f"worker {name} is draining" in drained.stderr
    build_id = _cli(["jobs", "trigger", "hello"], config).stdout.strip()
    shown = _cli(["builds", "show", build_id], config)
    assert "waiting_reason: no worker is online" in shown.stdout

    assert _cli(["workers", "resume", name], config).returncode == 0
    followed = _cli(["builds", "logs", build_id, "--follow"], config)
    assert followed.returncode == 0, followed.stderr

    retried = _cli(["builds", "retry", build_id, "--follow"], config)
    assert retried.returncode == 0, retried.stderr
    assert "retrying " + build_id in retried.stderr
    assert "tick 5" in retried.stdout


def test_logs_follow_by_step_raw_and_with_timestamps(
    embedded: tuple[Process, str, Path], tmp_path: Path
) -> None:
    _, url, _ = embedded
    config = tmp_path / "cli" / "config.json"
    login = _cli(["login", url, "-u", "admin", "--password-stdin"], config, input=ADMIN_PASSWORD)
    assert login.returncode == 0, login.stderr
    pipeline = tmp_path / "colours.yml"
    pipeline.write_text(
        json.dumps(
            {
                "steps": [
                    {
                        "name": "colour",
                        "commands": ["sleep 1", "printf '\\033[31mred text\\033[0m\\n'"],
                    },
                    {"name": "other", "commands": ["echo other-line", "exit 4"]},
                ]
            }
        )
    )
    assert _cli(["jobs", "create", "colours", "--pipeline", str(pipeline)], config).returncode == 0
    build_id = _cli(["jobs", "trigger", "colours"], config).stdout.strip()

    # Followed from before it runs to its end; the exit code is the build's.
    followed = _cli(["builds", "logs", build_id, "--follow", "--step", "colour", "--raw"], config)
    assert followed.returncode == 4, followed.stderr
    assert "red text" in followed.stdout
    assert "\x1b" not in followed.stdout and "other-line" not in followed.stdout
    assert "build #1 failure" in followed.stderr

    coloured = _cli(["builds", "logs", build_id, "--step", "colour"], config)
    assert "\x1b[31mred text\x1b[0m" in coloured.stdout
    stamped = _cli(["builds", "logs", build_id, "--timestamps"], config)
    stamped_lines = [line.partition(" ") for line in stamped.stdout.splitlines()]
    stamp = next(stamp for stamp, _, text in stamped_lines if text == "[other]  other-line")
    assert stamp.startswith("20") and "T" in stamp


def _as(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_users_and_tokens_from_the_cli(embedded: tuple[Process, str, Path], tmp_path: Path) -> None:
    _, url, _ = embedded
    admin_config = tmp_path / "admin" / "config.json"
    dana_config = tmp_path / "dana" / "config.json"
    login = ["login", url, "-u", "admin", "--password-stdin"]
    assert _cli(login, admin_config, input=ADMIN_PASSWORD + "\n").returncode == 0
    first = json.loads(admin_config.read_text())
    # Logging in again makes a new CLI token and revokes the one it replaces.
    assert _cli(login, admin_config, input=ADMIN_PASSWORD + "\n").returncode == 0
    second = json.loads(admin_config.read_text())
    assert second["token"] != first["token"]
    me = f"{url}/api/v1/users/me"
    assert httpx.get(me, headers=_as(first["token"]), timeout=10).status_code == 401
    assert httpx.get(me, headers=_as(second["token"]), timeout=10).json()["username"] == "admin"

    dana_password = "dana-password-1"
    create = _cli(
        ["users", "create", "dana", "--role", "developer", "--password-stdin"],
        admin_config,
        input=dana_password + "\n",
    )
    assert create.returncode == 0, create.stderr
    assert "created developer dana" in create.stderr
    assert dana_password not in create.stdout + create.stderr
    short = _cli(["users", "create", "eve", "--password-stdin"], admin_config, input="short\n")
    assert short.returncode == 1 and "password" in short.stderr and "Traceback" not in short.stderr

    set_role = _cli(["users", "set-role", "dana", "viewer"], admin_config)
    assert "dana is now viewer" in set_role.stderr
    listing = _cli(["users", "list"], admin_config)
    assert listing.returncode == 0, listing.stderr
    [row] = [line for line in listing.stdout.splitlines() if " dana " in f" {line} "]
    assert "viewer" in row

    assert _cli(["users", "disable", "dana"], admin_config).returncode == 0
    dana_login = ["login", url, "-u", "dana", "--password-stdin"]
    refused = _cli(dana_login, dana_config, input=dana_password + "\n")
    assert refused.returncode == 1 and "invalid username or password" in refused.stderr
    assert _cli(["users", "enable", "dana"], admin_config).returncode == 0
    assert _cli(dana_login, dana_config, input=dana_password + "\n").returncode == 0

    # A viewer makes a read token for a script: printed once on stdout, a note on stderr.
    created = _cli(
        ["tokens", "create", "nightly", "--scope", "read", "--expires-in-days", "7"], dana_config
    )
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert token.startswith("svp_") and "not shown again" in created.stderr
    assert httpx.get(f"{url}/api/v1/jobs", headers=_as(token), timeout=10).status_code == 200
    listed = _cli(["tokens", "list"], dana_config)
    assert "nightly" in listed.stdout and "read" in listed.stdout and token not in listed.stdout
    token_id = created.stderr.split("(", 1)[1].split(")", 1)[0]
    revoked = _cli(["tokens", "revoke", token_id], dana_config)
    assert revoked.returncode == 0, revoked.stderr
    assert httpx.get(f"{url}/api/v1/jobs", headers=_as(token), timeout=10).status_code == 401

    # Anyone changes their own password, proving the current one; the CLI's token stays.
    passwd = ["passwd", "--password-stdin"]
    wrong = _cli(passwd, dana_config, input="not-my-password\nnew-dana-password\n")
    assert wrong.returncode == 1 and "current password is not right" in wrong.stderr
    changed = _cli(passwd, dana_config, input=f"{dana_password}\nnew-dana-password\n")
    assert changed.returncode == 0 and "password changed" in changed.stderr
    assert "new-dana-password" not in changed.stdout + changed.stderr
    assert _cli(["tokens", "list"], dana_config).returncode == 0
    assert _cli(dana_login, dana_config, input="new-dana-password\n").returncode == 0

    # A viewer manages no users; an admin sees everyone's tokens.
    denied = _cli(["users", "create", "mallory", "--password-stdin"], dana_config, input="x" * 9)
    assert denied.returncode == 1 and "admin" in denied.stderr
    everyone = _cli(["tokens", "list", "--all"], admin_config)
    assert everyone.returncode == 0 and "nightly" in everyone.stdout


def test_jobs_edit_and_delete_from_the_cli(
    embedded: tuple[Process, str, Path], tmp_path: Path
) -> None:
    _, url, _ = embedded
    config = tmp_path / "cli" / "config.json"
    login = _cli(["login", url, "-u", "admin", "--password-stdin"], config, input=ADMIN_PASSWORD)
    assert login.returncode == 0, login.stderr
    first = tmp_path / "first.yml"
    first.write_text("steps:\n  - name: s\n    commands: [echo first]\n")
    created = _cli(["jobs", "create", "app", "--pipeline", str(first), "-e", "KEEP=1"], config)
    assert created.returncode == 0, created.stderr

    edit = ["jobs", "edit", "app", "--description", "the app", "--labels", "linux,big"]
    edit += ["-e", "ADDED=2", "--timeout", "60", "--max-concurrent", "1", "--cancel-previous"]
    edited = _cli(edit, config)
    assert edited.returncode == 0, edited.stderr
    token = json.loads(config.read_text())["token"]
    job = httpx.get(
        f"{url}/api/v1/jobs", params={"name": "app"}, headers={"Authorization": f"Bearer {token}"}
    ).json()["items"][0]
    assert job["env"] == {"KEEP": "1", "ADDED": "2"}
    assert job["description"] == "the app"
    shown = _cli(["jobs", "show", "app"], config).stdout
    for line in (
        "labels: ['linux', 'big']",
        "timeout_seconds: 60",
        "max_concurrent_builds: 1",
        "cancel_previous: True",
        "echo first",
    ):
        assert line in shown, shown

    # No repository to read a pipeline from: the server's 422, in one line.
    orphan = _cli(["jobs", "edit", "app", "--pipeline-from-repo"], config)
    assert orphan.returncode == 1
    assert orphan.stderr.strip().splitlines() == [
        "error: a job needs a pipeline, a build_config or an scm_url"
    ]
    too_many = _cli(["jobs", "edit", "app", "--max-retries", "99"], config)
    assert too_many.returncode == 1 and "Traceback" not in too_many.stderr
    assert too_many.stderr.strip().splitlines() == [
        "error: max_retries: Input should be less than or equal to 10"
    ]
    bad = tmp_path / "bad.yml"
    bad.write_text("steps:\n  - name: s\n    comands: [true]\n")
    refused = _cli(["jobs", "edit", "app", "--pipeline", str(bad)], config)
    assert refused.returncode == 1
    assert f"{bad}:3:5: steps[0].comands" in refused.stderr, refused.stderr

    to_repo = _cli(
        ["jobs", "edit", "app", "--pipeline-from-repo", "--scm-url", "/srv/git/app.git"], config
    )
    assert to_repo.returncode == 0, to_repo.stderr
    shown = _cli(["jobs", "show", "app"], config).stdout
    assert "pipeline: from the repository (.solvyd.yml)" in shown, shown
    assert "scm_url: /srv/git/app.git" in shown and "echo first" not in shown

    unanswered = _cli(["jobs", "delete", "app"], config, input="")
    assert unanswered.returncode == 1
    assert "job app was not deleted" in unanswered.stderr
    deleted = _cli(["jobs", "delete", "app", "--yes"], config)
    assert deleted.returncode == 0, deleted.stderr
    gone = _cli(["jobs", "edit", "app", "--priority", "1"], config)
    assert gone.returncode == 1
    assert "no job named 'app'" in gone.stderr


def test_jobs_schedules_and_badge_from_the_cli(
    embedded: tuple[Process, str, Path], tmp_path: Path
) -> None:
    _, url, _ = embedded
    config = tmp_path / "cli" / "config.json"
    login = _cli(["login", url, "-u", "admin", "--password-stdin"], config, input=ADMIN_PASSWORD)
    assert login.returncode == 0, login.stderr
    pipeline = tmp_path / "p.yml"
    pipeline.write_text("steps:\n  - name: s\n    commands: [echo nightly]\n")
    create = ["jobs", "create", "nightly", "--pipeline", str(pipeline), "--public-badge"]
    create += ["--schedule", "0 3 1 1 *;tz=Europe/Berlin;branch=release;env=MODE=full"]
    create += ["--schedule", "30 4 1 1 *"]
    created = _cli(create, config)
    assert created.returncode == 0, created.stderr
    # The same definition again changes nothing.
    again = _cli(create, config)
    assert again.returncode == 0 and "unchanged" in again.stderr, again.stderr

    shown = _cli(["jobs", "show", "nightly"], config).stdout
    # The next 1 January on the real clock (in its first hours, this year's is still ahead).
    year = datetime.now(UTC).year
    if datetime.now(UTC) >= datetime(year, 1, 1, 2, 0, tzinfo=UTC):
        year += 1
    for line in (
        "public_badge: True",
        f"next_run_at: {year}-01-01T02:00:00Z",
        "0 3 1 1 *;tz=Europe/Berlin;branch=release;env=MODE=full  "
        f"next run: {year}-01-01T02:00:00Z",
        f"30 4 1 1 *;tz=UTC  next run: {year}-01-01T04:30:00Z",
    ):
        assert line in shown, shown
    badge = httpx.get(f"{url}/api/v1/badges/nightly.svg")
    assert badge.status_code == 200 and "unknown" in badge.text

    bad = _cli(["jobs", "edit", "nightly", "--schedule", "0 3 * * * *"], config)
    assert bad.returncode == 1
    assert "schedules.0.cron" in bad.stderr and "five fields" in bad.stderr, bad.stderr
    unknown = _cli(["jobs", "edit", "nightly", "--schedule", "0 3 * * *;when=never"], config)
    assert unknown.returncode == 1 and "when=never" in unknown.stderr, unknown.stderr

    cleared = _cli(["jobs", "edit", "nightly", "--clear-schedules", "--no-public-badge"], config)
    assert cleared.returncode == 0, cleared.stderr
    shown = _cli(["jobs", "show", "nightly"], config).stdout
    assert "next_run_at: None" in shown and "schedules:" not in shown, shown
    assert httpx.get(f"{url}/api/v1/badges/nightly.svg").status_code == 404
