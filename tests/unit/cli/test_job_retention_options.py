"""The jobs' --retention-* options as the body the API takes: the given fields over the job's
own policy, `default` handing a field back to the server, nothing sent when none is given."""

import pytest

from solvyd.cli.errors import CliError
from solvyd.cli.job_retention import describe, retention_body


def test_no_option_sends_no_retention() -> None:
    assert retention_body(None, None, None, None) is None
    assert retention_body(None, None, None, None, current={"days": 3}) is None


def test_create_sends_the_fields_given() -> None:
    assert retention_body("30", None, None, "5") == {"days": 30, "pull_requests": {"max_builds": 5}}
    assert retention_body(None, "Unlimited", None, None) == {"max_builds": "unlimited"}


def test_edit_changes_the_fields_given_and_keeps_the_others() -> None:
    current = {"days": 30, "max_builds": None, "pull_requests": {"days": 7, "max_builds": None}}
    assert retention_body(None, "10", "default", None, current=current) == {
        "days": 30,
        "max_builds": 10,
    }
    # Every field back to the server's: an empty policy, which the CLI sends as null.
    assert retention_body("default", None, "default", None, current=current) == {}


@pytest.mark.parametrize("value", ["-1", "1.5", "forever", "", "²", "3²"])
def test_a_value_that_is_no_number_or_word_is_refused_before_asking(value: str) -> None:
    with pytest.raises(CliError, match="--retention-days takes a number"):
        retention_body(value, None, None, None)


def test_default_means_nothing_on_create() -> None:
    with pytest.raises(CliError) as raised:
        retention_body(None, None, "default", None, current=None)
    assert raised.value.message == (
        "--pr-retention-days takes a number or 'unlimited', got 'default'"
    )


def test_show_names_what_the_job_sets() -> None:
    assert describe(None) == "the server's settings"
    assert describe({"days": None, "max_builds": 5, "pull_requests": {"days": 2}}) == (
        "max_builds=5, pull_requests.days=2 (other fields: the server's settings)"
    )
