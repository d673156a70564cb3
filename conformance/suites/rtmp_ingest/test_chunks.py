"""Chunk sizes (RTMP 1.0 §5.3.1, §5.4.1): the default of 128, the largest encoders use, and
changes between messages. Each is published as a stream of its own; with ``--hls``, every frame
of every complete group of pictures must reach the output, in order, with its timing."""

from __future__ import annotations

from conformance.case import REQUIRED, CaseRecord, case, fail
from conformance.rtmp.judge import stream_findings
from conformance.rtmp.observation import IngestObservation, PushedStream
from conformance.spec import adobe_rtmp


def judge(stream: PushedStream | None, what: str, record: CaseRecord) -> None:
    details = stream_findings(stream, what)
    if details:
        fail(f"{what} was not carried through", details)
    assert stream is not None
    frames = len(stream.complete_gops())
    record.measure("frames judged", frames)
    record.summary = (
        f"{frames} frames followed into HLS"
        if stream.hls is not None
        else "accepted and kept (judged at the RTMP level only: no --hls)"
    )


@case(
    "RTMP-CHUNK-001",
    "Media in chunks of the default 128 bytes (no Set Chunk Size) is taken in",
    level=REQUIRED,
    spec=[adobe_rtmp("5.3.1"), adobe_rtmp("5.4.1")],
)
def test_default_chunk_size(ingest: IngestObservation, case_record: CaseRecord) -> None:
    judge(ingest.streams.get("chunk128"), "a stream in 128-byte chunks", case_record)


@case(
    "RTMP-CHUNK-002",
    "Media in chunks of 65536 bytes is taken in",
    level=REQUIRED,
    spec=[adobe_rtmp("5.4.1")],
)
def test_large_chunk_size(ingest: IngestObservation, case_record: CaseRecord) -> None:
    judge(ingest.streams.get("chunk65536"), "a stream in 65536-byte chunks", case_record)


@case(
    "RTMP-CHUNK-003",
    "A chunk size changed mid-stream (4096, 128, 32768, 1400, 4096) applies from the next "
    "message on",
    level=REQUIRED,
    spec=[adobe_rtmp("5.4.1")],
)
def test_chunk_size_changes(ingest: IngestObservation, case_record: CaseRecord) -> None:
    judge(ingest.streams.get("chunkchange"), "a stream changing its chunk size", case_record)
