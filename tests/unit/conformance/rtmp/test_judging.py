"""The rtmp-ingest suite's pieces without a network: frames read from real segments
(refserver's writers over the test sample), the frame and timing judges, and cases judging
hand-made observations."""

from __future__ import annotations

import itertools
from fractions import Fraction

import pytest

from conformance.case import CaseFailure, CaseRecord
from conformance.rtmp.follower import FollowedSegment, FollowedStream, PlaylistState
from conformance.rtmp.frames import Frame, SegmentFrames, init_info, segment_frames
from conformance.rtmp.judge import frame_findings, ranges, stream_findings, timing_findings
from conformance.rtmp.observation import AckRecord, IngestObservation, PushedFrame, PushedStream
from conformance.rtmp.probe import ProbeLog
from conformance.suites.rtmp_ingest import test_control, test_publish
from tests.conftest import SampleFactory
from tests.integration.conformance.mutant_media import Source, write_segments
from wire.codec.nal import VideoCodec

FRAME_MS = 66  # 15 fps, as RTMP timestamps round it


@pytest.fixture(scope="module")
def source(make_test_sample: SampleFactory) -> Source:
    return Source.load(make_test_sample(gop_seconds=Fraction(1)), loops=1)


@pytest.mark.parametrize("fmp4", [False, True], ids=["ts", "fmp4"])
def test_frames_of_real_segments(source: Source, fmp4: bool) -> None:
    init, segments = write_segments(source, fmp4)
    info = init_info(init) if fmp4 else None
    frames = [f for s in segments for f in segment_frames(s.data, info).frames]
    content = segment_frames(segments[0].data, info)
    assert content.error == ""
    assert content.video_codec is VideoCodec.H264
    assert content.audio_frames > 0
    assert content.audio_codec.startswith("mp4a.40")
    assert frames[0].keyframe
    assert [f.index for f in frames] == list(range(len(frames)))
    steps = {round((b.dts - a.dts) * 15, 3) for a, b in itertools.pairwise(frames)}
    assert steps == {1.0}
    assert all(f.pts >= f.dts for f in frames)


def test_garbage_is_an_error_not_an_exception() -> None:
    assert segment_frames(b"\x00" * 400).error.startswith("neither MPEG-TS nor fMP4")
    assert "init section" in segment_frames(b"\x00\x00\x00\x08moof").error


def test_ranges() -> None:
    assert ranges([1, 2, 3, 7, 9, 10]) == "1-3, 7, 9-10"


def _pushed(count: int, *, start: int = 0, gop: int = 15) -> list[PushedFrame]:
    return [PushedFrame(start + i, i * FRAME_MS, i % gop == 0) for i in range(count)]


def _hls(*segments: list[tuple[int, float]], discontinuity_at: int | None = None) -> FollowedStream:
    """A followed stream of segments holding (frame index, decode time) pairs."""
    stream = FollowedStream("http://127.0.0.1:9/x.m3u8")
    stream.reloads.append(PlaylistState(0.0, 200, segments=len(segments), target_duration=1))
    number = 0
    for sequence, frames in enumerate(segments):
        if sequence == discontinuity_at:
            number += 1
        record = FollowedSegment(
            f"http://127.0.0.1:9/s{sequence}.ts",
            sequence,
            sequence == discontinuity_at,
            number,
            1.0,
            0.0,
            0.0,
            1,
        )
        record.content = SegmentFrames(
            "ts", [Frame(i, 0, t, t, False) for i, t in frames], VideoCodec.H264
        )
        stream.segments.append(record)
    return stream


def _segment(indexes: range, shift: float = 0.0) -> list[tuple[int, float]]:
    return [(i, i * FRAME_MS / 1000 + shift) for i in indexes]


def test_frame_findings_missing_duplicated_and_out_of_order() -> None:
    pushed = _pushed(30)
    assert frame_findings(pushed, _hls(_segment(range(15)), _segment(range(15, 30)))) == []
    missing = frame_findings(pushed, _hls(_segment(range(15)), _segment(range(17, 30))))
    assert missing[0].message == "2 of 30 frames pushed never appeared: frame indexes 15-16"
    twice = _hls(_segment(range(16)), _segment(range(15, 30)))
    assert [d.message for d in frame_findings(pushed, twice)] == ["frame 15 appears 2 times"]
    swapped = _segment(range(15, 30))
    swapped[3], swapped[4] = swapped[4], swapped[3]
    order = frame_findings(pushed, _hls(_segment(range(15)), swapped))
    assert [d.message for d in order] == ["frame 18 comes after frame 19"]


def test_timing_findings() -> None:
    pushed = _pushed(30)
    assert timing_findings(pushed, _hls(_segment(range(15)), _segment(range(15, 30)))) == []
    moved = _segment(range(15, 30))
    moved[5] = (20, moved[5][1] + 0.010)
    details = timing_findings(pushed, _hls(_segment(range(15)), moved))
    assert [d.message for d in details] == [
        "frames 19 and 20: 66 ms apart in RTMP, 76.0 ms apart in HLS",
        "frames 20 and 21: 66 ms apart in RTMP, 56.0 ms apart in HLS",
    ]
    # Timestamps may start again after a discontinuity.
    again = _hls(_segment(range(15)), _segment(range(15, 30), shift=-5.0), discontinuity_at=1)
    assert timing_findings(pushed, again) == []


