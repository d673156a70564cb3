"""The measured figures against the usual claim: "TLS adds under 100 ms once, at connection
time, and about 1-3% CPU".

The claim is judged per profile, and only on what the intervals say: it *held* when the whole
confidence interval is on its side, it *did not hold* when the whole interval is past it, and
otherwise the run cannot tell (more repeats narrow the interval).

- "under 100 ms": the set-up difference (RTMPS - RTMP, TCP connect to first frame);
- "once": the per-frame latency difference (medians of the streams' p50) stays under
  :data:`ONGOING_LATENCY_MS`, so the cost is not paid again on every frame;
- "about 1-3% CPU": the encoder's CPU increase, relative to RTMP's, is at most
  :data:`CLAIM_CPU_PERCENT`; the server's is judged the same way when it runs here. With
  several stream counts (``--streams 1,5,10``) it is judged at every count, RTMPS against
  RTMP at the same count, and holds only if it holds at all of them: a cost that grows with the
  number of streams must not hide in a median over counts.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from enum import StrEnum

from camsim.bench.runner import SETUP_PHASES, ProfileResult, Protocol, Window
from camsim.bench.stats import Difference, median_difference

CLAIM_SETUP_MS = 100.0
CLAIM_CPU_PERCENT = 3.0
ONGOING_LATENCY_MS = 10.0
"""A per-frame latency difference above this is an ongoing cost, not a one-off."""


class Outcome(StrEnum):
    HELD = "held"
    NOT_HELD = "did not hold"
    UNDECIDED = "cannot tell"


def _against(difference: Difference | None, bound: float) -> Outcome:
    if difference is None:
        return Outcome.UNDECIDED
    if difference.high < bound:
        return Outcome.HELD
    if difference.low >= bound:
        return Outcome.NOT_HELD
    return Outcome.UNDECIDED


def _worst(*outcomes: Outcome) -> Outcome:
    if Outcome.NOT_HELD in outcomes:
        return Outcome.NOT_HELD
    if Outcome.UNDECIDED in outcomes:
        return Outcome.UNDECIDED
    return Outcome.HELD


@dataclass(frozen=True)
class RelativeDifference:
    """A difference of CPU in percent of RTMP's own median."""

    difference: Difference
    baseline: float

    @property
    def relative(self) -> Difference:
        scale = 100 / self.baseline if self.baseline > 0 else 0.0
        d = self.difference
        return Difference(
            d.estimate * scale, d.low * scale, d.high * scale, d.confidence, d.count_a, d.count_b
        )


@dataclass
class ProfileVerdict:
    """Every difference of one profile and the claim's outcome under it."""

    profile: str
    rtt_ms: float
    setup: Difference | None
    phases: dict[str, Difference | None]
    latency: Difference | None
    encoder_cpu: RelativeDifference | None
    server_cpu: RelativeDifference | None
    wire_overhead_percent: dict[str, float | None]
    frames_lost: dict[str, int | None]
    setup_claim: Outcome
    cpu_claim: Outcome
    dominant: list[str] = field(default_factory=list)
    cpu_by_streams: dict[int, StreamCountCpu] = field(default_factory=dict)
    """Per stream count, when windows ran at more than one."""

    def lines(self) -> list[str]:
        """The verdict in plain words, figures beside each judgement."""
        out = []
        setup = self.setup.describe("ms") if self.setup else "not measured"
        latency = self.latency.describe("ms") if self.latency else "not measured"
        out.append(
            f'"TLS adds under 100 ms once" {self.setup_claim.value}: set-up {setup}; '
            f"per-frame latency {latency}"
        )
        cpu = [
            f"{side} {rel.relative.describe('% of RTMP', 1)}"
            for side, rel in (("encoder", self.encoder_cpu), ("server", self.server_cpu))
            if rel is not None
        ]
        out.append(
            f'"about 1-3% CPU" {self.cpu_claim.value}: ' + ("; ".join(cpu) or "not measured")
        )
        out.extend(f"  {line}" for line in self.cpu_count_lines())
        out.extend(self.dominant)
        return out

    def cpu_count_lines(self) -> list[str]:
        """One line per stream count: RTMPS's CPU per stream against RTMP's at that count."""
        out = []
        for count, cpu in self.cpu_by_streams.items():
            parts = [
                f"{side} {rel.relative.describe('% of RTMP', 1)}"
                for side, rel in (("encoder", cpu.encoder), ("server", cpu.server))
                if rel is not None
            ]
            out.append(
                f"{count} stream(s): {cpu.outcome.value}: " + ("; ".join(parts) or "not measured")
            )
        return out

    def to_json(self) -> dict[str, object]:

        return {
            "profile": self.profile,
            "setup_ms": self.setup.to_json() if self.setup else None,
            "phases_ms": {k: v.to_json() if v else None for k, v in self.phases.items()},
            "latency_p50_ms": self.latency.to_json() if self.latency else None,
            "encoder_cpu": _relative_json(self.encoder_cpu),
            "server_cpu": _relative_json(self.server_cpu),
            "wire_overhead_percent": self.wire_overhead_percent,
            "frames_lost": self.frames_lost,
            "claims": {
                "setup_once_under_100ms": self.setup_claim.value,
                "cpu_1_3_percent": self.cpu_claim.value,
            },
            "dominant": self.dominant,
            "cpu_by_streams": {
                str(count): {
                    "encoder": _relative_json(cpu.encoder),
                    "server": _relative_json(cpu.server),
                    "claim": cpu.outcome.value,
                }
                for count, cpu in self.cpu_by_streams.items()
            },
            "lines": self.lines(),
        }


