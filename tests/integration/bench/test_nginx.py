"""The bench against nginx-rtmp with RTMPS through nginx's TLS stream proxy, as its users deploy
it: every trial connects, nginx's CPU is measured through its process, and without an API the
per-frame latency is read by playing every stream back from nginx over RTMP."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from camsim.bench.profiles import profile_named
from camsim.bench.runner import Bench, BenchSettings, ProfileResult, Protocol, tls_context
from camsim.bench.verdict import judge
from camsim.encoder.cli import load_plan
from camsim.encoder.session import PublishOptions
from tests.conftest import SampleFactory
from tests.interop.encoder.nginx_rtmp import NginxRtmp, available
from wire.asyncio.certificates import self_signed

pytestmark = [
    pytest.mark.interop("nginx"),
    pytest.mark.skipif(not available(), reason="libnginx-mod-rtmp is not installed"),
]


def test_nginx_rtmp_behind_its_tls_stream_proxy(
    tmp_path: Path, make_test_sample: SampleFactory
) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    self_signed().write(cert, key)
    plan = load_plan(make_test_sample(), enhanced=False)
    with NginxRtmp(tmp_path / "nginx", cert=cert, key=key) as nginx:
        assert nginx.process is not None
        settings = BenchSettings(
            nginx.rtmp_url("bench{n}"),
            nginx.rtmps_url("bench{n}"),
            (profile_named("loopback"),),
            repeat=2,
            warmup=0,
            duration=1.0,
            server_pids=(nginx.process.pid,),
            options=PublishOptions(timeout=5.0, ssl_context=tls_context()),
        )

        async def run() -> list[ProfileResult]:
            return await Bench(settings, plan).run()

        (result,) = asyncio.run(run())
    assert result.setup_failures == {"rtmp": [], "rtmps": []}
    assert all(t["tls_handshake_ms"] is None for t in result.setup["rtmp"])
    assert all((t["tls_handshake_ms"] or 0) > 0 for t in result.setup["rtmps"])
    for protocol in Protocol:
        windows = result.windows_of(protocol)
        assert len(windows) == 2
        assert all(w.failed_streams == 0 and w.frames_sent > 0 for w in windows)
        assert all(w.server_cpu_seconds is not None for w in windows)
        assert all(w.frames_received is None for w in windows)
        # One figure per stream and window, read from the stamps of the frames played back.
        assert all(len(w.latency_p50_ms) == w.streams for w in windows)
        for w in windows:
            assert all(
                0 < p50 <= p95 <= p99 < 1000
                for p50, p95, p99 in zip(
                    w.latency_p50_ms, w.latency_p95_ms, w.latency_p99_ms, strict=True
                )
            )
    verdict = judge(result)
    assert verdict.phases["tls_handshake_ms"] is not None
    assert verdict.phases["tls_handshake_ms"].estimate > 0
    assert verdict.latency is not None
    # TLS records carry the same RTMP bytes plus their headers and tags.
    overhead = verdict.wire_overhead_percent
    assert overhead["rtmp"] is not None
    assert overhead["rtmps"] is not None
    assert abs(overhead["rtmp"]) < 0.2  # the relay sees what the encoder wrote, bar bytes in flight
    assert overhead["rtmps"] > overhead["rtmp"]
