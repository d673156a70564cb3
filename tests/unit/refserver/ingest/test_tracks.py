"""FLV tag bodies to packager configurations and frames."""

from __future__ import annotations

import contextlib
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from camsim.encoder.flv_source import FlvFrame, FlvPlan
from camsim.media.loader import load
from refserver.hls import FrameKind
from refserver.ingest.tracks import FlvTracks, IngestError
from tests.conftest import SampleFactory
from wire import flv
from wire.codec.nal import VideoCodec
from wire.codec.stamp import write_wallclock
from wire.rtp import TimestampUnwrapper


@pytest.fixture(scope="module")
def plan(make_test_sample: SampleFactory) -> FlvPlan:
    return FlvPlan.build(load(make_test_sample(gop_seconds=Fraction(1))))


@pytest.fixture(scope="module")
def hevc_plan(make_test_sample: SampleFactory) -> FlvPlan:
    sample = make_test_sample(codec=VideoCodec.H265, gop_seconds=Fraction(1))
    return FlvPlan.build(load(sample), enhanced=True)


def first_video(plan: FlvPlan, keyframe: bool) -> FlvFrame:
    return next(
        f for f in plan.frames if f.type_id == flv.TAG_TYPE_VIDEO and f.keyframe is keyframe
    )


def test_avc_sequence_header_then_frames(plan: FlvPlan):
    tracks = FlvTracks()
    assert tracks.video_tag(0, plan.video_header) is None
    assert tracks.changed
    assert tracks.video is not None
    assert tracks.video.codec is VideoCodec.H264
    record = flv.VideoTag.parse(plan.video_header).data
    assert [nal[0] & 0x1F for nal in tracks.video.parameter_sets] == [7, 8]
    assert all(nal in record for nal in tracks.video.parameter_sets)

    key = first_video(plan, keyframe=True)
    body = bytearray(key.body)
    write_wallclock(body, key.stamp_at, 1_700_000_000_123_456)
    frame = tracks.video_tag(1000, bytes(body))
    assert frame is not None
    assert frame.kind is FrameKind.VIDEO
    assert frame.keyframe
    tag = flv.VideoTag.parse(bytes(body))
    assert (frame.dts, frame.pts) == (90_000, 90_000 + 90 * tag.composition_time)
    assert frame.wallclock_us == 1_700_000_000_123_456
    assert b"".join(len(n).to_bytes(4, "big") + n for n in frame.nalus) == tag.data

    inter = tracks.video_tag(1066, bytes(first_video(plan, keyframe=False).body))
    assert inter is not None
    assert not inter.keyframe
    assert inter.wallclock_us is None  # the plan's stamps are not written yet


def test_keyframe_is_taken_from_the_bitstream_not_the_tag(plan: FlvPlan):
    tracks = FlvTracks()
    tracks.video_tag(0, plan.video_header)
    inter = flv.VideoTag.parse(bytes(first_video(plan, keyframe=False).body))
    lying = flv.VideoTag(
        flv.VideoFrameType.KEY, inter.packet_type, inter.data, inter.composition_time, 7
    )
    frame = tracks.video_tag(0, lying.serialize())
    assert frame is not None
    assert not frame.keyframe


def test_enhanced_hevc(hevc_plan: FlvPlan):
    tracks = FlvTracks()
    tracks.video_tag(0, hevc_plan.video_header)
    assert tracks.video is not None
    assert tracks.video.codec is VideoCodec.H265
    assert [(nal[0] >> 1) & 0x3F for nal in tracks.video.parameter_sets] == [32, 33, 34]
    frame = tracks.video_tag(0, bytes(first_video(hevc_plan, keyframe=True).body))
    assert frame is not None
    assert frame.keyframe


def test_aac(plan: FlvPlan):
    tracks = FlvTracks()
    assert plan.audio_header is not None
    assert tracks.audio_tag(0, plan.audio_header) is None
    assert tracks.audio is not None
    assert tracks.audio.asc.sample_rate == 48_000
    raw = next(f for f in plan.frames if f.type_id == flv.TAG_TYPE_AUDIO)
    frame = tracks.audio_tag(21, bytes(raw.body))
    assert frame is not None
    assert (frame.kind, frame.pts, frame.data) == (FrameKind.AUDIO, 21 * 90, bytes(raw.body[2:]))


