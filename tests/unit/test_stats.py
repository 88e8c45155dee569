"""The arithmetic of GET /stats: percentiles between values, and windows of UTC dates."""

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from solvyd.server.services.stats import percentile, window_start


def test_percentiles_interpolate_between_the_values() -> None:
    assert percentile([], 50) is None
    assert percentile([3.0], 95) == 3.0
    assert percentile([2.0, 4.0, 8.0, 6.0], 50) == pytest.approx(5.0)
    assert percentile([2.0, 4.0, 8.0, 6.0], 95) == pytest.approx(7.7)
    assert percentile([float(n) for n in range(1, 101)], 95) == pytest.approx(95.05)


def test_a_window_is_days_of_utc_dates_ending_today() -> None:
    early_morning_east = datetime(2026, 3, 1, 1, 30, tzinfo=timezone(timedelta(hours=3)))
    # 22:30 UTC on 28 February.
    assert window_start(early_morning_east, 1) == date(2026, 2, 28)
    assert window_start(datetime(2026, 3, 1, tzinfo=UTC), 7) == date(2026, 2, 23)
