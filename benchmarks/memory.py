"""A server's resident memory over a benchmark's window: where it settled and whether it grows.

A long-running server's RSS rises while it warms up (segment windows fill, the allocator takes
its arenas) and should then stay flat. One figure says which: the slope of a least-squares line
through the samples taken after the warm-up, in MB per minute. Comparing the last sample with
the first cannot tell warm-up from a leak.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

RSS_SLOPE_LIMIT = 1.0
"""MB per minute of a server's RSS after the first minute; more is a leak."""
RSS_SETTLE = 60.0
"""Seconds of a window left out of the slope: the warm-up."""


@dataclass(frozen=True)
class Rss:
    """A server's resident memory over a window, in MB."""

    start: float
    minimum: float
    maximum: float
    end: float
    slope: float
    """MB per minute after ``settle`` seconds."""
    settle: float

    @classmethod
    def from_samples(cls, samples: Sequence[tuple[float, float]], settle: float) -> Rss:
        """``samples`` are (seconds into the window, MB)."""
        later = [s for s in samples if s[0] >= settle]
        if len(later) < 2:
            later = list(samples)
        minutes = [t / 60 for t, _ in later]
        sizes = [mb for _, mb in later]
        slope = statistics.linear_regression(minutes, sizes).slope if len(later) > 1 else 0.0
        return cls(
            start=samples[0][1],
            minimum=min(sizes),
            maximum=max(sizes),
            end=samples[-1][1],
            slope=round(slope, 3),
            settle=settle,
        )

    @classmethod
    def over(cls, samples: Sequence[tuple[float, float]], seconds: float) -> Rss:
        """The summary of a window of ``seconds``: the first minute, or the first half of a
        shorter window, is the warm-up."""
        return cls.from_samples(samples, min(RSS_SETTLE, seconds / 2))

    def format(self) -> str:
        return (
            f"start {self.start:.1f}, after {self.settle:.0f} s min {self.minimum:.1f} "
            f"max {self.maximum:.1f}, end {self.end:.1f}, slope {self.slope:+.3f} MB/min "
            f"(limit {RSS_SLOPE_LIMIT:g})"
        )
