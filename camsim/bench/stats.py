"""Summaries of repeated measurements and the confidence interval of a difference.

The interval is a percentile bootstrap of the difference of medians (B - A), resampling each
side independently, with a seeded generator so that the same measurements always give the same
interval. A difference whose interval contains zero is not a measurable difference: it is
reported as such, never as a number.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

DEFAULT_RESAMPLES = 2000
DEFAULT_CONFIDENCE = 0.95
NO_MEASURABLE_DIFFERENCE = "no measurable difference"


def percentile(values: Sequence[float], rank: float) -> float:
    """The nearest-rank percentile (as refserver's API computes it); ``values`` not empty."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    index = max(math.ceil(rank / 100 * len(ordered)) - 1, 0)
    return ordered[index]


@dataclass(frozen=True)
class Summary:
    """Median and p95 of ``count`` measurements."""

    count: int
    median: float
    p95: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Summary | None:
        if not values:
            return None
        return cls(len(values), statistics.median(values), percentile(values, 95))

    def to_json(self) -> dict[str, float | int]:
        return {"count": self.count, "median": round(self.median, 4), "p95": round(self.p95, 4)}


@dataclass(frozen=True)
class Difference:
    """``b`` minus ``a`` by their medians, with a bootstrap confidence interval."""

    estimate: float
    low: float
    high: float
    confidence: float
    count_a: int
    count_b: int

    @property
    def measurable(self) -> bool:
        """The interval excludes zero."""
        return self.low > 0 or self.high < 0

    def describe(self, unit: str, digits: int = 1) -> str:
        """``+51.2 ms (95% CI 48.0 to 54.9)``, or "no measurable difference (...)"."""
        interval = (
            f"{self.confidence:.0%} CI {self.low:+.{digits}f} to {self.high:+.{digits}f} {unit}"
        )
        if not self.measurable:
            return f"{NO_MEASURABLE_DIFFERENCE} ({interval})"
        return f"{self.estimate:+.{digits}f} {unit} ({interval})"

    def to_json(self) -> dict[str, object]:
        return {
            "estimate": round(self.estimate, 4),
            "ci_low": round(self.low, 4),
            "ci_high": round(self.high, 4),
            "confidence": self.confidence,
            "measurable": self.measurable,
            "count_a": self.count_a,
            "count_b": self.count_b,
        }


def median_difference(
    a: Sequence[float],
    b: Sequence[float],
    *,
    seed: int = 0,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
) -> Difference | None:
    """median(b) - median(a) and its percentile-bootstrap interval; None when a side is empty.

    With one value on a side the interval collapses to the estimate on that side's part: two
    single trials say nothing about spread, so callers should repeat.
    """
    if not a or not b:
        return None
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    rng = random.Random(seed)
    estimate = statistics.median(b) - statistics.median(a)
    draws = sorted(
        statistics.median(rng.choices(b, k=len(b))) - statistics.median(rng.choices(a, k=len(a)))
        for _ in range(resamples)
    )
    tail = (1 - confidence) / 2
    low = draws[math.floor(tail * (resamples - 1))]
    high = draws[math.ceil((1 - tail) * (resamples - 1))]
    return Difference(estimate, low, high, confidence, len(a), len(b))
