"""Cron arithmetic at its edges: due exactly at `now`, a microsecond before, daylight saving."""

from datetime import UTC, datetime, timedelta

import pytest

from solvyd.server.cron import check_cron, due_times, latest_due, next_due, schedule_key

THREE = datetime(2026, 12, 4, 3, 0, tzinfo=UTC)


def test_a_due_time_equal_to_now_is_due() -> None:
    assert latest_due("0 3 * * *", "UTC", THREE) == THREE
    assert latest_due("0 3 * * *", "UTC", THREE - timedelta(microseconds=1)) == THREE - timedelta(
        days=1
    )
    assert next_due("0 3 * * *", "UTC", THREE) == THREE + timedelta(days=1)


def test_local_times_follow_daylight_saving() -> None:
    # Berlin: UTC+1 until 02:00 on 28 March 2027, UTC+2 from then on.
    winter = next_due("0 3 * * *", "Europe/Berlin", datetime(2027, 3, 26, 12, tzinfo=UTC))
    switch = next_due("0 3 * * *", "Europe/Berlin", datetime(2027, 3, 27, 12, tzinfo=UTC))
    assert winter == datetime(2027, 3, 27, 2, 0, tzinfo=UTC)
    assert switch == datetime(2027, 3, 28, 1, 0, tzinfo=UTC)


@pytest.mark.parametrize("text", ["0  3 * *  *", " 0 3 * * * ", "@daily"])
def test_expressions_are_normalised(text: str) -> None:
    assert check_cron(text) in ("0 3 * * *", "@daily")


@pytest.mark.parametrize("text", ["", "0 3 * * * *", "x 3 * * *", "@reboot", "0 0 30 2 *"])
def test_unusable_expressions_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"cron expression|never comes due"):
        check_cron(text)


def test_a_schedule_key_ignores_defaults_and_order_but_not_content() -> None:
    plain = schedule_key({"cron": "0 3 * * *"})
    assert plain == schedule_key(
        {"env": {}, "timezone": "UTC", "cron": "0 3 * * *", "branch": None}
    )
    assert plain != schedule_key({"cron": "0 3 * * *", "branch": "dev"})
    assert plain != schedule_key({"cron": "0 3 * * *", "timezone": "Europe/Berlin"})


def test_the_hour_the_clocks_go_back_is_walked_in_order() -> None:
    # Berlin, 31 October 2027: 02:30 local happens at 00:30 UTC and again at 01:30 UTC.
    # croniter alone steps back to the day before from inside that hour.
    def due(hour: int, minute: int) -> datetime:
        return latest_due(
            "30 2 * * *", "Europe/Berlin", datetime(2027, 10, 31, hour, minute, tzinfo=UTC)
        )

    assert due(0, 29) == datetime(2027, 10, 30, 0, 30, tzinfo=UTC)
    assert due(0, 30) == due(1, 29) == datetime(2027, 10, 31, 0, 30, tzinfo=UTC)
    assert due(1, 30) == due(5, 0) == datetime(2027, 10, 31, 1, 30, tzinfo=UTC)
    # The clocks going forward: 02:30 does not exist; it runs when they jump, at 03:00.
    assert latest_due(
        "30 2 * * *", "Europe/Berlin", datetime(2027, 3, 28, 1, 0, tzinfo=UTC)
    ) == datetime(2027, 3, 28, 1, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "timezone", "now"),
    [
        ("0 3 * * *", "UTC", THREE),
        ("0 3 * * *", "UTC", THREE - timedelta(microseconds=1)),
        ("*/15 * * * *", "UTC", THREE + timedelta(minutes=7)),
        ("0 3 * * *", "Europe/Berlin", datetime(2027, 3, 27, 12, tzinfo=UTC)),
        ("30 2 * * *", "Europe/Berlin", datetime(2027, 10, 31, 0, 45, tzinfo=UTC)),
        ("30 2 * * *", "Europe/Berlin", datetime(2027, 10, 31, 1, 45, tzinfo=UTC)),
        ("30 2 * * *", "Europe/Berlin", datetime(2027, 3, 28, 0, 59, tzinfo=UTC)),
        ("@monthly", "America/New_York", datetime(2027, 11, 7, 6, 30, tzinfo=UTC)),
    ],
)
def test_one_pass_finds_the_latest_and_the_next_run_as_the_api_shows_it(
    expression: str, timezone: str, now: datetime
) -> None:
    """The scheduler's round takes both from one pass; they are the times `latest_due` and
    `next_due` (the API's next_run_at) name, around the clocks' changes too."""
    latest, upcoming = due_times(expression, timezone, now)
    assert (latest, upcoming) == (
        latest_due(expression, timezone, now),
        next_due(expression, timezone, now),
    )
    assert latest <= now < upcoming
