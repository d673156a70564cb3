from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wire import amf0, flv
from wire.flv import (
    AudioTag,
    FileHeader,
    FlvError,
    FlvTag,
    ScriptData,
    TagHeader,
    VideoFrameType,
    VideoPacketType,
    VideoTag,
)

AVC_CONFIG = bytes.fromhex("01640028ffe1000a6764002898f0a0f960")


def test_legacy_avc_sequence_header() -> None:
    data = b"\x17\x00\x00\x00\x00" + AVC_CONFIG
    tag = VideoTag.parse(data)
    assert tag == VideoTag(VideoFrameType.KEY, 0, AVC_CONFIG, 0, codec_id=flv.CODEC_ID_AVC)
    assert tag.is_keyframe
    assert tag.is_sequence_header
    assert not tag.enhanced
    assert tag.serialize() == data


def test_legacy_avc_nalus_with_negative_composition_time() -> None:
    data = b"\x27\x01\xff\xff\xd8" + b"\x00\x00\x00\x02\x41\x9a"
    tag = VideoTag.parse(data)
    assert tag.frame_type == VideoFrameType.INTER
    assert tag.packet_type == VideoPacketType.CODED_FRAMES
    assert tag.composition_time == -40
    assert tag.data == b"\x00\x00\x00\x02\x41\x9a"
    assert not tag.is_sequence_header
    assert tag.serialize() == data


def test_legacy_avc_end_of_sequence() -> None:
    tag = VideoTag.parse(b"\x17\x02\x00\x00\x00")
    assert tag.packet_type == VideoPacketType.SEQUENCE_END
    assert tag.data == b""


def test_legacy_community_hevc_uses_the_avc_layout() -> None:
    data = b"\x1c\x01\x00\x00\x21abc"
    tag = VideoTag.parse(data)
    assert (tag.codec_id, tag.packet_type, tag.composition_time) == (12, 1, 0x21)
    assert tag.serialize() == data


def test_legacy_codec_without_packet_type() -> None:
    tag = VideoTag.parse(b"\x12payload")
    assert tag == VideoTag(1, None, b"payload", codec_id=2)
    assert not tag.is_sequence_header
    assert tag.serialize() == b"\x12payload"


@pytest.mark.parametrize(
    ("data", "fourcc", "packet_type", "composition_time", "body"),
    [
        (b"\x90hvc1conf", "hvc1", VideoPacketType.SEQUENCE_START, 0, b"conf"),
        (b"\x91hvc1\x00\x00\x10frame", "hvc1", VideoPacketType.CODED_FRAMES, 16, b"frame"),
        (b"\xa1avc1\xff\xff\xffframe", "avc1", VideoPacketType.CODED_FRAMES, -1, b"frame"),
        (b"\xa3hvc1frame", "hvc1", VideoPacketType.CODED_FRAMES_X, 0, b"frame"),
        (b"\x91av01obus", "av01", VideoPacketType.CODED_FRAMES, 0, b"obus"),
        (b"\x91vp09frame", "vp09", VideoPacketType.CODED_FRAMES, 0, b"frame"),
        (b"\x92av01", "av01", VideoPacketType.SEQUENCE_END, 0, b""),
        (b"\x94hvc1amf", "hvc1", VideoPacketType.METADATA, 0, b"amf"),
        (b"\xd4hvc1amf", "hvc1", VideoPacketType.METADATA, 0, b"amf"),
    ],
)
def test_enhanced_video(
    data: bytes, fourcc: str, packet_type: int, composition_time: int, body: bytes
) -> None:
    tag = VideoTag.parse(data)
    assert tag.enhanced
    assert (tag.fourcc, tag.packet_type, tag.composition_time, tag.data) == (
        fourcc,
        packet_type,
        composition_time,
        body,
    )
    assert tag.codec_id is None
    assert tag.serialize() == data


