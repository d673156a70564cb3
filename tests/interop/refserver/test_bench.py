"""refserver against nginx-rtmp for the same FFmpeg pushes, short (``-m bench``)."""

from __future__ import annotations

import pytest

from benchmarks.refserver_vs_nginx import CPU_RATIO_TARGET, POLL_SECONDS, run

pytestmark = [pytest.mark.bench, pytest.mark.interop("ffmpeg", "nginx")]


def test_refserver_cost_and_latency_against_nginx_rtmp(capsys: pytest.CaptureFixture[str]):
    result = run(streams=20, seconds=30, warmup=6)
    with capsys.disabled():
        print("\n" + result.format())
    ours, theirs = result.refserver.latency, result.nginx.latency
    assert isinstance(ours["segments"], int)
    assert ours["segments"] >= 20 * 10  # 30 s of 2 s segments, per stream, after warm-up
    assert isinstance(ours["last_frame_p50"], float)
    assert isinstance(theirs["last_frame_p50"], float)
    # Listing times are sampled every POLL_SECONDS for both servers alike.
    assert ours["last_frame_p50"] <= theirs["last_frame_p50"] + POLL_SECONDS
    assert result.refserver.rss is not None
    assert result.refserver.rss.end <= 1.5 * result.refserver.rss.start
    assert result.cpu_ratio <= CPU_RATIO_TARGET, result.format()
