"""Medians, p95 and the seeded bootstrap interval of a difference."""

from __future__ import annotations

import pytest

from camsim.bench.stats import Summary, median_difference, percentile


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 21)]
    assert percentile(values, 95) == 19.0
    assert percentile(values, 50) == 10.0
    assert percentile([3.0], 95) == 3.0
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)


def test_summary() -> None:
    summary = Summary.of([5.0, 1.0, 3.0, 2.0, 4.0])
    assert summary == Summary(5, 3.0, 5.0)
    assert Summary.of([]) is None


def test_a_clear_shift_is_measured_within_its_interval() -> None:
    a = [10.0, 10.4, 9.8, 10.1, 10.2, 9.9, 10.3]
    b = [v + 50 for v in a]
    difference = median_difference(a, b, seed=1)
    assert difference is not None
    assert difference.estimate == pytest.approx(50.0)
    assert difference.low <= 50.0 <= difference.high
    assert difference.measurable
    assert difference.describe("ms").startswith("+50.0 ms (95% CI ")


def test_overlapping_samples_are_no_measurable_difference() -> None:
    a = [10.0, 12.0, 9.0, 11.0, 13.0, 8.0]
    b = [11.0, 9.5, 12.5, 10.0, 8.5, 12.0]
    difference = median_difference(a, b, seed=1)
    assert difference is not None
    assert difference.low < 0 < difference.high
    assert not difference.measurable
    assert difference.describe("ms").startswith("no measurable difference (95% CI -")


def test_the_interval_depends_only_on_the_seed() -> None:
    a = [1.0, 2.0, 3.0, 4.0, 5.0]
    b = [2.0, 3.5, 3.0, 6.0, 5.5]
    first = median_difference(a, b, seed=7)
    assert first == median_difference(a, b, seed=7)


def test_no_samples_no_difference() -> None:
    assert median_difference([], [1.0]) is None
    assert median_difference([1.0], []) is None
    with pytest.raises(ValueError, match="confidence"):
        median_difference([1.0], [2.0], confidence=1.0)