def test_enhanced_sequence_start_is_a_sequence_header() -> None:
    tag = VideoTag.parse(b"\x90hvc1conf")
    assert tag.is_sequence_header
    assert tag.is_keyframe


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "video tag: empty"),
        (b"\x17\x00\x00", "video tag: truncated AVC header, need 5 bytes, have 3"),
        (b"\x17\x03\x00\x00\x00", "video tag: AVCPacketType 3 is not 0, 1 or 2"),
        (b"\x07\x00\x00\x00\x00", "video tag: frame type 0 is not 1-5"),
        (b"\x97hvc1", "video tag: enhanced VideoPacketType 7 is not supported"),
        (b"\x96hvc1", "video tag: enhanced VideoPacketType 6 is not supported"),
        (b"\xd1\x00", "video tag: enhanced command frames are not supported"),
        (b"\x91hv", "video tag: truncated FourCC, need 5 bytes, have 3"),
        (b"\x91hvc1\x00", "video tag: truncated composition time, need 8 bytes, have 6"),
        (b"\x90\xff\xfe\xfd\xfc", "video tag: FourCC b'\\xff\\xfe\\xfd\\xfc' is not ASCII"),
    ],
)
def test_malformed_video(data: bytes, message: str) -> None:
    with pytest.raises(FlvError) as info:
        VideoTag.parse(data)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("tag", "message"),
    [
        (VideoTag(0, 1, b"", codec_id=7), "video tag: frame type 0 is not 1-5"),
        (
            VideoTag(1, 1, b"", codec_id=7, fourcc="hvc1"),
            "video tag: set either codec_id (legacy) or fourcc (enhanced)",
        ),
        (
            VideoTag(1, None, b"", fourcc="hvc1"),
            "video tag: enhanced tags need a packet type, got None",
        ),
        (
            VideoTag(1, 1, b"", fourcc="hevc1"),
            "video tag: FourCC 'hevc1' is not 4 ASCII characters",
        ),
        (VideoTag(1, 1, b""), "video tag: legacy tags need a 4-bit codec id, got None"),
        (VideoTag(1, 5, b"", codec_id=7), "video tag: AVCPacketType 5 is not 0, 1 or 2"),
        (
            VideoTag(1, 1, b"", 1 << 23, codec_id=7),
            "composition time 8388608 does not fit in a signed 24-bit field",
        ),
    ],
)
def test_unserializable_video(tag: VideoTag, message: str) -> None:
    with pytest.raises(FlvError) as info:
        tag.serialize()
    assert str(info.value) == message


def test_legacy_aac() -> None:
    config = AudioTag.parse(b"\xaf\x00\x11\x90")
    assert config == AudioTag(flv.SOUND_FORMAT_AAC, b"\x11\x90", 3, 1, 1, flv.AAC_SEQUENCE_HEADER)
    assert config.is_sequence_header
    assert config.serialize() == b"\xaf\x00\x11\x90"
    raw = AudioTag.parse(b"\xaf\x01\x21\x00")
    assert raw.packet_type == flv.AAC_RAW
    assert raw.data == b"\x21\x00"
    assert not raw.is_sequence_header


def test_legacy_mp3_mono_8_bit() -> None:
    tag = AudioTag.parse(b"\x2c\xff\xfb")
    assert (tag.sound_format, tag.sound_rate, tag.sound_size, tag.sound_type) == (2, 3, 0, 0)
    assert tag.packet_type is None
    assert tag.serialize() == b"\x2c\xff\xfb"


def test_enhanced_audio() -> None:
    data = b"\x90Opus\x01\x02"
    tag = AudioTag.parse(data)
    assert tag == AudioTag(9, b"\x01\x02", 0, 0, 0, 0, "Opus")
    assert tag.enhanced
    assert tag.is_sequence_header
    assert tag.serialize() == data


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "audio tag: empty"),
        (b"\xaf", "audio tag: truncated AAC header, need 2 bytes, have 1"),
        (b"\xaf\x02", "audio tag: AACPacketType 2 is not 0 or 1"),
        (b"\x95Opus", "audio tag: enhanced AudioPacketType 5 is not supported"),
        (b"\x91Op", "audio tag: truncated FourCC, need 5 bytes, have 3"),
    ],
)
def test_malformed_audio(data: bytes, message: str) -> None:
    with pytest.raises(FlvError) as info:
        AudioTag.parse(data)
    assert str(info.value) == message


def test_script_data_on_metadata() -> None:
    body = amf0.encode("onMetaData", amf0.EcmaArray({"width": 480.0, "height": 288.0}))
    script = ScriptData.parse(body)
    assert script.name == "onMetaData"
    assert not script.set_data_frame
    assert script.metadata == {"width": 480.0, "height": 288.0}
    assert script.serialize() == body
    assert ScriptData.on_metadata({"width": 480.0, "height": 288.0}).serialize() == body


def test_script_data_set_data_frame_form() -> None:
    body = amf0.encode("@setDataFrame", "onMetaData", amf0.EcmaArray({"fps": 25.0}))
    script = ScriptData.parse(body)
    assert script == ScriptData("onMetaData", (amf0.EcmaArray({"fps": 25.0}),), True)
    assert script.metadata == {"fps": 25.0}
    assert script.serialize() == body


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "script data: does not start with a handler name string"),
        (amf0.encode(1.0), "script data: does not start with a handler name string"),
        (
            b"\x02\x00",
            "script data: AMF0 string length: truncated, need 2 bytes at offset 1, have 1",
        ),
    ],
)
def test_malformed_script_data(data: bytes, message: str) -> None:
    with pytest.raises(FlvError) as info:
        ScriptData.parse(data)
    assert str(info.value) == message


