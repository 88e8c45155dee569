"""`solvyd plugins list` as a user reads it: one row a plugin, where it is loaded, and the
error of a refused or failed plugin on a line of its own, every server string literal."""

from typing import Any

import pytest

from solvyd.cli.output import console
from solvyd.cli.plugins import plugins_view
from tests.unit.cli.test_rendering import HOSTILE


def _plugin(name: str, **fields: Any) -> dict[str, Any]:
    return {
        "name": name,
        "version": "1.2.0",
        "provides": {"executors": [], "notifiers": [], "forges": [], "artifact_stores": []},
        "builtin": False,
        "loaded_in": "server",
        "worker": None,
        "status": "loaded",
        "error": None,
        **fields,
    }


ANSWER = {
    "api_version": "1.0",
    "plugins": [
        _plugin(
            "builtin-forges",
            version=None,
            builtin=True,
            provides={"forges": ["github", "gitlab"], "notifiers": [], "artifact_stores": []},
        ),
        _plugin("discord", provides={"notifiers": ["discord"]}),
        _plugin(
            "builtin-executors",
            builtin=True,
            loaded_in="agent",
            worker="builder-7",
            provides={"executors": ["local", "docker"]},
        ),
        _plugin(
            "teams",
            status="refused",
            error="built for plugin API 2.0; this Solvyd speaks 1.0",
        ),
        _plugin(
            "matrix",
            status="failed",
            loaded_in="agent",
            worker="builder-7",
            error="ImportError: No module named 'nio'",
        ),
    ],
}


def _shown(answer: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> list[str]:
    console.print(plugins_view(answer))
    return capsys.readouterr().out.splitlines()


def _row(lines: list[str], name: str) -> str:
    return next(line for line in lines if line.startswith(f"│ {name} "))


def test_each_plugin_is_a_row_saying_what_it_adds_and_where(
    capsys: pytest.CaptureFixture[str],
) -> None:
    lines = _shown(ANSWER, capsys)
    assert lines[0] == "plugin API 1.0"
    forges = _row(lines, "builtin-forges")
    assert "forges: github, gitlab" in forges and "notifiers" not in forges
    assert "│ server " in forges and "│ yes " in forges and "│ loaded " in forges
    executors = _row(lines, "builtin-executors")
    assert "executors: local, docker" in executors and "agent builder-7" in executors
    discord = _row(lines, "discord")
    assert "1.2.0" in discord and "notifiers: discord" in discord and "│ no " in discord


def test_a_refused_or_failed_plugin_has_its_error_on_its_own_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    lines = _shown(ANSWER, capsys)
    assert "refused" in _row(lines, "teams") and "plugin API" not in _row(lines, "teams")
    assert "failed" in _row(lines, "matrix")
    below = lines[lines.index(next(line for line in lines if line.startswith("└"))) + 1 :]
    assert below == [
        "teams (server) refused: built for plugin API 2.0; this Solvyd speaks 1.0",
        "matrix (agent builder-7) failed: ImportError: No module named 'nio'",
    ]


def test_a_kind_this_cli_does_not_know_is_still_shown(capsys: pytest.CaptureFixture[str]) -> None:
    answer = {
        "api_version": "1.3",
        "plugins": [_plugin("steps", provides={"step_types": ["deploy"], "executors": ["x"]})],
    }
    row = _row(_shown(answer, capsys), "steps")
    assert "executors: x; step types: deploy" in row


def test_server_text_is_printed_literally(capsys: pytest.CaptureFixture[str]) -> None:
    answer = {
        "api_version": HOSTILE,
        "plugins": [
            _plugin(
                HOSTILE,
                version=HOSTILE,
                provides={"notifiers": [HOSTILE]},
                loaded_in="agent",
                worker=HOSTILE,
                status="failed",
                error=HOSTILE,
            )
        ],
    }
    console.print(plugins_view(answer))
    shown = capsys.readouterr().out
    literal = "[bold]x[/] [/] [link=http://evil]y :smile: z"
    # The API version, and the error line with the name, the worker and the error.
    assert shown.count(literal) >= 5, shown
    assert "\x1b" not in shown and "\x07" not in shown
