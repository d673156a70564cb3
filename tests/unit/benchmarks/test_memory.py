"""The RSS summary the ingest and pull benchmarks judge memory by."""

from __future__ import annotations

from benchmarks.memory import RSS_SETTLE, Rss


def test_a_long_window_leaves_out_its_first_minute() -> None:
    # 50 MB for the first minute (the warm-up), then flat at 70 MB: no growth to report.
    samples = [(float(t), 50.0 if t < RSS_SETTLE else 70.0) for t in range(600)]
    rss = Rss.over(samples, 600.0)
    assert (rss.start, rss.minimum, rss.maximum, rss.end, rss.slope) == (50.0, 70.0, 70.0, 70.0, 0)
    assert rss.settle == RSS_SETTLE


def test_a_short_window_leaves_out_its_first_half() -> None:
    # 2 MB a minute throughout: the slope is that whatever part is left out.
    samples = [(float(t), 60.0 + t / 30) for t in range(41)]
    rss = Rss.over(samples, 40.0)
    assert rss.settle == 20.0
    assert rss.minimum == 60.0 + 20 / 30
    assert rss.slope == 2.0


def test_the_summary_line_names_the_slope_and_its_limit() -> None:
    line = Rss(59.9, 70.1, 83.1, 83.1, 0.912, 60.0).format()
    assert line == (
        "start 59.9, after 60 s min 70.1 max 83.1, end 83.1, slope +0.912 MB/min (limit 1)"
    )
