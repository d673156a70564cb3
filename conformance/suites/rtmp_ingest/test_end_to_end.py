"""End to end: every frame of the main stream (camsim's encoder, as FFmpeg publishes) in the
HLS output, in order, with its timing, and how long each took to be listed."""

from __future__ import annotations

import statistics

from conformance.case import INFO, REQUIRED, CaseRecord, case, fail, not_applicable
from conformance.rtmp.judge import (
    connection_findings,
    frame_findings,
    hls_problem,
    seen_frames,
    timing_findings,
)
from conformance.rtmp.observation import IngestObservation, PushedStream
from conformance.spec import adobe_rtmp, rfc8216
from reports.model import ChartKind, Series, SpecRef

STAMP_SPEC = SpecRef("camsim per-frame stamp", "README: The per-frame stamp")


def _main(ingest: IngestObservation) -> PushedStream:
    if not ingest.follows_hls:
        not_applicable("no --hls: where the output is is not known")
    stream = ingest.streams.get("main")
    if stream is None:
        fail("the main stream was not published")
    details = connection_findings(stream, "the main stream")
    if details:
        fail("the main stream was not taken in", details)
    problem = hls_problem(stream.hls)
    if problem:
        fail(f"the main stream: {problem}")
    return stream


@case(
    "RTMP-E2E-001",
    "Every frame pushed appears in the HLS output, once, in order",
    level=REQUIRED,
    spec=[STAMP_SPEC, adobe_rtmp("7.1.5"), rfc8216("3")],
)
def test_every_frame(ingest: IngestObservation, case_record: CaseRecord) -> None:
    stream = _main(ingest)
    assert stream.hls is not None
    details = frame_findings(stream.frames, stream.hls)
    case_record.measure("frames pushed", len(stream.frames))
    if details:
        fail(
            f"of {len(stream.frames)} frames pushed (including those just before the "
            "unpublish), not all came out once and in order",
            details,
        )
    case_record.summary = f"{len(stream.frames)} frames, all in order"


@case(
    "RTMP-E2E-002",
    "Frames keep their timing: intervals in HLS equal those of their RTMP timestamps",
    level=REQUIRED,
    spec=[adobe_rtmp("7.1.5"), rfc8216("3")],
)
def test_timing(ingest: IngestObservation, case_record: CaseRecord) -> None:
    stream = _main(ingest)
    assert stream.hls is not None
    details = timing_findings(stream.frames, stream.hls)
    if details:
        fail(f"{len(details)} frame intervals changed between RTMP and HLS", details)
    case_record.summary = "every interval kept within 1.5 ms"


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


@case(
    "RTMP-E2E-003",
    "Latency per frame, from the push (SEI stamp) to the first playlist listing it",
    level=INFO,
    spec=[STAMP_SPEC],
)
def test_latency(ingest: IngestObservation, case_record: CaseRecord) -> None:
    stream = _main(ingest)
    assert stream.hls is not None
    points = []
    for seen in seen_frames(stream.hls):
        if seen.frame.wallclock_us and seen.segment.reload > 0:
            latency = seen.segment.listed_wall - seen.frame.wallclock_us / 1e6
            points.append((seen.frame.index, latency))
    if not points:
        not_applicable("no frame came out with its stamp's wallclock")
    latencies = [latency for _, latency in points]
    for name, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
        case_record.measure(f"latency {name}", round(_quantile(latencies, q), 3), "s")
    case_record.measure("latency max", round(max(latencies), 3), "s")
    case_record.measure("latency mean", round(statistics.fmean(latencies), 3), "s")
    case_record.measure("frames", len(points))
    case_record.summary = (
        f"p50 {_quantile(latencies, 0.5):.3f} s, p95 {_quantile(latencies, 0.95):.3f} s over "
        f"{len(points)} frames"
    )
    case_record.chart(
        "Push-to-playlist latency of each frame",
        ChartKind.LINE,
        [Series("latency", tuple(lat for _, lat in points), tuple(i for i, _ in points))],
        x_label="frame index",
        y_label="seconds from push to the first playlist listing the frame",
    )
    case_record.chart(
        "Push-to-playlist latency distribution",
        ChartKind.HISTOGRAM,
        [Series("frames", tuple(latencies))],
        x_label="seconds",
        y_label="frames",
    )
