"""Every status the API can answer renders, and server text is shown as it is: never read
as Rich markup, emoji codes or terminal control sequences."""

from typing import Any

import pytest

from solvyd.cli.build_view import artifacts_table, build_details, builds_table
from solvyd.cli.display import table_with_ids
from solvyd.cli.log_lines import LineFormat, StepColumn
from solvyd.cli.output import console, err_console
from solvyd.protocol.messages import BuildStatus, StepStatus

HOSTILE = "[bold]x[/] [/] [link=http://evil]y :smile: \x1b[2J\x1b]0;title\x07z"


def _build(status: str, steps: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    return {
        "id": "0e7c3f0e-2a4b-4a43-9d8d-6a3f2b1c0d9e",
        "job_id": "5a7c3f0e-2a4b-4a43-9d8d-6a3f2b1c0d9e",
        "job_name": "hello",
        "number": 12,
        "status": status,
        "queued_at": "2026-12-03T23:00:00+00:00",
        "duration_seconds": 1.5,
        "steps": steps,
        **fields,
    }


@pytest.mark.parametrize("build_status", list(BuildStatus))
def test_every_build_and_step_status_renders(
    build_status: BuildStatus, capsys: pytest.CaptureFixture[str]
) -> None:
    steps = [
        {"name": f"step-{status}", "status": str(status), "exit_code": None}
        for status in StepStatus
    ]
    build = _build(str(build_status), steps)
    console.print(build_details(build, []))
    console.print(builds_table([build]))
    shown = capsys.readouterr().out
    assert shown.count(f"hello #12 {build_status}") == 1
    for status in StepStatus:
        assert f"step step-{status}: {status}" in shown
    assert shown.count(str(build_status)) >= 2  # the header and the table row


def test_hostile_server_text_is_printed_literally(capsys: pytest.CaptureFixture[str]) -> None:
    build = _build(
        HOSTILE,
        [{"name": HOSTILE, "status": HOSTILE, "exit_code": 2}],
        job_name=HOSTILE,
        error_message=HOSTILE,
        branch=HOSTILE,
    )
    artifacts = [{"name": HOSTILE, "size_bytes": 3, "created_at": HOSTILE, "sha256": HOSTILE}]
    console.print(build_details(build, artifacts))
    console.print(builds_table([build]))
    console.print(artifacts_table(artifacts))
    err_console.print("error:", HOSTILE)
    # As every other command prints: a table of the server's strings, a line with one.
    other = table_with_ids("name", "id")
    other.add_row(HOSTILE, HOSTILE)
    console.print(other)
    console.print(f"worker {HOSTILE} is online")
    captured = capsys.readouterr()
    literal = "[bold]x[/] [/] [link=http://evil]y :smile: z"
    # Header, error_message, branch, step name and status, artifact: one line each.
    assert captured.out.count(literal) >= 9, captured.out
    assert "\x1b" not in captured.out + captured.err and "\x07" not in captured.out
    assert literal in captured.err


def test_log_lines_get_a_step_column_of_one_width() -> None:
    column = StepColumn(["lint", "test (PY=3.12)"], colour=False)
    fmt = LineFormat(column)
    assert fmt.render({"text": "ok"}, "lint") == "[lint]           ok"
    assert fmt.render({"text": "ok"}, "test (PY=3.12)") == "[test (PY=3.12)] ok"
    # A step name is server text too: no escape sequence reaches the terminal through it.
    assert fmt.render({"text": "ok"}, "a\x1b[2Jb") == "[ab]             ok"
    assert fmt.render({"text": "ok"}, "two\nlines") == "[two lines]      ok"


def test_the_column_shows_once_a_second_step_is_seen() -> None:
    fmt = LineFormat(StepColumn(["checkout"], colour=False))
    assert fmt.render({"text": "cloned"}, "checkout") == "cloned"
    assert fmt.render({"text": "built"}, "build") == "[build]    built"


def test_step_colours_are_stable_and_only_wanted_on_a_terminal() -> None:
    one = StepColumn(["lint", "test"], colour=True).prefix("test")
    again = StepColumn(["test", "lint", "wheel"], colour=True).prefix("test")
    assert one.startswith("\x1b[") and "[test]\x1b[0m" in one
    assert one.split("[test]")[0] == again.split("[test]")[0]
    # Under pytest stdout is not a terminal: plain `[step] `, markers kept as they are.
    fmt = LineFormat.for_view(["lint", "test"])
    assert fmt.render({"text": "::group::Install"}, "lint") == "[lint] ::group::Install"


def test_group_markers_become_headers_on_a_terminal() -> None:
    fmt = LineFormat(None, groups=True)
    assert fmt.render({"text": "::group::Install deps"}, "s") == "▸ Install deps"
    assert fmt.render({"text": "::endgroup::"}, "s") is None
    assert fmt.render({"text": "pip install"}, "s") == "pip install"
    coloured = LineFormat(StepColumn(["a", "b"], colour=False), groups=True, colour=True)
    assert coloured.render({"text": "::group::x"}, "a") == "[a] \x1b[1m▸ x\x1b[0m"


def test_raw_lines_have_no_column_and_no_colour() -> None:
    fmt = LineFormat.for_view(["a", "b"], raw=True)
    assert fmt.render({"text": "\x1b[31mred\x1b[0m"}, "a") == "red"


def test_a_steps_output_keeps_its_colours_but_cannot_drive_the_terminal() -> None:
    """A step is hostile code: its line reaches the user's terminal with colours, but without
    the sequences that write to the clipboard (OSC 52), retitle the window, clear the screen,
    move the cursor or ring the bell."""
    hostile = (
        "\x1b[31mred\x1b[0m"
        "\x1b]52;c;cm0gLXJmIH4=\x07"  # OSC 52: set the clipboard
        "\x1b]0;owned\x1b\\"  # OSC 0: the window title
        "\x1b[2J\x1b[H\x1b[1A"  # clear, home, cursor up
        "\x07\x1bc"  # bell, full reset
        "\tend"
    )
    fmt = LineFormat(StepColumn(["a", "b"], colour=False))
    assert fmt.render({"text": hostile}, "a") == "[a] \x1b[31mred\x1b[0m\tend"
