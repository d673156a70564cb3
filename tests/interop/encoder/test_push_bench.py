"""The CPU benchmark against ``ffmpeg -re -c copy -f flv``, short and small (``-m bench``)."""

from __future__ import annotations

import pytest

from benchmarks.push_vs_ffmpeg import run

pytestmark = [pytest.mark.bench, pytest.mark.interop("ffmpeg", "nginx")]


def test_camsim_costs_no_more_cpu_per_stream_than_ffmpeg(capsys: pytest.CaptureFixture[str]):
    result = run(streams=20, seconds=8, warmup=3)
    with capsys.disabled():
        print("\n" + result.format())
    assert result.camsim.cpu_seconds > 0
    assert result.ffmpeg.cpu_seconds > 0
    assert result.ratio <= 1.0
