"""Notification rules on the command line: a rules file (YAML or JSON) and the `--notify-*`
shorthands become the API's rule objects, or one line saying what is wrong."""

import io
from pathlib import Path

import pytest

from solvyd.cli.errors import CliError
from solvyd.cli.notify_rules import (
    describe_rule,
    parse_on,
    parse_rules,
    read_rules_file,
    same_rules,
    shorthand_rules,
)

RULES_YAML = """\
# The team's rules, kept beside the pipeline.
- type: email
  to: [dev@example.com, ops@example.com]
- type: slack
  webhook_url_secret: SLACK_URL
  on: [failure, fixed, success]
  branches: [main, release/*]
- type: webhook
  url: https://hooks.example.com/solvyd
  signing_secret: HOOK_KEY
  on: [started, always]
"""


def test_a_yaml_file_gives_its_rules_with_on_as_a_key(tmp_path: Path) -> None:
    path = tmp_path / "rules.yml"
    path.write_text(RULES_YAML)
    rules = read_rules_file(str(path))
    assert [rule["type"] for rule in rules] == ["email", "slack", "webhook"]
    # YAML 1.1 would read the key `on` as the boolean True; the API needs the word.
    assert rules[1]["on"] == ["failure", "fixed", "success"]
    assert rules[1]["branches"] == ["main", "release/*"]
    assert rules[2] == {
        "type": "webhook",
        "url": "https://hooks.example.com/solvyd",
        "signing_secret": "HOOK_KEY",
        "on": ["started", "always"],
    }
    assert rules[0] == {"type": "email", "to": ["dev@example.com", "ops@example.com"]}


def test_yes_and_no_stay_words_but_true_and_false_are_booleans() -> None:
    (rule,) = parse_rules("- {type: teams, channel: no, mention: yes, quiet: false}", "x")
    assert rule == {"type": "teams", "channel": "no", "mention": "yes", "quiet": False}


def test_json_from_stdin_and_a_mapping_with_notifications() -> None:
    text = '{"notifications": [{"type": "webhook", "url": "http://127.0.0.1:9/h"}]}'
    assert read_rules_file("-", io.StringIO(text)) == [
        {"type": "webhook", "url": "http://127.0.0.1:9/h"}
    ]


@pytest.mark.parametrize("text", ["", "[]", "notifications: []", "notifications:"])
def test_an_empty_file_means_no_rules(text: str) -> None:
    assert parse_rules(text, "rules.yml") == []


def test_none_clears_the_rules_without_reading_a_file() -> None:
    assert read_rules_file("none") == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- type: email\n  to: [a@x\n", "rules.yml:3:1: not YAML or JSON"),
        ('[{"type": "email",]', "rules.yml:1:19: not YAML or JSON"),
        ("type: email\nto: [a@x]\n", "rules.yml: expected a list of notification rules"),
        ("- email\n", "rules.yml: rule 0 is not a mapping of keys to values"),
        ("- {type: email}\n- {to: [a@x]}\n", "rules.yml: rule 1 needs a type"),
        ("- {type: ''}\n", "rules.yml: rule 0 needs a type"),
        ("- {type: email, 1: x}\n", "rules.yml: rule 0 is not a mapping of keys to values"),
        ("- {type: email, since: 2026-12-04}\n", "rules.yml: rule 0 has a value JSON cannot"),
    ],
    ids=["yaml", "json", "not-a-list", "not-a-mapping", "no-type", "empty-type", "int-key", "date"],
)
def test_a_bad_file_is_one_line_naming_the_place(text: str, message: str) -> None:
    with pytest.raises(CliError) as caught:
        parse_rules(text, "rules.yml")
    assert caught.value.message.startswith(message), caught.value.message
    assert "\n" not in caught.value.message


def test_a_missing_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(CliError, match=r"cannot read .*missing\.yml: No such file"):
        read_rules_file(str(tmp_path / "missing.yml"))


def test_a_file_that_is_not_text_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "rules.bin"
    path.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(CliError, match="is not UTF-8 text"):
        read_rules_file(str(path))


