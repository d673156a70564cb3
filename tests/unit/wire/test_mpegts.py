from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wire.codec.aac import AdtsHeader, AudioSpecificConfig
from wire.codec.nal import VideoCodec, split_annexb
from wire.ts import (
    PID_AUDIO,
    PID_PMT,
    PID_VIDEO,
    TS_PACKET_SIZE,
    AdaptationField,
    ContinuityError,
    Pat,
    PesPacket,
    Pmt,
    PmtStream,
    TsDemuxer,
    TsError,
    TsMuxer,
    TsPacket,
    crc32_mpeg2,
    demux,
)
from wire.ts.muxer import AUD_NAL, PCR_DELAY
from wire.ts.packet import PCR_PER_90KHZ_TICK
from wire.ts.psi import STREAM_TYPE_ADTS_AAC, STREAM_TYPE_H264, STREAM_TYPE_H265

SPS = bytes.fromhex("6764000cacb40a0fd080000003008000000f078a1550")
PPS = bytes.fromhex("68ef3cb0")
IDR = bytes([0x65]) + bytes(range(1, 200))
SLICE = bytes([0x41]) + bytes(range(1, 100))
SEI = bytes([0x06, 0x05, 0x01, 0x80, 0x80])
VPS265 = bytes([0x40, 0x01, 0x0C])
SPS265 = bytes([0x42, 0x01, 0x01])
PPS265 = bytes([0x44, 0x01, 0xC1])
IDR265 = bytes([0x26, 0x01]) + bytes(range(1, 50))
ASC = AudioSpecificConfig.create(48000, 2)

# FFmpeg's PAT packet: program 1 -> PMT PID 0x1000, CRC 0x2AB104B2.
FFMPEG_PAT = bytes.fromhex("474000100000b00d0001c100000001f0002ab104b2") + b"\xff" * 167


def test_crc32_mpeg2_check_value():
    assert crc32_mpeg2(b"123456789") == 0x0376E6E7


def test_pat_matches_ffmpeg():
    assert TsMuxer(VideoCodec.H264, ASC, (SPS, PPS)).tables()[:TS_PACKET_SIZE] == FFMPEG_PAT
    section = FFMPEG_PAT[5:21]
    assert Pat.parse(section) == Pat({1: PID_PMT})
    assert Pat({1: PID_PMT}).serialize() == section


def test_pmt_round_trip():
    pmt = Pmt(
        1,
        PID_VIDEO,
        (
            PmtStream(STREAM_TYPE_H264, PID_VIDEO),
            PmtStream(STREAM_TYPE_ADTS_AAC, PID_AUDIO, b"\x0a\x04eng\x00"),
        ),
        version=3,
    )
    data = pmt.serialize()
    assert Pmt.parse(data) == pmt
    assert data[:3] == bytes([0x02, 0xB0, len(data) - 3])


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x00\xb0", "PAT: section of 2 bytes is truncated"),
        (bytes.fromhex("02b00d0001c100000001f0002ab104b2"), "PAT: table_id 0x02, expected 0x00"),
        (bytes.fromhex("00b00d0001c100000001f0002ab104b3"), "PAT: CRC_32 mismatch"),
        (
            bytes.fromhex("00b0ff0001c100000001f0002ab104b2"),
            "PAT: section_length 255 does not fit 16 bytes",
        ),
    ],
)
def test_psi_errors(data, message):
    with pytest.raises(TsError) as info:
        Pat.parse(data)
    assert str(info.value) == message


def test_pes_timestamps_exact_bytes():
    pes = PesPacket(0xE0, b"xy", pts=0x1_2345_6789, dts=0x1_2345_0000, data_alignment=True)
    data = pes.serialize()
    assert data[:9] == bytes([0, 0, 1, 0xE0, 0, 15, 0x84, 0xC0, 10])
    assert data[9:14] == bytes([0x39, 0x8D, 0x15, 0xCF, 0x13])
    assert PesPacket.parse(data) == pes
    assert PesPacket(0xC0, b"", pts=0).serialize()[9:14] == bytes([0x21, 0, 1, 0, 1])


def test_pes_wraps_timestamps_at_33_bits():
    parsed = PesPacket.parse(PesPacket(0xE0, b"", pts=(1 << 33) + 5).serialize())
    assert parsed.pts == 5