def _relative_json(value: RelativeDifference | None) -> dict[str, object] | None:
    if value is None:
        return None
    return {
        "absolute_percent_of_core": value.difference.to_json(),
        "relative_percent": value.relative.to_json(),
        "rtmp_median_percent_of_core": round(value.baseline, 4),
    }


@dataclass(frozen=True)
class StreamCountCpu:
    """RTMPS's CPU per stream against RTMP's, at one stream count."""

    encoder: RelativeDifference | None
    server: RelativeDifference | None

    @property
    def outcome(self) -> Outcome:
        outcomes = [
            _against(rel.relative, CLAIM_CPU_PERCENT + 1e-9)
            for rel in (self.encoder, self.server)
            if rel is not None
        ]
        return _worst(*outcomes) if outcomes else Outcome.UNDECIDED


def judge(result: ProfileResult, *, seed: int = 0) -> ProfileVerdict:
    """The differences of ``result`` (RTMPS minus RTMP) and the claim's outcome."""
    a, b = Protocol.RTMP, Protocol.RTMPS
    setup = median_difference(result.setup_totals(a), result.setup_totals(b), seed=seed)
    phases = {
        name: median_difference(result.phase(a, name) or [0.0], result.phase(b, name), seed=seed)
        if name == "tls_handshake_ms"
        else median_difference(result.phase(a, name), result.phase(b, name), seed=seed)
        for name in SETUP_PHASES
    }
    wa, wb = result.windows_of(a), result.windows_of(b)
    latency = median_difference(
        [v for w in wa for v in w.latency_p50_ms],
        [v for w in wb for v in w.latency_p50_ms],
        seed=seed,
    )
    all_counts = _count_cpu(wa, wb, seed)
    encoder, server = all_counts.encoder, all_counts.server
    by_streams = {
        count: _count_cpu(result.windows_of(a, count), result.windows_of(b, count), seed)
        for count in result.stream_counts
    }
    overhead = {p.value: _overhead(result.windows_of(p)) for p in Protocol}
    lost = {p.value: _lost(result.windows_of(p)) for p in Protocol}
    setup_claim = _worst(
        _against(setup, CLAIM_SETUP_MS),
        _against(latency, ONGOING_LATENCY_MS) if latency is not None else Outcome.HELD,
    )
    if len(by_streams) > 1:
        cpu_claim = _worst(*(cpu.outcome for cpu in by_streams.values()))
    else:
        cpu_claim = all_counts.outcome
    broken = sum(w.failed_streams > 0 for w in wa + wb)
    if broken:
        cpu_claim = Outcome.UNDECIDED  # a window that lost streams measured less work
    verdict = ProfileVerdict(
        result.profile.name,
        result.profile.rtt_ms,
        setup,
        phases,
        latency,
        encoder,
        server,
        overhead,
        lost,
        setup_claim,
        cpu_claim,
        cpu_by_streams=by_streams if len(by_streams) > 1 else {},
    )
    verdict.dominant = _dominant(verdict)
    if broken:
        verdict.dominant.insert(
            0, f"{broken} of {len(wa) + len(wb)} streaming windows had failed streams"
        )
    return verdict


def _count_cpu(wa: list[Window], wb: list[Window], seed: int) -> StreamCountCpu:
    """CPU per stream of RTMP windows ``wa`` against RTMPS windows ``wb``."""
    return StreamCountCpu(
        _cpu(
            [w.encoder_cpu_percent / w.streams for w in wa],
            [w.encoder_cpu_percent / w.streams for w in wb],
            seed,
        ),
        _cpu(
            [p / w.streams for w in wa if (p := w.server_cpu_percent) is not None],
            [p / w.streams for w in wb if (p := w.server_cpu_percent) is not None],
            seed,
        ),
    )


def _cpu(a: list[float], b: list[float], seed: int) -> RelativeDifference | None:
    difference = median_difference(a, b, seed=seed)
    if difference is None:
        return None
    return RelativeDifference(difference, statistics.median(a))


def _overhead(windows: list[Window]) -> float | None:
    """Bytes on the wire beyond the RTMP payload, in percent of it."""
    payload = sum(w.payload_bytes for w in windows)
    wire = sum(w.wire_bytes for w in windows)
    return round(100 * (wire / payload - 1), 3) if payload else None


def _lost(windows: list[Window]) -> int | None:
    """Video frames sent that the server never counted; None without the server's counts."""
    lost = 0
    for window in windows:
        if window.frames_received is None:
            return None
        lost += max(window.frames_sent - window.frames_received, 0)
    return lost


def _dominant(verdict: ProfileVerdict) -> list[str]:
    """What makes up the difference: handshake round trips, record framing, encryption CPU."""
    out = []
    measurable = {name: d for name, d in verdict.phases.items() if d is not None and d.measurable}
    if measurable:
        name, largest = max(measurable.items(), key=lambda item: item[1].estimate)
        phase = name.removesuffix("_ms").replace("_", " ")
        line = f"set-up: the largest part is the {phase} ({largest.estimate:+.1f} ms"
        if verdict.rtt_ms > 0:
            line += f", {largest.estimate / verdict.rtt_ms:.1f} RTT of {verdict.rtt_ms:g} ms"
        out.append(line + ")")
    rtmp, rtmps = (
        verdict.wire_overhead_percent.get("rtmp"),
        verdict.wire_overhead_percent.get("rtmps"),
    )
    if rtmp is not None and rtmps is not None:
        out.append(f"streaming: TLS records add {rtmps - rtmp:.2f}% to the bytes on the wire")
    if verdict.encoder_cpu is not None:
        out.append(
            "streaming: encryption CPU on the encoder "
            + verdict.encoder_cpu.difference.describe("% of a core per stream", 3)
        )
    return out