def test_each_shorthand_adds_one_rule_with_the_default_events() -> None:
    rules = shorthand_rules(
        email=["dev@example.com, ops@example.com", "boss@example.com"],
        slack=["SLACK_URL"],
        webhook=["https://hooks.example.com/a"],
        webhook_secret="HOOK_KEY",
        on=None,
        branches=None,
    )
    default = ["failure", "fixed"]
    assert rules == [
        {"type": "email", "to": ["dev@example.com", "ops@example.com"], "on": default},
        {"type": "email", "to": ["boss@example.com"], "on": default},
        {"type": "slack", "webhook_url_secret": "SLACK_URL", "on": default},
        {
            "type": "webhook",
            "url": "https://hooks.example.com/a",
            "on": default,
            "signing_secret": "HOOK_KEY",
        },
    ]


def test_notify_on_and_branches_apply_to_every_shorthand_rule() -> None:
    rules = shorthand_rules(
        email=["a@example.com"],
        slack=[],
        webhook=["http://127.0.0.1:9/h", "http://127.0.0.1:9/i"],
        webhook_secret=None,
        on="success, failure,success",
        branches="main,release/*",
    )
    assert {tuple(rule["on"]) for rule in rules} == {("success", "failure")}
    assert {tuple(rule["branches"]) for rule in rules} == {("main", "release/*")}
    assert all("signing_secret" not in rule for rule in rules)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"on": "failure,broken"}, "--notify-on: 'broken' is none of failure, fixed"),
        ({"on": " , "}, "--notify-on needs at least one of"),
        ({"email": [" , "]}, "--notify-email needs at least one address"),
        ({"slack": [" "]}, "--notify-slack needs the name of the secret"),
        ({"webhook": [""]}, "--notify-webhook needs a URL"),
        ({"webhook_secret": "K"}, "--notify-webhook-secret signs one --notify-webhook"),
        (
            {"webhook": ["http://a/", "http://b/"], "webhook_secret": "K"},
            "--notify-webhook-secret signs one --notify-webhook",
        ),
    ],
)
def test_a_bad_shorthand_is_one_line(options: dict[str, object], message: str) -> None:
    given: dict[str, object] = {
        "email": ["a@example.com"],
        "slack": [],
        "webhook": [],
        "webhook_secret": None,
        "on": None,
        "branches": None,
    } | options
    with pytest.raises(CliError) as caught:
        shorthand_rules(**given)  # type: ignore[arg-type]
    assert caught.value.message.startswith(message), caught.value.message


def test_notify_on_without_a_shorthand_rule_is_refused() -> None:
    with pytest.raises(CliError, match="apply to --notify-email"):
        shorthand_rules(
            email=[], slack=[], webhook=[], webhook_secret=None, on="failure", branches=None
        )
    assert parse_on("always") == ["always"]


def test_stored_rules_match_the_sent_ones_with_defaults_filled() -> None:
    sent = [{"type": "email", "to": ["a@example.com"]}]
    stored = [
        {"type": "email", "to": ["a@example.com"], "on": ["failure", "fixed"], "branches": None}
    ]
    assert same_rules(stored, sent)
    assert not same_rules(stored, [{"type": "email", "to": ["b@example.com"]}])
    assert not same_rules([{**stored[0], "on": ["always"]}], sent)
    assert not same_rules(None, sent) and same_rules(None, [])
    assert not same_rules(["not a rule"], sent)


def test_a_rule_reads_as_one_line_naming_secrets_not_values() -> None:
    rules = parse_rules(RULES_YAML, "rules.yml")
    assert describe_rule(rules[0]) == (
        "email  to dev@example.com, ops@example.com  on failure,fixed"
    )
    assert describe_rule(rules[1]) == (
        "slack  webhook URL in secret SLACK_URL  on failure,fixed,success  branches main,release/*"
    )
    assert describe_rule(rules[2]) == (
        "webhook  https://hooks.example.com/solvyd, signed with secret HOOK_KEY  on started,always"
    )
    plugin = {"type": "discord", "channel": "builds", "mention": ["@here"], "on": ["failure"]}
    assert describe_rule(plugin) == 'discord  channel="builds", mention=["@here"]  on failure'
