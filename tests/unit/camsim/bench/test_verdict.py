"""The claim judged on made-up measurements: held, did not hold, cannot tell."""

from __future__ import annotations

import pytest

from camsim.bench.profiles import PROFILES, profile_named
from camsim.bench.report import build_report
from camsim.bench.runner import ProfileResult, Protocol, Window, interleaved
from camsim.bench.verdict import Outcome, judge
from reports.schema import validate


def trial(tls: float | None, base: float = 1.0) -> dict[str, float | None]:
    return {
        "tcp_connect_ms": base,
        "tls_handshake_ms": tls,
        "rtmp_handshake_ms": base,
        "connect_ms": base,
        "create_stream_ms": base,
        "publish_ms": base,
        "first_frame_ms": base,
    }


def window(protocol: Protocol, cpu: float, latency: float, wire: int = 1000) -> Window:
    return Window(
        protocol=protocol.value,
        streams=2,
        seconds=10.0,
        encoder_cpu_seconds=cpu,
        server_cpu_seconds=None,
        payload_bytes=1000,
        wire_bytes=wire,
        frames_sent=300,
        frames_received=298,
        latency_p50_ms=[latency, latency + 0.1],
    )


def result(tls_ms: list[float], cpu_rtmps: list[float], name: str = "rtt-50ms") -> ProfileResult:
    out = ProfileResult(profile_named(name))
    jitter = [0.0, 0.2, -0.1, 0.1, -0.2]
    out.setup["rtmp"] = [trial(None, 1.0 + j) for j in jitter]
    out.setup["rtmps"] = [trial(t, 1.0 + j) for t, j in zip(tls_ms, jitter, strict=True)]
    for j, cpu in zip(jitter, cpu_rtmps, strict=True):
        out.windows.append(window(Protocol.RTMP, 1.0 + j / 100, 5.0 + j))
        out.windows.append(window(Protocol.RTMPS, cpu, 5.0 + j, wire=1020))
    return out


def test_rounds_alternate_which_protocol_goes_first() -> None:
    assert [interleaved(i) for i in range(3)] == [
        (Protocol.RTMP, Protocol.RTMPS),
        (Protocol.RTMPS, Protocol.RTMP),
        (Protocol.RTMP, Protocol.RTMPS),
    ]


def test_a_small_one_off_cost_holds_the_claim() -> None:
    verdict = judge(result([52.0, 51.0, 50.5, 53.0, 51.5], [1.0, 1.002, 0.998, 1.001, 0.999]))
    assert verdict.setup is not None
    assert 50 < verdict.setup.estimate < 53
    assert verdict.setup_claim is Outcome.HELD
    assert verdict.cpu_claim is Outcome.HELD
    assert verdict.wire_overhead_percent == {"rtmp": 0.0, "rtmps": 2.0}
    assert verdict.frames_lost == {"rtmp": 10, "rtmps": 10}
    lines = verdict.lines()
    assert lines[0].startswith('"TLS adds under 100 ms once" held: set-up +5')
    assert "per-frame latency no measurable difference" in lines[0]
    assert any("tls handshake" in line and "RTT of 50 ms" in line for line in lines)


def test_a_large_cost_does_not_hold_the_claim() -> None:
    verdict = judge(result([150.0, 152.0, 149.0, 151.0, 150.5], [1.2, 1.21, 1.19, 1.2, 1.22]))
    assert verdict.setup_claim is Outcome.NOT_HELD
    assert verdict.cpu_claim is Outcome.NOT_HELD
    assert verdict.encoder_cpu is not None
    assert 15 < verdict.encoder_cpu.relative.estimate < 25


def test_an_interval_across_the_bound_cannot_tell() -> None:
    verdict = judge(result([60.0, 140.0, 95.0, 105.0, 70.0], [0.9, 1.1, 1.0, 1.05, 0.95]))
    assert verdict.setup_claim is Outcome.UNDECIDED
    assert verdict.cpu_claim is Outcome.UNDECIDED


def test_every_profile_is_registered_by_its_name() -> None:
    assert {"loopback", "rtt-50ms", "rtt-150ms-loss-1", "bandwidth-5mbit"} <= set(PROFILES)
    assert profile_named("rtt-50ms").rtt_ms == pytest.approx(50.0)
    assert profile_named("rtt-50ms").config.up.delay == pytest.approx(0.025)
    with pytest.raises(KeyError, match="known: "):
        profile_named("rtt-1ms")


def test_the_report_has_a_case_per_claim_and_the_charts() -> None:
    results = [
        result([52.0, 51.0, 50.5, 53.0, 51.5], [1.0] * 5, name=n) for n in ("loopback", "rtt-50ms")
    ]
    report = build_report(results, [judge(r) for r in results], {"python": "3.11"})
    assert [c.id for c in report.cases] == [
        "BENCH-LOOPBACK-SETUP",
        "BENCH-LOOPBACK-CPU",
        "BENCH-RTT-50MS-SETUP",
        "BENCH-RTT-50MS-CPU",
    ]
    ids = {chart.id for chart in report.charts}
    assert {"waterfall-loopback-rtmp", "waterfall-loopback-rtmps", "latency-rtt-50ms"} <= ids
    assert {"cpu-loopback", "profiles-setup", "profiles-latency"} <= ids
    rtmps = next(c for c in report.charts if c.id == "waterfall-loopback-rtmps")
    assert rtmps.series[0].x[1] == "tls handshake"
    validate(report.to_json())  # the project's report schema


def test_windows_with_failed_streams_cannot_judge_the_cpu() -> None:
    measured = result([52.0, 51.0, 50.5, 53.0, 51.5], [1.0, 1.002, 0.998, 1.001, 0.999])
    measured.windows[1].failed_streams = 1
    verdict = judge(measured)
    assert verdict.cpu_claim is Outcome.UNDECIDED
    assert "1 of 10 streaming windows had failed streams" in verdict.lines()
