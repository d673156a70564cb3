"""The bench as the project's report: JSON, and an HTML page with its charts.

Charts: the set-up waterfall of each protocol (median of each phase, in the order they happen),
per-frame latency of RTMP and RTMPS overlaid, CPU per stream against the stream count, and
every profile side by side.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path

from camsim.bench.runner import SETUP_PHASES, ProfileResult, Protocol
from camsim.bench.verdict import Outcome, ProfileVerdict
from reports import (
    CaseResult,
    Chart,
    ChartKind,
    Level,
    Measurement,
    Report,
    Series,
    Verdict,
    now_iso,
    write_html,
    write_json,
)

_OUTCOMES = {Outcome.HELD: Verdict.PASS, Outcome.NOT_HELD: Verdict.FAIL}


def build_report(
    results: Sequence[ProfileResult],
    verdicts: Sequence[ProfileVerdict],
    environment: Mapping[str, object],
    notes: Sequence[str] = (),
) -> Report:
    """One informational case per profile and claim; the figures as measurements."""
    report = Report(
        title="RTMP against RTMPS: what TLS costs a live stream",
        kind="bench",
        created=now_iso(),
        environment=dict(environment),
        notes=list(notes),
    )
    for result, verdict in zip(results, verdicts, strict=True):
        name = result.profile.name
        lines = verdict.lines()
        report.cases.append(
            CaseResult(
                f"BENCH-{name.upper()}-SETUP",
                f"{name}: TLS adds under 100 ms, once",
                Level.INFO,
                _OUTCOMES.get(verdict.setup_claim, Verdict.SKIPPED),
                suite="rtmp-vs-rtmps",
                message=lines[0],
                measurements=_setup_measurements(result),
            )
        )
        report.cases.append(
            CaseResult(
                f"BENCH-{name.upper()}-CPU",
                f"{name}: TLS costs about 1-3% CPU",
                Level.INFO,
                _OUTCOMES.get(verdict.cpu_claim, Verdict.SKIPPED),
                suite="rtmp-vs-rtmps",
                message=" ".join(lines[1:]),
                measurements=_stream_measurements(result),
            )
        )
        report.charts.extend(_profile_charts(result))
    report.charts.extend(_overall_charts(results))
    return report


def write_report(report: Report, folder: Path) -> Path:
    """``folder/index.html`` and ``folder/results.json``; the page's path."""
    write_json(report, folder / "results.json")
    return write_html(report, folder)


def _median(values: Sequence[float]) -> float | None:
    return round(statistics.median(values), 3) if values else None


def _setup_measurements(result: ProfileResult) -> list[Measurement]:
    out = []
    for protocol in Protocol:
        out.append(
            Measurement(f"{protocol.value} set-up trials", len(result.setup[protocol.value]))
        )
        out.append(
            Measurement(
                f"{protocol.value} set-up total, median",
                _median(result.setup_totals(protocol)),
                "ms",
            )
        )
        for phase in SETUP_PHASES:
            values = result.phase(protocol, phase)
            if values:
                label = phase.removesuffix("_ms").replace("_", " ")
                out.append(Measurement(f"{protocol.value} {label}, median", _median(values), "ms"))
    return out + _resumption_measurements(result)


def _resumption_measurements(result: ProfileResult) -> list[Measurement]:
    """``--resume``: RTMPS's TLS handshake on reconnect, without and with the saved session."""
    out = []
    for kind in ("full", "resumed"):
        trials = result.resumption[kind]
        if not trials:
            continue
        out.append(Measurement(f"rtmps reconnect, {kind} TLS set-ups", len(trials)))
        handshake = result.resumption_phase(kind, "tls_handshake_ms")
        out.append(
            Measurement(f"rtmps reconnect, {kind} TLS handshake, median", _median(handshake), "ms")
        )
        trips = result.resumption_phase(kind, "round_trips")
        out.append(Measurement(f"rtmps reconnect, {kind} TLS round trips, median", _median(trips)))
        reused = sum(t["session_reused"] is True for t in trials)
        out.append(Measurement(f"rtmps reconnect, {kind} sessions resumed", reused))
    return out