def test_unbounded_video_pes():
    payload = b"\x00" * 70000
    data = PesPacket(0xE0, payload, pts=1, bounded=True).serialize()
    assert data[4:6] == b"\x00\x00"
    assert PesPacket.parse(data).payload == payload
    with pytest.raises(TsError) as info:
        PesPacket(0xC0, payload, pts=1).serialize()
    assert str(info.value) == "PES: 70008 bytes do not fit PES_packet_length"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x00\x00\x01\xe0", "PES: 4 bytes, shorter than the 6-byte header"),
        (b"\x00\x00\x02\xe0\x00\x00", "PES: start code 000002, expected 000001"),
        (b"\x00\x00\x01\xe0\x00\x09\x80", "PES: PES_packet_length 9 but 1 bytes follow"),
        (
            b"\x00\x00\x01\xe0\x00\x03\x80\x80\x05",
            "PES: PES_header_data_length 5 overruns the packet",
        ),
        (b"\x00\x00\x01\xe0\x00\x03\x80\x40\x00", "PES: PTS_DTS_flags '01' is forbidden"),
        (
            b"\x00\x00\x01\xe0\x00\x03\x40\x00\x00",
            "PES: optional header starts with 0x40, expected '10'",
        ),
        (
            b"\x00\x00\x01\xe0\x00\x05\x80\x80\x02\x21\x00",
            "PES: PTS flagged in a header of 2 bytes",
        ),
    ],
)
def test_pes_errors(data, message):
    with pytest.raises(TsError) as info:
        PesPacket.parse(data)
    assert str(info.value) == message


def test_adaptation_field_round_trip_and_pcr():
    field = AdaptationField(random_access=True, pcr=123_456_789 * 300 + 17, trailer=b"\xff\xff")
    data = field.serialize()
    assert data[:2] == bytes([9, 0x50])
    assert AdaptationField.parse(data) == field
    assert AdaptationField.stuffing(1).serialize() == b"\x00"
    assert AdaptationField.stuffing(3).serialize() == b"\x02\x00\xff"
    assert AdaptationField.parse(b"\x00") == AdaptationField(length_only=True)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x47" * 10, "TS packet 0: 10 bytes, not 188"),
        (b"\x46" + b"\x00" * 187, "TS packet 0: sync byte 0x46, expected 0x47"),
        (
            b"\x47\x01\x00\x00" + b"\x00" * 184,
            "TS packet 0: adaptation_field_control 0 is reserved",
        ),
        (
            b"\x47\x01\x00\x30\xb7" + b"\x00" * 183,
            "TS packet 0: adaptation field of 183 bytes exceeds 182",
        ),
        (
            b"\x47\x01\x00\x30\x01\x10" + b"\x00" * 182,
            "TS packet 0: adaptation field: PCR flag set in a field of 1 bytes",
        ),
    ],
)
def test_ts_packet_errors(data, message):
    with pytest.raises(TsError) as info:
        TsPacket.parse(data)
    assert str(info.value) == message


def test_ts_packet_round_trip():
    packet = TsPacket(
        0x101, 7, b"\xab" * 176, payload_unit_start=True, adaptation=AdaptationField(pcr=300)
    )
    data = packet.serialize()
    assert data[:4] == bytes([0x47, 0x41, 0x01, 0x37])
    assert TsPacket.parse(data) == packet


def _segment(muxer: TsMuxer, start: int) -> bytes:
    out = muxer.tables()
    out += muxer.video_access_unit((SEI, IDR), start + 6000, start, True)
    out += muxer.audio_frame(b"\x21" * 300, start)
    out += muxer.video_access_unit((SLICE,), start + 3000, start + 3000, False)
    return out


def test_muxed_segment_demuxes_with_aud_and_parameter_sets():
    muxer = TsMuxer(VideoCodec.H264, ASC, (SPS, PPS))
    demuxer, packets = demux(_segment(muxer, 90000))
    assert demuxer.first_pids == [0, PID_PMT]
    assert demuxer.stream_types == {PID_VIDEO: STREAM_TYPE_H264, PID_AUDIO: STREAM_TYPE_ADTS_AAC}
    assert demuxer.continuity_errors == []
    idr, audio, slice_ = packets[0], packets[2], packets[1]
    assert idr.pid == PID_VIDEO
    assert idr.random_access
    assert (idr.pts, idr.dts) == (96000, 90000)
    assert split_annexb(idr.data) == [AUD_NAL[VideoCodec.H264], SPS, PPS, SEI, IDR]
    assert split_annexb(slice_.data) == [AUD_NAL[VideoCodec.H264], SLICE]
    assert not slice_.random_access
    assert audio.pid == PID_AUDIO
    assert audio.pts == 90000
    assert audio.dts == 90000
    header = AdtsHeader.parse(audio.data)
    assert header.frame_length == len(audio.data) == 307
    assert demuxer.pcrs[0].pid == PID_VIDEO
    assert demuxer.pcrs[0].pcr == (90000 - PCR_DELAY) * 300


def test_existing_aud_and_parameter_sets_are_not_repeated():
    muxer = TsMuxer(VideoCodec.H264, None, (SPS, PPS))
    aud = AUD_NAL[VideoCodec.H264]
    data = muxer.tables() + muxer.video_access_unit((aud, SPS, PPS, IDR), 0, 0, True)
    _, packets = demux(data)
    assert split_annexb(packets[0].data) == [aud, SPS, PPS, IDR]


