from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fuzz.registry import cpu_limit
from wire.codec.bits import escape_rbsp
from wire.codec.errors import CodecError
from wire.codec.nal import (
    VideoCodec,
    join_annexb,
    join_length_prefixed,
    nal_type,
)
from wire.codec.stamp import (
    MAX_FRAME_INDEX,
    MAX_WALLCLOCK_US,
    SEI_PAYLOAD_SIZE,
    SEI_USER_DATA_UNREGISTERED,
    STAMP_UUID,
    SeiMessage,
    Stamp,
    find_stamp,
    parse_sei,
    read_stamp_annexb,
    read_stamp_length_prefixed,
    read_stamp_nalus,
    stamp_sei_nal,
    write_frame_index,
    write_wallclock,
)

frame_indexes = st.integers(0, MAX_FRAME_INDEX)
wallclocks = st.integers(0, MAX_WALLCLOCK_US)
codecs = st.sampled_from(list(VideoCodec))

# A slice NAL unit of each codec to stand beside the SEI (content irrelevant to the reader).
SLICE = {VideoCodec.H264: b"\x65\x88\x84\x00\x33", VideoCodec.H265: b"\x26\x01\xaf\x00\x10"}


def test_h264_sei_nal_layout() -> None:
    nal = stamp_sei_nal(VideoCodec.H264, frame_index=5, wallclock_us=0)
    assert len(nal) == 36
    assert nal[:3] == bytes([0x06, SEI_USER_DATA_UNREGISTERED, SEI_PAYLOAD_SIZE])
    assert nal[3:19] == STAMP_UUID
    assert nal[19] == 0x81  # version 1
    assert nal[20:25] == b"\x80\x80\x80\x80\x85"  # frame index 5 in 7-bit groups
    assert nal[25:35] == b"\x80" * 10  # wallclock 0 = not stamped
    assert nal[-1] == 0x80  # rbsp_trailing_bits


def test_h265_sei_nal_is_prefix_sei() -> None:
    nal = stamp_sei_nal(VideoCodec.H265, frame_index=1)
    assert len(nal) == 37
    assert nal_type(VideoCodec.H265, nal) == 39
    assert nal[1] == 0x01  # layer 0, temporal id plus1 = 1


@given(codecs, frame_indexes, wallclocks)
def test_stamp_never_needs_emulation_prevention(
    codec: VideoCodec, index: int, wallclock: int
) -> None:
    nal = stamp_sei_nal(codec, index, wallclock)
    assert escape_rbsp(nal) == nal
    assert 0 not in nal


@given(codecs, frame_indexes, wallclocks)
def test_round_trip_through_every_framing(codec: VideoCodec, index: int, wallclock: int) -> None:
    nalus = [stamp_sei_nal(codec, index, wallclock), SLICE[codec]]
    expected = Stamp(index, wallclock)
    assert read_stamp_nalus(codec, nalus) == expected
    assert read_stamp_annexb(codec, join_annexb(nalus)) == expected
    assert read_stamp_length_prefixed(codec, join_length_prefixed(nalus)) == expected
    assert read_stamp_length_prefixed(codec, join_length_prefixed(nalus, 2), 2) == expected


@given(codecs, frame_indexes, wallclocks, wallclocks)
def test_wallclock_rewritten_in_place_without_changing_size(
    codec: VideoCodec, index: int, before: int, after: int
) -> None:
    sample = bytearray(join_length_prefixed([stamp_sei_nal(codec, index, before), SLICE[codec]]))
    size = len(sample)
    offset = find_stamp(sample)
    assert offset >= 0
    write_wallclock(sample, offset, after)
    assert len(sample) == size
    assert read_stamp_length_prefixed(codec, bytes(sample)) == Stamp(index, after)
    write_frame_index(sample, offset, 7)
    assert Stamp.parse(sample, offset) == Stamp(7, after)


def test_stamped_property() -> None:
    assert not Stamp(3).stamped
    assert Stamp(3, 1_700_000_000_000_000).stamped


