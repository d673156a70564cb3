"""The in-memory hot-path runs measure what they claim: every read reaches the session, frames
reach the packager, and the figure is per second of media."""

from __future__ import annotations

import pstats
import time

import pytest

from benchmarks.hotpaths import RUNS, CacheEvictor, Figures, summary

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


def burn(seconds: float) -> None:
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


def test_a_cold_run_times_the_reads_and_not_what_runs_between_them() -> None:
    calls: list[None] = []

    def between() -> None:
        calls.append(None)
        burn(0.002)

    figures = RUNS["ingest"](2.0, None, between)
    assert len(calls) == figures.reads  # once before every read
    burned = 0.002 * figures.reads
    assert 0 < figures.cpu_seconds < burned / 2


def test_the_evictor_writes_every_cache_line_of_its_memory_each_time() -> None:
    evictor = CacheEvictor(0.25)
    memory = evictor._memory
    assert len(memory) == 2**18
    evictor()
    first = bytes(memory[:: CacheEvictor.LINE])
    evictor()
    second = bytes(memory[:: CacheEvictor.LINE])
    assert len(set(first)) == len(set(second)) == 1
    assert first != second  # a new value each call, so each call writes every line
    with pytest.raises(ValueError, match="positive"):
        CacheEvictor(0)
