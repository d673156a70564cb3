"""Per-frame latency read from refserver's HLS (``--hls``) against refserver's own API figure:
stamp → segment listed can only be later than stamp → frame received, and by no more than one
target duration (a frame waits at most that long in its open segment: the sample's GOP equals
refserver's 2 s target) plus :data:`SLACK` for the reload interval and the fetch."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from pathlib import Path

from camsim.bench.hls import HlsThread
from camsim.bench.profiles import profile_named
from camsim.bench.progress import status_line
from camsim.bench.runner import Bench, BenchSettings, ProfileResult, Protocol, tls_context
from camsim.bench.servers import LocalRefserver
from camsim.encoder.cli import load_plan
from camsim.encoder.session import PublishOptions
from camsim.encoder.target import PushTarget
from tests.conftest import SampleFactory

TARGET_DURATION_MS = 2000.0
"""refserver's default target duration."""
SLACK_MS = 500.0
"""Two reload intervals, the segment's fetch and the server's cut."""


class RecordingBench(Bench):
    """A bench that remembers which streams it followed over HLS."""

    followed: list[PushTarget]

    def _follow(self, targets: Sequence[PushTarget]) -> HlsThread | None:
        self.followed = [*getattr(self, "followed", []), *targets]
        return super()._follow(targets)


def test_hls_latency_is_api_latency_plus_under_one_target_duration(
    make_test_sample: SampleFactory, tmp_path: Path
) -> None:
    plan = load_plan(make_test_sample(), enhanced=False)
    with LocalRefserver(tmp_path) as server:
        http = server.api_url.removesuffix("/api/streams/")
        settings = BenchSettings(
            server.rtmp_url,
            server.rtmps_url,
            (profile_named("loopback"),),
            repeat=1,
            warmup=0,
            duration=3.0,
            api_url=server.api_url,
            hls_url=http + "/live/{name}/index.m3u8",
            options=PublishOptions(timeout=5.0, ssl_context=tls_context()),
        )
        lines: list[str] = []
        bench = RecordingBench(
            settings, plan, status=lambda s: lines.append(status_line(s, time.monotonic()))
        )

        async def run() -> tuple[list[ProfileResult], list[float]]:
            results = await bench.run()
            api = []
            for target in bench.followed:
                entry = await bench._api(target)
                assert entry is not None
                latency = entry["latency"]
                assert isinstance(latency, dict)
                api.append(1000 * latency["p50"])
            return results, api

        (result,), api_p50 = asyncio.run(run())

    # The live line was drawn about once a second and showed the streaming windows as they ran.
    assert any("streaming 1/1 | rtmps | 1/1 streams up" in line for line in lines)
    assert len(bench.followed) == 2  # one window per protocol, one stream each
    windows = [w for p in Protocol for w in result.windows_of(p)]
    # Windows run in interleaved order, RTMP first in round 0, as the streams were followed.
    ordered = sorted(windows, key=lambda w: w.protocol != "rtmp")
    for window, api in zip(ordered, api_p50, strict=True):
        assert window.failed_streams == 0
        assert window.frames_received == window.frames_sent
        (hls,) = window.latency_p50_ms
        assert hls >= api
        assert hls <= api + TARGET_DURATION_MS + SLACK_MS
        # A frame waits in its open segment: the HLS figure is not the API's.
        assert hls > api + 100.0