def test_values_out_of_range_are_refused() -> None:
    with pytest.raises(ValueError, match="frame_index=-1 does not fit in 35 bits"):
        Stamp(-1).serialize()
    with pytest.raises(ValueError, match=r"wallclock_us=\d+ does not fit in 70 bits"):
        Stamp(0, MAX_WALLCLOCK_US + 1).serialize()


def test_sei_with_several_messages_and_ff_coded_sizes() -> None:
    # A 300-byte payload of type 5 needs payloadSize coded as 0xFF 0x2D, then our stamp follows.
    other = bytes(range(1, 256)) + bytes(range(1, 46))
    stamp = Stamp(9, 42).serialize()
    rbsp = bytes([5, 0xFF, 300 - 255]) + other + bytes([5, len(stamp)]) + stamp + b"\x80"
    nal = b"\x06" + escape_rbsp(rbsp)
    messages = parse_sei(VideoCodec.H264, nal)
    assert [(m.payload_type, len(m.payload)) for m in messages] == [(5, 300), (5, 32)]
    assert read_stamp_nalus(VideoCodec.H264, [nal]) == Stamp(9, 42)


def test_an_sei_of_many_empty_messages_is_split_in_linear_time() -> None:
    # Found by fuzzing: the rest of the RBSP was sliced and compared with the trailing bits for
    # every message, O(n^2): 1.75 s for 512 kB of empty messages.
    count = 512 * 1024
    nal = b"\x06" + bytes([1, 0]) * count + b"\x80"
    with cpu_limit(3.0):
        messages = parse_sei(VideoCodec.H264, nal)
    assert len(messages) == count
    assert messages[-1] == SeiMessage(1, b"")
    # The trailing bits end the messages only as the last byte; inside a payload they are data.
    assert parse_sei(VideoCodec.H264, b"\x06\x05\x01\x80") == [SeiMessage(5, b"\x80")]
    assert parse_sei(VideoCodec.H264, b"\x06\x05\x01\x80\x80") == [SeiMessage(5, b"\x80")]


def test_other_user_data_is_not_a_stamp() -> None:
    foreign = b"\x06\x05\x14" + bytes(range(1, 21)) + b"\x80"  # x264's own version SEI shape
    assert read_stamp_nalus(VideoCodec.H264, [foreign, SLICE[VideoCodec.H264]]) is None


def test_truncated_sei_is_reported_precisely() -> None:
    nal = stamp_sei_nal(VideoCodec.H264, 1)
    with pytest.raises(CodecError, match=r"^SEI: payload of type 5 declares 32 bytes, 20 left$"):
        parse_sei(VideoCodec.H264, nal[:23])
    with pytest.raises(CodecError, match=r"^SEI: truncated while reading payloadSize$"):
        parse_sei(VideoCodec.H264, b"\x06\x05")


def test_corrupted_stamp_is_reported() -> None:
    payload = bytearray(Stamp(1, 2).serialize())
    payload[16] = 0x82
    with pytest.raises(CodecError, match=r"^stamp: unsupported version byte 0x82$"):
        Stamp.parse(payload)
    payload[16] = 0x81
    payload[20] = 0x05
    with pytest.raises(CodecError, match=r"^stamp: byte 0x05 lacks the marker bit$"):
        Stamp.parse(payload)
    with pytest.raises(CodecError, match=r"^stamp: 31 bytes, need 32"):
        Stamp.parse(payload[:31])


def test_parse_sei_rejects_non_sei() -> None:
    with pytest.raises(CodecError, match="NAL unit type 5 is not SEI"):
        parse_sei(VideoCodec.H264, SLICE[VideoCodec.H264])


def test_find_stamp_ignores_a_uuid_cut_short() -> None:
    assert find_stamp(b"xx" + STAMP_UUID + b"\x81") == -1
    assert find_stamp(b"no stamp here") == -1


@settings(max_examples=300)
@given(codecs, st.binary(max_size=80))
def test_any_sei_bytes_give_messages_or_codec_error(codec: VideoCodec, body: bytes) -> None:
    header = b"\x06" if codec is VideoCodec.H264 else b"\x4e\x01"
    with contextlib.suppress(CodecError):
        read_stamp_nalus(codec, [header + body])
