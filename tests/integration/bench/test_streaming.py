"""A streaming window through a delaying relay: every frame the encoder sent is counted by the
server, per-frame latency comes from its API and carries the profile's one-way delay."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from camsim.bench.profiles import profile_named
from camsim.bench.runner import Bench, BenchSettings, ProfileResult, Protocol, tls_context
from camsim.bench.servers import LocalRefserver
from camsim.bench.verdict import judge
from camsim.encoder.cli import load_plan
from camsim.encoder.session import PublishOptions
from tests.conftest import SampleFactory


@pytest.fixture(scope="module")
def refserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRefserver]:
    with LocalRefserver(tmp_path_factory.mktemp("refserver")) as server:
        yield server


def test_rtt_50ms_window_counts_every_frame(
    refserver: LocalRefserver, make_test_sample: SampleFactory
) -> None:
    settings = BenchSettings(
        refserver.rtmp_url,
        refserver.rtmps_url,
        (profile_named("rtt-50ms"),),
        repeat=1,
        warmup=0,
        duration=1.0,
        api_url=refserver.api_url,
        server_pids=(refserver.pid,),
        options=PublishOptions(timeout=5.0, ssl_context=tls_context()),
    )
    plan = load_plan(make_test_sample(), enhanced=False)

    async def run() -> list[ProfileResult]:
        return await Bench(settings, plan).run()

    (result,) = asyncio.run(run())
    for protocol in Protocol:
        (window,) = result.windows_of(protocol)
        assert window.failed_streams == 0
        assert window.frames_sent > 30
        assert window.frames_received == window.frames_sent
        assert window.server_cpu_seconds is not None
        (p50,) = window.latency_p50_ms
        assert p50 >= 25.0  # one way through the relay
    assert judge(result).frames_lost == {"rtmp": 0, "rtmps": 0}