def _stream_measurements(result: ProfileResult) -> list[Measurement]:
    out = []
    for protocol in Protocol:
        windows = result.windows_of(protocol)
        p = protocol.value
        out.append(Measurement(f"{p} streaming windows", len(windows)))
        out.append(
            Measurement(
                f"{p} encoder CPU per stream, median",
                _median([w.encoder_cpu_percent / w.streams for w in windows]),
                "% of a core",
            )
        )
        server = [s / w.streams for w in windows if (s := w.server_cpu_percent) is not None]
        if server:
            out.append(
                Measurement(f"{p} server CPU per stream, median", _median(server), "% of a core")
            )
        p50 = [v for w in windows for v in w.latency_p50_ms]
        if p50:
            out.append(Measurement(f"{p} per-frame latency p50, median", _median(p50), "ms"))
    return out


def _profile_charts(result: ProfileResult) -> list[Chart]:
    name = result.profile.name
    charts = []
    for protocol in Protocol:
        labels, medians = [], []
        for phase in SETUP_PHASES:
            values = result.phase(protocol, phase)
            if values:
                labels.append(phase.removesuffix("_ms").replace("_", " "))
                medians.append(statistics.median(values))
        charts.append(
            Chart(
                f"waterfall-{name}-{protocol.value}",
                f"{name}: {protocol.value.upper()} set-up, median of each phase",
                ChartKind.BAR,
                (Series(protocol.value, tuple(medians), tuple(labels)),),
                y_label="ms",
                case=f"BENCH-{name.upper()}-SETUP",
            )
        )
    series = tuple(
        Series(p.value, tuple(v for w in result.windows_of(p) for v in w.latency_p50_ms))
        for p in Protocol
    )
    if all(s.y for s in series):
        charts.append(
            Chart(
                f"latency-{name}",
                f"{name}: per-frame latency (p50 of each stream and window)",
                ChartKind.HISTOGRAM,
                series,
                x_label="ms",
                y_label="streams",
                case=f"BENCH-{name.upper()}-CPU",
            )
        )
    charts.append(
        Chart(
            f"cpu-{name}",
            f"{name}: CPU per stream against stream count (median of the windows at each count)",
            ChartKind.LINE,
            cpu_by_stream_count(result),
            x_label="streams",
            y_label="% of a core per stream",
            case=f"BENCH-{name.upper()}-CPU",
        )
    )
    return charts


def cpu_by_stream_count(result: ProfileResult) -> tuple[Series, ...]:
    """CPU per stream against the stream count: one series per protocol for the encoder and,
    when it was measured, one per protocol for the server; x is the count, y the median over
    that count's windows of each window's CPU (% of a core) divided by its streams."""
    out = []
    for side in ("encoder", "server"):
        for protocol in Protocol:
            counts, medians = [], []
            for count in result.stream_counts:
                windows = result.windows_of(protocol, count)
                if side == "encoder":
                    values = [w.encoder_cpu_percent / w.streams for w in windows]
                else:
                    values = [
                        p / w.streams for w in windows if (p := w.server_cpu_percent) is not None
                    ]
                if values:
                    counts.append(float(count))
                    medians.append(statistics.median(values))
            if medians:
                out.append(Series(f"{side} {protocol.value}", tuple(medians), tuple(counts)))
    return tuple(out)


def _overall_charts(results: Sequence[ProfileResult]) -> list[Chart]:
    names = tuple(r.profile.name for r in results)
    setup = tuple(
        Series(p.value, tuple(_median(r.setup_totals(p)) or 0.0 for r in results), names)
        for p in Protocol
    )
    latency = tuple(
        Series(
            p.value,
            tuple(
                _median([v for w in r.windows_of(p) for v in w.latency_p50_ms]) or 0.0
                for r in results
            ),
            names,
        )
        for p in Protocol
    )
    return [
        Chart(
            "profiles-setup",
            "Set-up (TCP connect to first frame), median, by profile",
            ChartKind.LINE,
            setup,
            y_label="ms",
        ),
        Chart(
            "profiles-latency",
            "Per-frame latency p50, median of streams, by profile",
            ChartKind.LINE,
            latency,
            y_label="ms",
        ),
    ]
