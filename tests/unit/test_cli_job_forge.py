"""`solvyd jobs create/edit` build the job's forge from --forge JSON or the --forge-* options
(the server validates the result)."""

import pytest

from solvyd.cli.errors import CliError
from solvyd.cli.jobs import _forge, _forge_fields

NONE = _forge_fields(None, None, None, None)


def test_the_json_form_is_sent_as_given() -> None:
    text = '{"type": "gitea", "api_url": "https://g.example", "token_secret": "T"}'
    assert _forge(text, NONE) == {
        "type": "gitea",
        "api_url": "https://g.example",
        "token_secret": "T",
    }


def test_the_options_form_a_forge_and_edit_only_what_they_name() -> None:
    fields = _forge_fields("github", None, "acme/widgets", "T")
    assert _forge(None, fields) == {
        "type": "github",
        "repository": "acme/widgets",
        "token_secret": "T",
    }
    current = {"type": "gitlab", "api_url": "https://gl.example", "token_secret": "OLD"}
    assert _forge(None, _forge_fields(None, "", None, "NEW"), current) == {
        "type": "gitlab",
        "api_url": None,
        "token_secret": "NEW",
    }
    assert _forge(None, NONE, current) is None


@pytest.mark.parametrize("text", ["{", "[1]"])
def test_bad_json_is_refused_before_asking_the_server(text: str) -> None:
    with pytest.raises(CliError):
        _forge(text, NONE)


def test_json_and_options_together_are_refused() -> None:
    with pytest.raises(CliError, match="not both"):
        _forge('{"type": "github"}', _forge_fields("github", None, None, None))