def test_stream_findings_judge_complete_gops_only() -> None:
    stream = PushedStream("chunk128", "x-chunk128", "a stream", _pushed(40), published=True)
    # Frames 30-39, the last group of pictures, may still be on their way.
    stream.hls = _hls(_segment(range(15)), _segment(range(15, 30)))
    assert stream_findings(stream, "a stream") == []
    stream.error = "the server closed the connection mid-stream"
    assert "ended before the suite unpublished" in stream_findings(stream, "a stream")[0].message
    refused = PushedStream("x", "x", "a stream", refusal="NetStream.Publish.Denied: no")
    assert "not accepted: NetStream.Publish.Denied" in stream_findings(refused, "it")[0].message


def _observation() -> IngestObservation:
    return IngestObservation("rtmp://127.0.0.1:9/live", "http://127.0.0.1:9/{name}.m3u8", None)


def _ack(acks: list[int], pushed: int, server_window: int = 2_500_000) -> IngestObservation:
    record = AckRecord(ProbeLog("ack"), 256 * 1024, server_window, pushed=pushed, published=True)
    record.sent_marks = [(float(n), n * 65536) for n in range(pushed // 65536 + 2)]
    record.acks = [(float(seq // 65536 + 1), seq) for seq in acks]
    observation = _observation()
    observation.ack = record
    return observation


def _passes(case: object, *args: object) -> bool:
    try:
        case(*args)  # type: ignore[operator]
    except CaseFailure:
        return False
    return True


def test_acknowledgements_by_the_client_window_pass_both() -> None:
    client = _ack(list(range(262_144, 5_000_000, 262_144)), 5_000_000)
    assert _passes(test_control.test_acknowledges, client, CaseRecord("a"))
    assert _passes(test_control.test_client_window, client, CaseRecord("b"))


def test_acknowledgements_by_the_server_window_fail_the_recommended_case_only() -> None:
    own = _ack([2_500_000], 4_000_000)
    assert _passes(test_control.test_acknowledges, own, CaseRecord("a"))
    assert not _passes(test_control.test_client_window, own, CaseRecord("b"))


def test_acknowledgements_a_tls_read_apart_pass() -> None:
    """asyncio's TLS layer hands a server 256 KiB at a time: two reads per acknowledgement
    with a 256 KiB window is as soon as the server could have known."""
    reads = _ack(list(range(2 * 257_000, 5_000_000, 2 * 257_000)), 5_000_000)
    assert _passes(test_control.test_client_window, reads, CaseRecord("b"))


def test_acknowledgement_counting_more_than_was_sent_fails() -> None:
    inflated = _ack([262_144, 9_000_000], 1_000_000)
    with pytest.raises(CaseFailure, match="acknowledgements do not follow") as failure:
        test_control.test_acknowledges(inflated, CaseRecord("a"))
    assert "sequence number 9000000" in str(failure.value)


def _republished(*, tag: bool, sequences: tuple[int, int] = (5, 6)) -> IngestObservation:
    observation = _observation()
    first = PushedStream("repub", "x-repub", "first", _pushed(31), published=True)
    again = PushedStream("repub", "x-repub", "again", _pushed(31, start=1_000_000), published=True)
    hls = _hls(_segment(range(15)), _segment(range(15, 30)))
    before, after = sequences
    for n, indexes in enumerate((range(1_000_000, 1_000_015), range(1_000_015, 1_000_030))):
        record = FollowedSegment(f"r{n}", after + n, tag and n == 0, 1, 1.0, 0.0, 0.0, 2)
        record.content = SegmentFrames(
            "ts", [Frame(i, 0, (i - 1_000_000) * 0.066, 0, False) for i in indexes]
        )
        hls.segments.append(record)
    hls.segments[1].sequence = before
    # Listed while the stream's first segment, with its own tag, was still in the window.
    hls.segments[1].discontinuity_number = 1
    first.hls = again.hls = hls
    observation.streams["repub"] = first
    observation.republish = again
    return observation


def test_republish_after_a_discontinuity_tag_passes() -> None:
    """nginx-rtmp's playlist: EXT-X-DISCONTINUITY before the republished segment, and no
    EXT-X-DISCONTINUITY-SEQUENCE for the tag of the stream's first segment that left, so both
    segments have the same discontinuity number; the tag is what this case judges."""
    assert _passes(test_publish.test_hls_after_republish, _republished(tag=True), CaseRecord("p"))


def test_republish_without_a_discontinuity_tag_fails() -> None:
    with pytest.raises(CaseFailure, match="did not carry the stream across") as failure:
        test_publish.test_hls_after_republish(_republished(tag=False), CaseRecord("p"))
    assert "without EXT-X-DISCONTINUITY" in str(failure.value)
