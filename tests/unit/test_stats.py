"""The arithmetic of GET /stats: percentiles between values, and windows of UTC dates."""

import random
import statistics
from datetime import UTC, date, datetime, timedelta, timezone

from solvyd.server.db.dialects import interpolate
from solvyd.server.services.stats import window_start


def test_percentiles_interpolate_between_the_values_as_statistics_does() -> None:
    """SQLite's path: the values ranked about a percentile, interpolated here."""
    draw = random.Random(21)
    for count in (1, 2, 3, 4, 5, 20, 100, 101):
        values = sorted(round(draw.uniform(0, 600), 6) for _ in range(count))
        ranked = dict(enumerate(values, start=1))
        for pct in (1, 50, 95, 99):
            expected = (
                values[0]
                if count == 1
                else statistics.quantiles(values, n=100, method="inclusive")[pct - 1]
            )
            assert interpolate(count, ranked, pct) == expected, (count, pct)


def test_a_window_is_days_of_utc_dates_ending_today() -> None:
    early_morning_east = datetime(2026, 3, 1, 1, 30, tzinfo=timezone(timedelta(hours=3)))
    # 22:30 UTC on 28 February.
    assert window_start(early_morning_east, 1) == date(2026, 2, 28)
    assert window_start(datetime(2026, 3, 1, tzinfo=UTC), 7) == date(2026, 2, 23)