def test_h265_stream_type_and_parameter_sets():
    muxer = TsMuxer(VideoCodec.H265, None, (VPS265, SPS265, PPS265))
    demuxer, packets = demux(muxer.tables() + muxer.video_access_unit((IDR265,), 0, 0, True))
    assert demuxer.stream_types == {PID_VIDEO: STREAM_TYPE_H265}
    assert split_annexb(packets[0].data) == [
        AUD_NAL[VideoCodec.H265],
        VPS265,
        SPS265,
        PPS265,
        IDR265,
    ]


def test_continuity_counters_continue_across_segments():
    muxer = TsMuxer(VideoCodec.H264, ASC, (SPS, PPS))
    stream = _segment(muxer, 0) + _segment(muxer, 6000) + _segment(muxer, 12000)
    demuxer, packets = demux(stream)
    assert demuxer.continuity_errors == []
    assert len(packets) == 9
    assert all(len(stream[i : i + 188]) == 188 for i in range(0, len(stream), 188))


def test_lost_packet_is_a_continuity_error():
    muxer = TsMuxer(VideoCodec.H264, ASC, (SPS, PPS))
    stream = _segment(muxer, 0)
    # PAT, PMT, IDR (2 packets), audio (2 packets), slice: drop the IDR's second packet.
    cut = stream[: 3 * 188] + stream[4 * 188 :]
    demuxer, _ = demux(cut)
    assert demuxer.continuity_errors == [ContinuityError(PID_VIDEO, 5, 1, 2)]


def test_reconfigure_bumps_pmt_version_and_keeps_counters():
    muxer = TsMuxer(VideoCodec.H264, ASC, (SPS, PPS))
    first = _segment(muxer, 0)
    muxer.configure(VideoCodec.H265, ASC, (VPS265, SPS265, PPS265))
    second = muxer.tables() + muxer.video_access_unit((IDR265,), 9000, 9000, True)
    demuxer, _ = demux(first + second)
    assert demuxer.continuity_errors == []
    assert demuxer.pmts[PID_PMT].version == 1
    assert demuxer.stream_types[PID_VIDEO] == STREAM_TYPE_H265


def test_large_access_unit_spans_many_packets():
    muxer = TsMuxer(VideoCodec.H264, None, (SPS, PPS))
    big = bytes([0x65]) + bytes(range(256)) * 400
    _, packets = demux(muxer.tables() + muxer.video_access_unit((big,), 0, 0, True))
    assert split_annexb(packets[0].data)[-1] == big


def test_byte_at_a_time_matches_whole():
    stream = _segment(TsMuxer(VideoCodec.H264, ASC, (SPS, PPS)), 0)
    demuxer = TsDemuxer()
    packets = []
    for i in range(len(stream)):
        packets += demuxer.feed(stream[i : i + 1])
    packets += demuxer.flush()
    assert packets == demux(stream)[1]


def test_trailing_partial_packet_and_lost_sync():
    stream = _segment(TsMuxer(VideoCodec.H264, ASC, (SPS, PPS)), 0)
    demuxer = TsDemuxer()
    demuxer.feed(stream + stream[:10])
    with pytest.raises(TsError) as info:
        demuxer.flush()
    assert str(info.value) == f"TS packet {len(stream) // 188}: truncated at 10 of 188 bytes"
    with pytest.raises(TsError) as info:
        TsDemuxer().feed(stream[:188] + b"\x00" * 5)
    assert str(info.value) == "TS packet 1: sync byte 0x00, expected 0x47"


def test_muxer_usage_errors():
    with pytest.raises(TsError) as info:
        TsMuxer()
    assert str(info.value) == "TS muxer: needs a video or an audio track"
    with pytest.raises(TsError) as info:
        TsMuxer(audio=ASC).video_access_unit((IDR,), 0, 0, True)
    assert str(info.value) == "TS muxer: no video track configured"


@settings(max_examples=300)
@given(st.binary(max_size=800))
def test_any_bytes_demux_or_raise_ts_error(data):
    with contextlib.suppress(TsError):
        demux(data)


_VALID = _segment(TsMuxer(VideoCodec.H264, ASC, (SPS, PPS)), 0)


@settings(max_examples=300)
@given(st.lists(st.tuples(st.integers(0, len(_VALID) - 1), st.integers(0, 255)), max_size=8))
def test_corrupted_stream_demuxes_or_raises_ts_error(changes):
    data = bytearray(_VALID)
    for offset, value in changes:
        data[offset] = value
    with contextlib.suppress(TsError):
        demux(bytes(data))


def test_pcr_wraps_with_the_timestamps_after_26_hours() -> None:
    # 2**33 ticks of 90 kHz is 26.5 h; PTS and DTS wrap there, and so must the PCR base.
    muxer = TsMuxer(VideoCodec.H264, None, (b"\x67\x42\xc0\x1e", b"\x68\xce\x3c\x80"))
    dts = (1 << 33) + PCR_DELAY + 5
    first = TsPacket.parse(muxer.video_access_unit([b"\x65\x88\x84"], dts, dts, True)[:188])
    assert first.adaptation is not None
    assert first.adaptation.pcr == 5 * PCR_PER_90KHZ_TICK
    assert first.adaptation.random_access
