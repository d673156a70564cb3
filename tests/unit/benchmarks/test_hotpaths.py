"""The in-memory hot-path runs measure what they claim: every read reaches the session, frames
reach the packager, and the figure is per second of media."""

from __future__ import annotations

import pstats

import pytest

from benchmarks.hotpaths import RUNS, Figures, summary

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("path", sorted(RUNS))
def test_a_short_run_gives_figures_and_a_profile(path: str) -> None:
    stats = pstats.Stats()
    figures = RUNS[path](3.0, stats)
    assert isinstance(figures, Figures)
    assert figures.path == path
    assert figures.media_seconds == 3.0
    assert figures.reads > 3 * 30  # at least one read per video frame at 30 fps
    assert figures.cpu_seconds > 0
    assert figures.us_per_media_second == pytest.approx(figures.cpu_seconds / 3.0 * 1e6)
    assert figures.implementation in ("compiled", "pure", "mixed")
    entry = "receive_data"
    assert any(name == entry for (_, _, name) in stats.stats)  # type: ignore[attr-defined]


def test_repeated_runs_are_summed_up_by_their_median() -> None:
    runs = [Figures("pull", "compiled", 2.0, 100, cpu) for cpu in (0.004, 0.0036, 0.005)]
    assert summary(runs) == (
        "pull (compiled): median of 3 runs 2,000 µs of CPU per second of one stream's media "
        "(min 1,800, max 2,500)"
    )
