"""Per-frame latency by play-back agrees with the delay the relay injects: against nginx-rtmp
through rtt-50ms, the stamps of the frames played back are 25 ms (one way) old plus what nginx
and two loopback hops add, within the same tolerance refserver's API figure keeps there."""

from __future__ import annotations

import asyncio
import statistics
from pathlib import Path

import pytest

from camsim.bench.profiles import profile_named
from camsim.bench.runner import Bench, BenchSettings, ProfileResult, Protocol, tls_context
from camsim.encoder.cli import load_plan
from camsim.encoder.session import PublishOptions
from tests.conftest import SampleFactory
from tests.interop.encoder.nginx_rtmp import NginxRtmp, available
from wire.asyncio.certificates import self_signed

pytestmark = [
    pytest.mark.interop("nginx"),
    pytest.mark.skipif(not available(), reason="libnginx-mod-rtmp is not installed"),
]

ONE_WAY_MS = 25.0
TOLERANCE_MS = 15.0
"""What nginx's fan-out and a busy shared machine may add to the one-way delay."""


def test_played_back_latency_carries_the_profiles_one_way_delay(
    tmp_path: Path, make_test_sample: SampleFactory
) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    self_signed().write(cert, key)
    plan = load_plan(make_test_sample(), enhanced=False)
    with NginxRtmp(tmp_path / "nginx", cert=cert, key=key) as nginx:
        settings = BenchSettings(
            nginx.rtmp_url("bench{n}"),
            nginx.rtmps_url("bench{n}"),
            (profile_named("rtt-50ms"),),
            streams=2,
            repeat=1,
            warmup=0,
            duration=1.5,
            options=PublishOptions(timeout=5.0, ssl_context=tls_context()),
        )

        async def run() -> list[ProfileResult]:
            return await Bench(settings, plan).run()

        (result,) = asyncio.run(run())
    for protocol in Protocol:
        (window,) = result.windows_of(protocol)
        assert window.failed_streams == 0
        assert len(window.latency_p50_ms) == 2
        assert all(p50 >= ONE_WAY_MS for p50 in window.latency_p50_ms)
        assert statistics.median(window.latency_p50_ms) < ONE_WAY_MS + TOLERANCE_MS
