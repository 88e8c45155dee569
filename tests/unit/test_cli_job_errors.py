"""`solvyd jobs create --pipeline FILE` names the user's file in the server's line:col errors."""

from pathlib import Path

from solvyd.cli.errors import CliError
from solvyd.cli.jobs import _point_at_file


def test_a_problem_with_no_field_is_shown_without_an_empty_one() -> None:
    # What the server answers for a document-level syntax error, and for a field's error.
    answer = CliError(
        "job x:2:1: invalid YAML: ...",
        [
            {"line": 2, "column": 1, "field": "", "message": "invalid YAML: one document"},
            {"line": 4, "column": 5, "field": "steps[0].colour", "message": "unknown field"},
        ],
    )
    shown = _point_at_file(answer, Path("two.yml")).message.splitlines()
    assert shown == [
        "two.yml:2:1: invalid YAML: one document",
        "two.yml:4:5: steps[0].colour: unknown field",
    ]
