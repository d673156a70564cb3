"""``--streams 1,2`` against refserver: windows of both protocols at both counts, every frame
counted, and the CPU-per-stream chart and the verdict carry both counts."""

from __future__ import annotations

import asyncio
from pathlib import Path

from camsim.bench.profiles import profile_named
from camsim.bench.report import build_report
from camsim.bench.runner import Bench, BenchSettings, ProfileResult, Protocol, tls_context
from camsim.bench.servers import LocalRefserver
from camsim.bench.verdict import judge
from camsim.encoder.cli import load_plan
from camsim.encoder.session import PublishOptions
from tests.conftest import SampleFactory


def test_windows_run_at_every_stream_count(tmp_path: Path, make_test_sample: SampleFactory) -> None:
    plan = load_plan(make_test_sample(), enhanced=False)
    with LocalRefserver(tmp_path) as refserver:
        settings = BenchSettings(
            refserver.rtmp_url,
            refserver.rtmps_url,
            (profile_named("loopback"),),
            streams=(2, 1),
            repeat=1,
            warmup=0,
            duration=1.0,
            api_url=refserver.api_url,
            server_pids=(refserver.pid,),
            options=PublishOptions(timeout=5.0, ssl_context=tls_context()),
        )

        async def run() -> list[ProfileResult]:
            return await Bench(settings, plan).run()

        (result,) = asyncio.run(run())

    assert result.stream_counts == (1, 2)
    for protocol in Protocol:
        for count in (1, 2):
            (window,) = result.windows_of(protocol, count)
            assert window.streams == count
            assert window.failed_streams == 0
            assert window.frames_sent > 20 * count
            assert window.frames_received == window.frames_sent
            assert window.server_cpu_seconds is not None
            assert len(window.latency_p50_ms) == count  # one figure per stream, from the API
    verdict = judge(result)
    assert set(verdict.cpu_by_streams) == {1, 2}
    assert all(
        c.encoder is not None and c.server is not None for c in verdict.cpu_by_streams.values()
    )
    report = build_report([result], [verdict], {})
    (chart,) = [c for c in report.charts if c.id == "cpu-loopback"]
    assert {s.name: s.x for s in chart.series} == {
        f"{side} {p.value}": (1.0, 2.0) for side in ("encoder", "server") for p in Protocol
    }
