"""The pure parts of notifications: which rules a build's outcome matches, the rules' checks,
SOLVYD_SMTP_URL, and the messages' escaping."""

import hashlib
import hmac
from datetime import UTC, datetime

import pytest

from solvyd.server.notify.base import BuildNotice
from solvyd.server.notify.email import html_text
from solvyd.server.notify.rules import check_rules, rule_matches
from solvyd.server.notify.slack import message, webhook_url_problem
from solvyd.server.notify.smtp_url import SmtpTarget, parse_smtp_url
from solvyd.server.notify.webhook import signature, url_problem


@pytest.mark.parametrize(
    ("on", "outcome", "matches"),
    [
        (["failure", "fixed"], "failure", True),
        (["failure", "fixed"], "error", True),
        (["failure", "fixed"], "fixed", True),
        (["failure", "fixed"], "success", False),
        (["failure", "fixed"], "started", False),
        (["success"], "fixed", True),
        (["fixed"], "success", False),
        (["always"], "cancelled", True),
        (["always"], "error", True),
        (["always"], "started", False),
        (["started"], "started", True),
        (["cancelled"], "failure", False),
    ],
)
def test_on_words(on: list[str], outcome: str, matches: bool) -> None:
    assert rule_matches({"type": "webhook", "on": on}, outcome, "main") is matches


def test_branches_match_the_built_branch_and_never_a_tag() -> None:
    rule = {"on": ["always"], "branches": ["release/*", "main"]}
    assert rule_matches(rule, "success", "release/1.2/hotfix")
    assert rule_matches(rule, "success", "main")
    assert not rule_matches(rule, "success", "feature")
    assert not rule_matches(rule, "success", None)
    assert rule_matches({"on": ["always"], "branches": []}, "success", None)


def test_check_rules_fills_defaults_and_names_every_problem() -> None:
    checked, problems = check_rules([{"type": "webhook", "url": "https://x.test/h"}])
    assert problems == []
    assert checked == [
        {"type": "webhook", "url": "https://x.test/h", "on": ["failure", "fixed"], "branches": []}
    ]
    _, problems = check_rules(
        [{"type": "email", "to": ["ok@example.com"]}, {"type": "email", "to": ["x"], "cc": 1}]
    )
    assert [str(p) for p in problems] == [
        "rule 1, cc: unknown key for email rules",
        "rule 1, to: each must be a plain email address (name@example.com)",
    ]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://mail.test", SmtpTarget("mail.test", 587, None, False, False)),
        (
            "smtp://u%40x@mail.test:2525?starttls=required",
            SmtpTarget("mail.test", 2525, "u@x", False, True),
        ),
        ("smtps://u@mail.test", SmtpTarget("mail.test", 465, "u", True, False)),
    ],
)
def test_smtp_urls(url: str, expected: SmtpTarget) -> None:
    assert parse_smtp_url(url) == expected


@pytest.mark.parametrize(
    "url", ["http://mail.test", "smtp://u:pw@mail.test", "smtp://mail.test?tls=1", "smtp://"]
)
def test_bad_smtp_urls_are_refused_without_being_quoted(url: str) -> None:
    with pytest.raises(ValueError, match=r"^(?!.*pw)"):
        parse_smtp_url(url)


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://example.com/h?x=1", True),
        ("http://10.0.0.1:8080/h", True),
        ("ftp://example.com", False),
        ("https://user:pw@example.com", False),
        ("https://example.com/#frag", False),
        ("https://exa mple.com", False),
        ("https://example.com:99999", False),
        ("https://", False),
    ],
)
def test_webhook_urls(url: str, ok: bool) -> None:
    assert (url_problem(url) is None) is ok


def test_slack_urls_only_to_allowed_hosts_and_https() -> None:
    hosts = ["hooks.slack.com", "127.0.0.1"]
    assert webhook_url_problem("https://hooks.slack.com/services/T/B/X", hosts) is None
    assert webhook_url_problem("http://127.0.0.1:9000/services/x", hosts) is None
    assert webhook_url_problem("http://hooks.slack.com/services/T/B/X", hosts) == "must be https://"
    assert "not one of" in (webhook_url_problem("https://evil.test/x", hosts) or "")


def test_the_signature_binds_the_timestamp() -> None:
    body = b'{"event":"build.finished"}'
    assert signature("k", "1700000000", body) != signature("k", "1700000001", body)
    # The documented construction: HMAC-SHA256 of "<timestamp>.<body>".
    mac = hmac.new(b"k", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert signature("k", "1700000000", body) == f"sha256={mac}"


def _notice(**changes: object) -> BuildNotice:
    fields: dict[str, object] = {
        "event": "build.finished",
        "outcome": "failure",
        "job_id": "j",
        "job_name": "app",
        "build_id": "b",
        "number": 7,
        "status": "failure",
        "trigger": "push",
        "branch": "main",
        "tag": None,
        "commit_sha": "a" * 40,
        "commit_message": "<img src=x onerror=alert(1)> & <!channel>",
        "commit_author": "Eve <eve@example.com>",
        "pull_request": None,
        "queued_at": datetime(2026, 1, 1, tzinfo=UTC),
        "started_at": None,
        "completed_at": None,
        "duration_seconds": 75.0,
        "error_message": None,
        "url": "https://ci.test/builds/b?x='\"",
        "failed_step": "test",
        "log_tail": ("</pre><script>x()</script>",),
    }
    fields.update(changes)
    return BuildNotice(**fields)  # type: ignore[arg-type]


def test_html_escapes_every_value() -> None:
    markup = html_text(_notice())
    assert "<img" not in markup and "<script>" not in markup and "<!channel>" not in markup
    assert "&lt;/pre&gt;&lt;script&gt;" in markup
    assert "href='https://ci.test/builds/b?x=&#x27;&quot;'" in markup


def test_slack_escapes_every_value_and_keeps_the_limits() -> None:
    body = message(_notice(log_tail=tuple("x" * 500 for _ in range(30))))
    raw = str(body)
    assert "<!channel>" not in raw and "<img" not in raw
    assert "&lt;!channel&gt;" in raw
    [section] = [b for b in body["blocks"] if b["type"] == "section" and "text" in b]
    assert len(section["text"]["text"]) <= 3000
    assert section["text"]["text"].endswith("```")
