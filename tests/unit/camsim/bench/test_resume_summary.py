"""The summary and report of ``--resume``: the handshake on reconnect, full against resumed, how
many resumed set-ups the server really resumed, and the difference with its interval."""

from __future__ import annotations

from camsim.bench.cli import format_table
from camsim.bench.profiles import profile_named
from camsim.bench.report import build_report
from camsim.bench.runner import BenchSettings, ProfileResult
from camsim.bench.verdict import judge
from reports.schema import validate


def _trial(ms: float, trips: int, reused: bool) -> dict[str, object]:
    return {
        "tcp_connect_ms": 50.0,
        "tls_handshake_ms": ms,
        "round_trips": trips,
        "session_reused": reused,
        "offered_session": True,
        "version": "TLSv1.2",
        "cipher": "ECDHE-ECDSA-AES256-GCM-SHA384",
    }


def _summary(resume: bool, resumed: list[dict[str, object]]) -> str:
    result = ProfileResult(profile_named("rtt-50ms"))
    result.resumption["full"] = [_trial(ms, 2, False) for ms in (104.0, 106.0, 105.0)]
    result.resumption["resumed"] = resumed
    settings = BenchSettings(
        "rtmp://h/a/b{n}", "rtmps://h/a/b{n}", (result.profile,), resume=resume
    )
    return format_table([result], [judge(result)], settings)


def test_resumption_is_summarised_with_its_difference() -> None:
    summary = _summary(True, [_trial(ms, 1, True) for ms in (52.0, 54.0, 53.0)])
    assert (
        "TLS handshake on reconnect: full 105 ms (2 round trips), resumed 53 ms "
        "(1 round trips), session reused 3/3"
    ) in summary
    assert "resumed - full: -52.0 ms (95% CI -54.0 to -50.0 ms)" in summary


def test_a_set_up_the_server_did_not_resume_is_counted_and_widens_the_interval() -> None:
    resumed = [_trial(52.0, 1, True), _trial(53.0, 1, True), _trial(108.0, 2, False)]
    summary = _summary(True, resumed)
    assert "session reused 2/3" in summary
    assert "resumed - full: no measurable difference (95% CI -54.0 to +4.0 ms)" in summary


def test_no_resumption_lines_without_resume() -> None:
    summary = _summary(False, [_trial(52.0, 1, True)])
    assert "TLS handshake on reconnect" not in summary


def test_the_reports_set_up_case_carries_the_resumption_figures() -> None:
    result = ProfileResult(profile_named("rtt-50ms"))
    result.resumption["full"] = [_trial(ms, 2, False) for ms in (104.0, 106.0, 105.0)]
    result.resumption["resumed"] = [_trial(52.0, 1, True), _trial(108.0, 2, False)]
    report = build_report([result], [judge(result)], {"python": "3.11"})
    setup = next(c for c in report.cases if c.id == "BENCH-RTT-50MS-SETUP")
    figures = {m.name: m.value for m in setup.measurements}
    assert figures["rtmps reconnect, full TLS handshake, median"] == 105.0
    assert figures["rtmps reconnect, full TLS round trips, median"] == 2.0
    assert figures["rtmps reconnect, resumed TLS handshake, median"] == 80.0
    assert figures["rtmps reconnect, resumed sessions resumed"] == 1
    assert figures["rtmps reconnect, resumed TLS set-ups"] == 2
    validate(report.to_json())
