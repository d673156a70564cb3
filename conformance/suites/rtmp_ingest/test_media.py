"""The media an encoder sends: legacy FLV AVC and AAC, Enhanced RTMP HEVC, and metadata."""

from __future__ import annotations

from conformance.case import RECOMMENDED, REQUIRED, CaseRecord, case, fail, not_applicable
from conformance.rtmp.follower import FollowedStream
from conformance.rtmp.judge import connection_findings, frame_findings, hls_problem, stream_findings
from conformance.rtmp.observation import IngestObservation, PushedStream
from conformance.spec import adobe_flv, adobe_rtmp, enhanced_rtmp
from reports.model import Detail
from wire.codec.nal import VideoCodec


def _followed(stream: PushedStream | None, what: str) -> tuple[PushedStream, FollowedStream]:
    if stream is None:
        fail(f"{what} was not published")
    details = connection_findings(stream, what)
    if details:
        fail(f"{what} was not taken in", details)
    if stream.hls is None:
        not_applicable("no --hls: whether the codec is understood shows only in the output")
    problem = hls_problem(stream.hls)
    if problem:
        fail(f"{what}: {problem}")
    return stream, stream.hls


def _codecs(hls: FollowedStream) -> tuple[set[str], set[str], set[int]]:
    video: set[str] = set()
    audio: set[str] = set()
    rates: set[int] = set()
    for segment in hls.segments:
        content = segment.content
        if content is None:
            continue
        if content.video_codec is not None:
            video.add(str(content.video_codec))
        if content.audio_frames:
            audio.add(content.audio_codec or "?")
            rates.add(content.audio_sample_rate)
    return video, audio, rates


@case(
    "RTMP-MEDIA-001",
    "Legacy FLV H.264 (CodecID 7) and AAC (SoundFormat 10) come out as H.264 video and AAC audio",
    level=REQUIRED,
    spec=[adobe_flv("E.4.2.1"), adobe_flv("E.4.3.1"), adobe_rtmp("7.1.4"), adobe_rtmp("7.1.5")],
)
def test_legacy_avc_aac(ingest: IngestObservation, case_record: CaseRecord) -> None:
    if not ingest.follows_hls:
        not_applicable("no --hls: whether the codecs are understood shows only in the output")
    _, hls = _followed(ingest.streams.get("main"), "the main stream")
    video, audio, rates = _codecs(hls)
    details = []
    if video != {str(VideoCodec.H264)}:
        details.append(Detail(f"video in the output: {', '.join(sorted(video)) or 'none'}"))
    if not audio:
        details.append(Detail("no audio in the output"))
    elif not all(codec.startswith("mp4a.40") for codec in audio):
        details.append(Detail(f"audio in the output: {', '.join(sorted(audio))}"))
    if details:
        fail("the H.264 and AAC pushed did not both come out", details)
    case_record.summary = f"video {', '.join(video)}, audio {', '.join(sorted(audio))}"
    case_record.measure("audio sample rate", ", ".join(str(r) for r in sorted(rates)), "Hz")


@case(
    "RTMP-MEDIA-002",
    "Enhanced RTMP HEVC (hvc1) comes out as H.265, every frame",
    level=RECOMMENDED,
    spec=[enhanced_rtmp("ExVideoTagHeader"), enhanced_rtmp("connect fourCcList")],
)
def test_enhanced_hevc(ingest: IngestObservation, case_record: CaseRecord) -> None:
    if not ingest.follows_hls:
        not_applicable("no --hls: whether HEVC is understood shows only in the output")
    stream = ingest.streams.get("hevc")
    if stream is None:
        not_applicable("no HEVC sample could be made: " + "; ".join(ingest.notes))
    _, hls = _followed(stream, "the Enhanced RTMP HEVC stream")
    video, _, _ = _codecs(hls)
    if str(VideoCodec.H265) not in video:
        fail(
            "the HEVC video pushed with Enhanced RTMP did not come out: the server does not "
            "support Enhanced RTMP HEVC",
            [Detail(f"video in the output: {', '.join(sorted(video)) or 'none'}", hls.url)],
        )
    details = frame_findings(stream.complete_gops(), hls)
    if details:
        fail("HEVC frames went missing or out of order", details)
    case_record.summary = f"{len(stream.complete_gops())} HEVC frames followed into HLS"


@case(
    "RTMP-MEDIA-003",
    "Metadata in every form encoders send (@setDataFrame, bare onMetaData, updates, "
    "onTextData, onCuePoint) is taken without disturbing the stream",
    level=REQUIRED,
    spec=[adobe_rtmp("7.1.2"), adobe_flv("E.5")],
)
def test_metadata(ingest: IngestObservation, case_record: CaseRecord) -> None:
    stream = ingest.streams.get("meta")
    details = stream_findings(stream, "a stream with metadata in every form")
    if details:
        fail("metadata disturbed the stream", details)
    assert stream is not None
    case_record.summary = (
        "kept, every frame followed into HLS" if stream.hls is not None else "kept (no --hls)"
    )
