"""``--resume`` against refserver through the rtt-50ms relay: a reconnect that offers the saved
session resumes it. Under TLS 1.2 the abbreviated handshake saves one of the full handshake's two
round trips, about one RTT of set-up; under TLS 1.3 both take one round trip, the session
arriving as a ticket after the handshake."""

from __future__ import annotations

import asyncio
import statistics
from collections.abc import Iterator

import pytest

from camsim.bench.profiles import profile_named
from camsim.bench.runner import Bench, BenchSettings, ProfileResult, tls_context
from camsim.bench.servers import LocalRefserver
from camsim.encoder.cli import load_plan
from camsim.encoder.session import PublishOptions
from tests.conftest import SampleFactory

RTT_MS = 50.0


@pytest.fixture(scope="module")
def refserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRefserver]:
    with LocalRefserver(tmp_path_factory.mktemp("refserver")) as server:
        yield server


def _run(refserver: LocalRefserver, sample: SampleFactory, version: str) -> ProfileResult:
    settings = BenchSettings(
        refserver.rtmp_url,
        refserver.rtmps_url,
        (profile_named("rtt-50ms"),),
        repeat=2,
        warmup=0,
        streaming=False,
        resume=True,
        options=PublishOptions(timeout=5.0, ssl_context=tls_context(version=version)),
    )
    plan = load_plan(sample(), enhanced=False)

    async def run() -> list[ProfileResult]:
        return await Bench(settings, plan).run()

    (result,) = asyncio.run(run())
    assert result.resumption_failures == []
    assert len(result.resumption["full"]) == 2
    assert len(result.resumption["resumed"]) == 2
    assert all(t["session_reused"] is False for t in result.resumption["full"])
    assert all(t["session_reused"] is True for t in result.resumption["resumed"])
    assert all(t["offered_session"] is True for t in result.resumption["resumed"])
    return result


def test_tls_1_2_resumption_saves_a_round_trip(
    refserver: LocalRefserver, make_test_sample: SampleFactory
) -> None:
    result = _run(refserver, make_test_sample, "1.2")
    assert result.resumption_phase("full", "round_trips") == [2.0, 2.0]
    assert result.resumption_phase("resumed", "round_trips") == [1.0, 1.0]
    full = statistics.median(result.resumption_phase("full", "tls_handshake_ms"))
    resumed = statistics.median(result.resumption_phase("resumed", "tls_handshake_ms"))
    assert full >= 2 * RTT_MS
    assert RTT_MS <= resumed < full - 0.8 * RTT_MS


def test_tls_1_3_resumes_in_the_same_single_round_trip(
    refserver: LocalRefserver, make_test_sample: SampleFactory
) -> None:
    result = _run(refserver, make_test_sample, "1.3")
    assert all(t["version"] == "TLSv1.3" for k in ("full", "resumed") for t in result.resumption[k])
    assert result.resumption_phase("full", "round_trips") == [1.0, 1.0]
    assert result.resumption_phase("resumed", "round_trips") == [1.0, 1.0]
    assert all(ms >= RTT_MS for ms in result.resumption_phase("resumed", "tls_handshake_ms"))
