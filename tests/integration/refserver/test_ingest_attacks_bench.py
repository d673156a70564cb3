"""The ingest attack benchmark, small: the publisher gets in and memory stays flat."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.ingest_attacks import run_attack
from camsim.encoder.flv_source import FlvPlan

CHECKOUT = Path(__file__).resolve().parents[3]


@pytest.mark.bench
@pytest.mark.parametrize("attack", ["tls", "slowloris", "chunks"])
def test_a_publisher_gets_in_during_the_attack(h264_plan: FlvPlan, attack: str) -> None:
    figures = run_attack(
        attack,
        CHECKOUT,
        h264_plan,
        connections=300,
        chunk_connections=1,
        seconds=6,
        addresses=1,
    )
    assert figures.publisher == "published", figures
    assert figures.publisher_video_frames > 0
    if attack != "chunks":
        assert figures.held_median <= 32  # max_connections_per_ip
    assert figures.rss_peak_mb - figures.rss_before_mb < 64, figures
