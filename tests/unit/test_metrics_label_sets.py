"""The label sets of the queue gauges stay bounded however many the jobs ask for."""

from solvyd.server.metrics.database import (
    MAX_LABEL_SET_CHARS,
    MAX_LABEL_SETS,
    OTHER_LABELS,
    bounded_label_sets,
)


def test_few_label_sets_are_kept_as_they_are() -> None:
    counts = {"": 3, "gpu": 2, "arm,linux": 1}
    assert bounded_label_sets(counts) == counts


def test_the_smallest_sets_past_the_limit_are_summed_under_other() -> None:
    counts = {f"set-{n:03}": n for n in range(1, MAX_LABEL_SETS + 11)}
    bounded = bounded_label_sets(counts)
    assert len(bounded) == MAX_LABEL_SETS + 1
    assert sum(bounded.values()) == sum(counts.values())
    # The ten smallest (1..10) went to `other`; the largest are all kept.
    assert bounded[OTHER_LABELS] == sum(range(1, 11))
    assert "set-060" in bounded
    assert "set-010" not in bounded


def test_a_label_set_longer_than_the_limit_is_counted_under_other() -> None:
    long_set = ",".join(f"label-{n}" for n in range(60))
    assert len(long_set) > MAX_LABEL_SET_CHARS
    bounded = bounded_label_sets({"gpu": 2, long_set: 3})
    assert bounded == {"gpu": 2, OTHER_LABELS: 3}