def test_frames_before_their_sequence_header_are_skipped(plan: FlvPlan):
    tracks = FlvTracks()
    assert tracks.video_tag(0, bytes(first_video(plan, keyframe=True).body)) is None
    raw = next(f for f in plan.frames if f.type_id == flv.TAG_TYPE_AUDIO)
    assert tracks.audio_tag(0, bytes(raw.body)) is None
    assert not tracks.changed


def test_unsupported_codecs_are_reported_and_skipped():
    tracks = FlvTracks()
    assert tracks.video_tag(0, bytes([0x12]) + b"\x00" * 8) is None  # Sorenson H.263
    assert tracks.audio_tag(0, bytes([0x2F]) + b"\x00" * 8) is None  # MP3
    vp9 = flv.VideoTag(1, flv.VideoPacketType.CODED_FRAMES, b"\x00", fourcc="vp09")
    assert tracks.video_tag(0, vp9.serialize()) is None
    assert tracks.unsupported == {"video CodecID 2", "audio SoundFormat 2", "video vp09"}


@pytest.mark.parametrize(
    ("video", "body", "message"),
    [
        (True, b"", "video tag: empty"),
        (True, b"\x17\x01\x00", "video tag: truncated AVC header, need 5 bytes, have 3"),
        (True, b"\x17\x00\x00\x00\x00\x01", "video sequence header: "),
        (False, b"\xaf", "audio tag: truncated AAC header, need 2 bytes, have 1"),
        (False, b"\xaf\x00", "audio tag: "),
    ],
)
def test_unreadable_tags(video: bool, body: bytes, message: str):
    tracks = FlvTracks()
    read = tracks.video_tag if video else tracks.audio_tag
    with pytest.raises(IngestError) as caught:
        read(0, body)
    assert str(caught.value).startswith(message)


def test_unreadable_coded_frame(plan: FlvPlan):
    tracks = FlvTracks()
    tracks.video_tag(0, plan.video_header)
    with pytest.raises(IngestError, match=r"^video tag: "):
        tracks.video_tag(0, b"\x27\x01\x00\x00\x00\x00\x00\x01\x00")  # NAL length past the end


def test_a_nal_unit_shorter_than_the_hevc_header_is_unreadable(hevc_plan: FlvPlan):
    tracks = FlvTracks()
    tracks.video_tag(0, hevc_plan.video_header)
    body = b"\x91hvc1\x00\x00\x00" + b"\x00\x00\x00\x01\x26"  # a 1-byte NAL unit
    with pytest.raises(IngestError, match=r"^video tag: H.265 NAL unit: shorter than its 2-byte"):
        tracks.video_tag(0, body)


def test_timestamps_unwrap_at_2_to_the_32():
    unwrap = TimestampUnwrapper().unwrap
    assert unwrap(0xFFFF_FFF0) == 0xFFFF_FFF0
    assert unwrap(0x10) == (1 << 32) + 0x10
    assert unwrap(0xFFFF_FFFF) == 0xFFFF_FFFF  # a late message from before the wrap
    assert unwrap(0x20) == (1 << 32) + 0x20


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64), st.booleans())
def test_any_bytes_give_a_frame_none_or_ingest_error(body: bytes, video: bool):
    tracks = FlvTracks()
    try:
        if video:
            tracks.video_tag(0, body)
        else:
            tracks.audio_tag(0, body)
    except IngestError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64), st.booleans(), st.booleans())
def test_any_coded_frame_gives_a_frame_none_or_ingest_error(
    plan: FlvPlan, hevc_plan: FlvPlan, body: bytes, hevc: bool, enhanced: bool
):
    """Past a sequence header, whatever follows a coded-frame header."""
    tracks = FlvTracks()
    tracks.video_tag(0, (hevc_plan if hevc else plan).video_header)
    if enhanced:
        header = b"\x91" + (b"hvc1" if hevc else b"avc1") + b"\x00\x00\x00"
    else:
        header = (b"\x1c" if hevc else b"\x17") + b"\x01\x00\x00\x00"
    with contextlib.suppress(IngestError):
        tracks.video_tag(0, header + body)
