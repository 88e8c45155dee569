"""A build's notification deliveries in `builds show`, a job's rules in `jobs show` and the
results of `jobs notify-test`: every field shown, the last error in full, and the server's
text printed literally."""

from typing import Any

import pytest

from solvyd.cli.build_view import build_details
from solvyd.cli.job_notifications import print_rules, result_line
from solvyd.cli.output import console

HOSTILE = "[bold]x[/] :smile: \x1b[2J\x1b]0;title\x07z"
LITERAL = "[bold]x[/] :smile: z"


def _delivery(**fields: Any) -> dict[str, Any]:
    # The shape of BuildRead.notifications[] in the API contract (issue 17).
    return {
        "id": "0e7c3f0e-2a4b-4a43-9d8d-6a3f2b1c0d9e",
        "rule": 0,
        "type": "webhook",
        "target": "https://hooks.example.com/h",
        "event": "build.finished",
        "outcome": "failure",
        "status": "sent",
        "attempts": 1,
        "last_error": None,
        "created_at": "2026-12-04T10:00:00+00:00",
        "sent_at": "2026-12-04T10:00:01+00:00",
        **fields,
    }


def test_builds_show_lists_each_delivery_and_its_last_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    build = {
        "id": "5a7c3f0e-2a4b-4a43-9d8d-6a3f2b1c0d9e",
        "job_name": "api",
        "number": 7,
        "status": "failure",
        "steps": [],
        "notifications": [
            _delivery(),
            _delivery(
                rule=1,
                type="slack",
                target="Slack (secret SLACK_URL)",
                status="failed",
                attempts=3,
                last_error="Slack answered 404: no_service",
            ),
            _delivery(rule=2, type="email", target="dev@example.com", status="pending", attempts=0),
        ],
    }
    console.print(build_details(build, []))
    lines = capsys.readouterr().out.splitlines()
    at = lines.index("  notifications:")
    assert lines[at + 1 :] == [
        "    [0] webhook https://hooks.example.com/h build.finished (failure): sent, 1 attempt",
        "    [1] Slack (secret SLACK_URL) build.finished (failure): failed, 3 attempts",
        "      last error: Slack answered 404: no_service",
        "    [2] email dev@example.com build.finished (failure): pending, 0 attempts",
    ]


def test_a_build_without_deliveries_shows_no_notifications(
    capsys: pytest.CaptureFixture[str],
) -> None:
    console.print(build_details({"id": "x", "number": 1, "status": "success", "steps": []}, []))
    assert "notifications" not in capsys.readouterr().out


def test_delivery_rules_and_results_print_server_text_literally(
    capsys: pytest.CaptureFixture[str],
) -> None:
    delivery = _delivery(type=HOSTILE, target=HOSTILE, status=HOSTILE, last_error=HOSTILE)
    console.print(
        build_details({"number": 1, "status": "failure", "notifications": [delivery]}, [])
    )
    print_rules([{"type": HOSTILE, "url": HOSTILE}, {"type": "webhook", "url": HOSTILE}])
    console.print(
        result_line({"rule": 0, "type": HOSTILE, "target": HOSTILE, "ok": False, "error": HOSTILE})
    )
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out
    # The delivery (target, status, last error), the rules, the result (target, error).
    assert out.count(LITERAL) >= 7, out


def test_jobs_show_numbers_the_rules_as_notify_test_takes_them(
    capsys: pytest.CaptureFixture[str],
) -> None:
    print_rules(
        [
            {"type": "email", "to": ["a@example.com"], "on": ["failure", "fixed"]},
            {"type": "webhook", "url": "http://127.0.0.1:9/h", "signing_secret": "HOOK_KEY"},
            {"type": "webhook", "url": "https://h.example.com/in?token=abc", "on": ["always"]},
        ]
    )
    print_rules([])
    assert capsys.readouterr().out.splitlines() == [
        "notifications:",
        "  [0] email  to a@example.com  on failure,fixed",
        "  [1] webhook  http://127.0.0.1:9/h, signed with secret HOOK_KEY  on failure,fixed",
        "  [2] webhook  https://h.example.com/in?...  on always",
        "notifications: none",
    ]


def test_a_test_result_says_ok_or_why_it_failed(capsys: pytest.CaptureFixture[str]) -> None:
    console.print(
        result_line({"rule": 0, "type": "email", "target": "a@x", "ok": True, "error": None})
    )
    console.print(
        result_line(
            {"rule": 1, "type": "webhook", "target": "http://h/", "ok": False, "error": "HTTP 500"}
        )
    )
    console.print(result_line({"rule": 2, "type": "slack", "target": "s", "ok": False}))
    console.print(result_line({"rule": 3, "type": "email", "target": "email to a@x", "ok": True}))
    assert capsys.readouterr().out.splitlines() == [
        "[0] email a@x: ok",
        "[1] webhook http://h/: failed: HTTP 500",
        "[2] slack s: failed: no reason given",
        "[3] email to a@x: ok",
    ]
