"""Extended timestamps (RTMP 1.0 §5.3.1.3): a stream whose timestamps cross 2^24 ms
(4 h 39 min into a stream, or at once for an encoder that starts its clock high)."""

from __future__ import annotations

from conformance.case import REQUIRED, CaseRecord, case, fail
from conformance.rtmp.judge import stream_findings
from conformance.rtmp.observation import IngestObservation
from conformance.spec import adobe_rtmp
from reports.model import Detail

BOUNDARY = 1 << 24


@case(
    "RTMP-TS-001",
    "Timestamps across 2^24 ms (extended timestamps) keep the stream whole and in time",
    level=REQUIRED,
    spec=[adobe_rtmp("5.3.1.3")],
)
def test_extended_timestamps(ingest: IngestObservation, case_record: CaseRecord) -> None:
    stream = ingest.streams.get("ts24")
    details = stream_findings(stream, "a stream crossing 2^24 ms")
    if details:
        fail("a stream whose timestamps cross 2^24 ms was not carried through", details)
    assert stream is not None
    if stream.hls is not None:
        # Timestamps that run on are no discontinuity; a server that misread the boundary and
        # started again marks one (the stream's first segment may carry one of its own).
        first = min((s.sequence for s in stream.hls.segments), default=0)
        marked = [s for s in stream.hls.segments if s.discontinuity and s.sequence > first]
        if marked:
            fail(
                "the HLS output has a discontinuity where the timestamps crossed 2^24 ms",
                [Detail("EXT-X-DISCONTINUITY", f"segment {s.sequence}") for s in marked],
            )
    crossed = [f for f in stream.frames if f.timestamp >= BOUNDARY]
    if not crossed:
        fail(
            f"the stream ended before its timestamps reached 2^24 ({len(stream.frames)} "
            "frames pushed), so the boundary was not tested"
        )
    case_record.measure("frames past 2^24 ms", len(crossed))
    case_record.summary = f"{len(crossed)} frames past 2^24 ms" + (
        " followed into HLS" if stream.hls is not None else " accepted (no --hls)"
    )
