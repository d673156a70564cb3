"""The stream registry, the bitrate meter and latency percentiles."""

from __future__ import annotations

from pathlib import Path

import pytest

from refserver.hls import HlsOptions
from refserver.streams import (
    LatencyWindow,
    PublisherInfo,
    RateMeter,
    StreamBusy,
    StreamRegistry,
)


def test_rate_meter_counts_the_last_window():
    meter = RateMeter(window=2.0)
    meter.add(1000, 10.2)
    meter.add(1000, 10.9)
    meter.add(500, 11.5)
    assert meter.bits_per_second(11.9) == 8 * 2500 / 2
    # The bucket of second 10 falls out once it is more than the window behind.
    assert meter.bits_per_second(13.0) == 8 * 500 / 2
    assert meter.bits_per_second(20.0) == 0


def test_latency_percentiles_by_nearest_rank():
    window = LatencyWindow(size=100)
    assert window.percentiles(50) == {"p50": None}
    for value in range(1, 101):
        window.add(value / 100)
    assert window.percentiles(50, 95, 99) == {"p50": 0.5, "p95": 0.95, "p99": 0.99}
    window.add(5.0)  # the oldest sample (0.01) leaves
    assert len(window) == 100
    assert window.percentiles(99, 100) == {"p99": 1.0, "p100": 5.0}


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_claim_release_republish_and_offline_timeout(tmp_path: Path):
    clock = FakeClock()
    registry = StreamRegistry(tmp_path, HlsOptions(), offline_timeout=30, clock=clock)
    first = PublisherInfo("127.0.0.1:1", "rtmp", clock.now, 1)
    stream = registry.claim("cam", first)
    assert stream.live
    assert stream.folder == tmp_path / "cam"
    with pytest.raises(StreamBusy):
        registry.claim("cam", PublisherInfo("127.0.0.1:2", "rtmp", clock.now, 2))
    registry.release(stream, PublisherInfo("127.0.0.1:2", "rtmp", clock.now, 2))
    assert stream.live  # only its own publisher can release it
    registry.release(stream, first)
    assert not stream.live
    assert stream.offline_since == 1000.0

    again = registry.claim("cam", PublisherInfo("127.0.0.1:3", "rtmps", clock.now, 3))
    assert again is stream
    assert stream.stats.publishes == 2
    assert again.publisher is not None
    registry.release(stream, again.publisher)

    clock.now += 29
    registry.tick()
    assert registry.get("cam") is stream
    clock.now += 1
    registry.tick()
    assert registry.get("cam") is None
    # The folder stays for a republish to carry the playlist on; it is expired later.
    assert (tmp_path / "cam").is_dir()


def test_claim_clears_a_previous_runs_files_and_nothing_else(tmp_path: Path):
    (tmp_path / "cam").mkdir()
    (tmp_path / "cam" / "segment0.ts").write_bytes(b"old")
    (tmp_path / "cam" / ".tmp-segment1.ts").write_bytes(b"half")
    (tmp_path / "cam" / "notes.txt").write_text("someone else's")
    registry = StreamRegistry(tmp_path, HlsOptions())
    registry.claim("cam", PublisherInfo("127.0.0.1:1", "rtmp", 0.0, 1))
    assert sorted(p.name for p in (tmp_path / "cam").iterdir()) == [
        ".refserver-stream",
        "notes.txt",
    ]


def test_one_streams_failure_does_not_stop_the_others_from_ending(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    clock = FakeClock()
    registry = StreamRegistry(tmp_path, HlsOptions(), offline_timeout=30, clock=clock)
    for number, name in enumerate(["broken", "fine"]):
        stream = registry.claim(
            name, PublisherInfo(f"127.0.0.1:{number}", "rtmp", clock.now, number)
        )
        assert stream.publisher is not None
        registry.release(stream, stream.publisher)
    broken = registry.get("broken")
    assert broken is not None

    def fail() -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(broken, "expire", fail)
    clock.now += 30
    registry.tick()
    assert registry.get("fine") is None
    assert registry.get("broken") is broken  # tried again on the next tick
    assert any(r.getMessage() == "stream housekeeping failed" for r in caplog.records)
