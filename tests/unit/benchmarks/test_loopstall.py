"""The loop-lag probe sees a stall of the loop, once, and summarises a window of probes."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from benchmarks.loopstall import (
    SAMPLE_BYTES,
    LoopLagProbe,
    ProbingPolicy,
    probed,
    slow_disk,
    summarise,
)

STALL = 0.05


def test_a_blocked_loop_shows_as_one_late_probe(tmp_path: Path):
    loop = asyncio.new_event_loop()
    probe = LoopLagProbe(loop, interval=0.005)
    try:
        probe.start()
        loop.call_later(0.02, time.sleep, STALL)  # holds the loop, as a blocking write would
        loop.run_until_complete(asyncio.sleep(0.15))
    finally:
        probe.stop()
        loop.close()
    lags = [lag for _, lag in probe.samples]
    # The held probe fell due during the stall, at most one interval after it began.
    assert max(lags) >= STALL - probe.interval
    # Counted once, by the probe it held up: not again by every probe it skipped.
    assert sum(lag >= STALL / 2 for lag in lags) == 1
    probe.dump(tmp_path / "lag.json")
    whole = summarise(tmp_path / "lag.json")
    assert whole.probes == len(lags)
    assert whole.max_ms == round(max(lags) * 1000, 3)


def test_summarise_takes_the_window_and_nearest_rank_percentiles(tmp_path: Path):
    samples = [[float(n), n / 1000] for n in range(1, 201)]  # lateness n ms at second n
    (tmp_path / "lag.json").write_text(json.dumps({"interval": 0.01, "samples": samples}))
    window = summarise(tmp_path / "lag.json", since=101, until=200)
    assert (window.probes, window.max_ms, window.p99_ms, window.p50_ms) == (100, 200, 199, 150)
    with pytest.raises(RuntimeError, match="no loop-lag probe ran"):
        summarise(tmp_path / "lag.json", since=500)


def test_the_policy_probes_the_loop_asyncio_run_makes():
    policy = ProbingPolicy(interval=0.005)
    runner = asyncio.Runner(loop_factory=policy.new_event_loop)
    with runner:
        runner.run(asyncio.sleep(0.05))
    [probe] = policy.probes
    assert len(probe.samples) >= 3


def test_a_slow_disk_delays_each_hls_write_in_the_writing_thread(tmp_path: Path, monkeypatch):
    from refserver.hls.storage import DirectoryStorage

    monkeypatch.setattr(DirectoryStorage, "write", DirectoryStorage.write)  # restored after
    slow_disk(STALL)
    storage = DirectoryStorage(tmp_path)
    started = time.monotonic()
    storage.write("index.m3u8", b"x")
    assert time.monotonic() - started >= STALL
    assert storage.read("index.m3u8") == b"x"
    assert probed(tmp_path / "lag.json", STALL)[-1] == f"--disk-delay={STALL:g}"
    assert not any(part.startswith("--disk") for part in probed(tmp_path / "lag.json"))


class _Loop:
    """Just enough of a loop for the probe to reschedule itself without running."""

    def call_later(self, delay: float, callback: object) -> None:
        return None


def test_a_probe_keeps_its_samples_in_little_memory():
    # The probe runs inside the server whose RSS the benchmarks judge: 100 probes a second for
    # ten minutes must not look like the server's own growth.
    import tracemalloc

    probe = LoopLagProbe(_Loop(), interval=0.01)  # type: ignore[arg-type]
    count = 20_000
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(count):
            probe._fire()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(probe.samples) == count
    # Arrays grow by about an eighth past what they hold.
    assert grown <= 1.2 * count * SAMPLE_BYTES, grown
