"""Figures measured on the stream, reported without a verdict (level info)."""

from __future__ import annotations

import itertools
import statistics

from conformance.case import INFO, CaseRecord, case, not_applicable
from conformance.hls.observation import HlsObservation
from conformance.spec import apple_hls, rfc8216
from reports.model import ChartKind, Series, SpecRef

STAMP_SPEC = SpecRef("camsim per-frame stamp", "README: The per-frame stamp")


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


@case(
    "HLS-M-001",
    "Glass-to-playlist latency per frame (SEI stamp to first listing)",
    level=INFO,
    spec=[STAMP_SPEC, apple_hls("latency")],
)
def test_latency(hls: HlsObservation, case_record: CaseRecord) -> None:
    latencies: list[float] = []
    for segment in hls.analysed():
        assert segment.media is not None
        if segment.first_reload == 0:
            continue  # listed before the observation began: when it appeared is unknown
        for stamp in segment.media.stamps:
            if stamp.wallclock_us:
                latencies.append(segment.listed_wall - stamp.wallclock_us / 1e6)
    if not latencies:
        not_applicable("no frame carries a camsim stamp with a wallclock")
    for name, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
        case_record.measure(f"latency {name}", round(_quantile(latencies, q), 3), "s")
    case_record.measure("latency max", round(max(latencies), 3), "s")
    case_record.measure("frames", len(latencies))
    case_record.summary = (
        f"p50 {_quantile(latencies, 0.5):.3f} s, p95 {_quantile(latencies, 0.95):.3f} s "
        f"over {len(latencies)} frames"
    )

    case_record.chart(
        "Glass-to-playlist latency per frame",
        ChartKind.HISTOGRAM,
        [Series("frames", tuple(latencies))],
        x_label="seconds from capture to the first playlist listing the frame",
        y_label="frames",
    )


@case(
    "HLS-M-002",
    "Segment durations",
    level=INFO,
    spec=[rfc8216("4.3.2.1")],
)
def test_segment_durations(hls: HlsObservation, case_record: CaseRecord) -> None:
    segments = sorted(hls.segments, key=lambda s: s.sequence)
    if not segments:
        not_applicable("no segment was listed")
    durations = [s.extinf for s in segments]
    case_record.measure("segments", len(durations))
    case_record.measure("mean", round(statistics.fmean(durations), 3), "s")
    case_record.measure("min", round(min(durations), 3), "s")
    case_record.measure("max", round(max(durations), 3), "s")
    if len(durations) > 1:
        case_record.measure("stdev", round(statistics.stdev(durations), 3), "s")
    target = hls.target_duration
    case_record.summary = (
        f"{len(durations)} segments, {min(durations):g}-{max(durations):g} s (target {target} s)"
    )

    case_record.chart(
        "Segment durations (EXTINF) over the observation",
        ChartKind.LINE,
        [Series("EXTINF", tuple(durations), tuple(s.sequence for s in segments))],
        x_label="media sequence number",
        y_label="seconds",
    )


@case(
    "HLS-M-003",
    "Frames lost (gaps in the stamps' frame indexes)",
    level=INFO,
    spec=[STAMP_SPEC],
)
def test_frames_lost(hls: HlsObservation, case_record: CaseRecord) -> None:
    indexes: list[tuple[int, int]] = []  # (discontinuity number, frame index)
    for segment in sorted(hls.analysed(), key=lambda s: s.sequence):
        assert segment.media is not None
        indexes.extend((segment.discontinuity_number, s.frame_index) for s in segment.media.stamps)
    if not indexes:
        not_applicable("no frame carries a camsim stamp")
    lost = gaps = 0
    for (run_a, a), (run_b, b) in itertools.pairwise(indexes):
        if run_a == run_b and b > a + 1:
            lost += b - a - 1
            gaps += 1
    case_record.measure("frames seen", len(indexes))
    case_record.measure("frames lost", lost)
    case_record.measure("gaps", gaps)
    case_record.summary = f"{lost} frames lost in {gaps} gaps among {len(indexes)} frames"


@case(
    "HLS-M-004",
    "Audio start against video start in each segment",
    level=INFO,
    spec=[rfc8216("3")],
)
def test_av_offset(hls: HlsObservation, case_record: CaseRecord) -> None:
    offsets: list[tuple[int, float]] = []
    for segment in hls.analysed():
        assert segment.media is not None
        video = segment.media.track("video")
        audio = segment.media.track("audio")
        if video is not None and audio is not None:
            offsets.append((segment.sequence, audio.first_pts - video.first_pts))
    if not offsets:
        not_applicable("no segment with both audio and video")
    values = [offset for _, offset in offsets]
    case_record.measure("median", round(statistics.median(values) * 1000, 1), "ms")
    case_record.measure("largest", round(max(values, key=abs) * 1000, 1), "ms")
    case_record.summary = (
        f"audio starts {statistics.median(values) * 1000:+.1f} ms from video (median), "
        f"{max(values, key=abs) * 1000:+.1f} ms at most"
    )

    case_record.chart(
        "Audio start minus video start per segment",
        ChartKind.LINE,
        [Series("offset", tuple(v * 1000 for v in values), tuple(n for n, _ in offsets))],
        x_label="media sequence number",
        y_label="milliseconds",
    )