def test_parse_body_dispatches_on_tag_type() -> None:
    assert isinstance(flv.parse_body(flv.TAG_TYPE_VIDEO, b"\x17\x01\x00\x00\x00"), VideoTag)
    assert isinstance(flv.parse_body(flv.TAG_TYPE_AUDIO, b"\xaf\x01"), AudioTag)
    assert isinstance(flv.parse_body(flv.TAG_TYPE_SCRIPT_DATA, amf0.encode("x")), ScriptData)
    with pytest.raises(FlvError, match=r"tag type 7 is not audio \(8\), video \(9\) or script"):
        flv.parse_body(7, b"")


def test_file_header() -> None:
    encoded = FileHeader(has_audio=True, has_video=True).serialize()
    assert encoded == b"FLV\x01\x05\x00\x00\x00\x09\x00\x00\x00\x00"
    assert FileHeader.parse(encoded) == (FileHeader(True, True), 13)
    assert FileHeader.parse(b"FLV\x01\x01\x00\x00\x00\x09") == (FileHeader(False, True), 13)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"FLV\x01", "file header: truncated, need 9 bytes, have 4"),
        (b"FLX\x01\x05\x00\x00\x00\x09", "file header: signature b'FLX' is not b'FLV'"),
        (b"FLV\x02\x05\x00\x00\x00\x09", "file header: version 2 is not 1"),
        (b"FLV\x01\x05\x00\x00\x00\x08", "file header: DataOffset 8 is smaller than the header"),
    ],
)
def test_malformed_file_header(data: bytes, message: str) -> None:
    with pytest.raises(FlvError) as info:
        FileHeader.parse(data)
    assert str(info.value) == message


def test_tag_with_extended_timestamp() -> None:
    tag = FlvTag(flv.TAG_TYPE_VIDEO, 0x12345678, b"\x17\x01\x00\x00\x00")
    encoded = tag.serialize()
    assert encoded[:11] == b"\x09\x00\x00\x05\x34\x56\x78\x12\x00\x00\x00"
    assert encoded[-4:] == b"\x00\x00\x00\x10"
    assert FlvTag.parse(encoded) == (tag, len(encoded))
    assert TagHeader.parse(encoded) == TagHeader(9, 5, 0x12345678)


def test_tags_parse_in_sequence_with_trailing_data() -> None:
    first = FlvTag(flv.TAG_TYPE_AUDIO, 0, b"\xaf\x00\x11\x90")
    second = FlvTag(flv.TAG_TYPE_VIDEO, 40, b"\x27\x01\x00\x00\x00")
    data = first.serialize() + second.serialize() + b"\x08"
    tag, offset = FlvTag.parse(data)
    assert tag == first
    assert FlvTag.parse(data, offset) == (second, len(data) - 1)


def test_every_tag_truncation_is_an_flv_error() -> None:
    encoded = FlvTag(flv.TAG_TYPE_AUDIO, 7, b"\xaf\x01\x21").serialize()
    for cut in range(len(encoded)):
        with pytest.raises(FlvError, match="truncated"):
            FlvTag.parse(encoded[:cut])


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x29" + bytes(10), "tag header: encrypted (Filter bit set) tags are not supported"),
        (
            b"\x09\x00\x00\x01" + bytes(7) + b"\x00" + b"\x00\x00\x00\x0b",
            "tag: PreviousTagSize 11 does not match 12",
        ),
    ],
)
def test_malformed_tag(data: bytes, message: str) -> None:
    with pytest.raises(FlvError) as info:
        FlvTag.parse(data)
    assert str(info.value) == message


video_tags = st.one_of(
    st.builds(
        VideoTag,
        st.integers(1, 5),
        st.integers(0, 2),
        st.binary(max_size=16),
        st.integers(-(1 << 23), (1 << 23) - 1),
        codec_id=st.sampled_from([7, 12]),
    ),
    st.builds(
        VideoTag,
        st.integers(1, 4),
        st.sampled_from([0, 2, 3, 4, 5]),
        st.binary(max_size=16),
        fourcc=st.sampled_from(["avc1", "hvc1", "av01", "vp09"]),
    ),
    st.builds(
        VideoTag,
        st.integers(1, 4),
        st.just(1),
        st.binary(max_size=16),
        st.integers(-(1 << 23), (1 << 23) - 1),
        fourcc=st.sampled_from(["avc1", "hvc1"]),
    ),
)


@settings(max_examples=200)
@given(video_tags, st.integers(0, 0xFFFFFFFF))
def test_video_tag_round_trip_through_file_tag(tag: VideoTag, timestamp: int) -> None:
    file_tag = FlvTag(flv.TAG_TYPE_VIDEO, timestamp, tag.serialize())
    parsed, _ = FlvTag.parse(file_tag.serialize())
    assert parsed == file_tag
    assert VideoTag.parse(parsed.data) == tag


@settings(max_examples=500)
@given(st.integers(0, 31), st.binary(max_size=24))
def test_any_body_parses_or_raises_flv_error(tag_type: int, data: bytes) -> None:
    try:
        body = flv.parse_body(tag_type, data)
    except FlvError:
        return
    if not isinstance(body, ScriptData):
        assert type(body).parse(body.serialize()) == body
