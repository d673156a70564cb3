"""Fuzz targets of the media formats: RTP/RTCP, RTP payloads, codec bitstreams, AMF0, FLV,
MPEG-TS, fMP4 and HLS."""

from __future__ import annotations

import contextlib
import struct
from collections.abc import Callable, Iterator

from tests.fuzz import seeds
from tests.fuzz.registry import target, text
from wire import amf0, flv
from wire.codec import aac as codec_aac
from wire.codec import h264 as codec_h264
from wire.codec import h265 as codec_h265
from wire.codec import stamp as codec_stamp
from wire.codec.bits import unescape_rbsp
from wire.codec.dts import DtsEstimator, reorder_depth
from wire.codec.errors import CodecError
from wire.codec.nal import VideoCodec, split_annexb, split_length_prefixed
from wire.fmp4 import (
    AudioTrack,
    Box,
    Fmp4Error,
    Sample,
    Tfdt,
    TrackFragment,
    Trun,
    VideoTrack,
    init_segment,
    media_segment,
    walk,
)
from wire.hls import PlaylistError, check_playlist
from wire.hls import parse as parse_playlist
from wire.hls.attributes import parse_attributes
from wire.payload import (
    AacDepacketizer,
    H264Depacketizer,
    H265Depacketizer,
    PayloadError,
    parse_aac_payload,
    parse_h264_payload,
    parse_h265_payload,
)
from wire.rtp import (
    JitterBuffer,
    ReceiverStatistics,
    RtpError,
    RtpPacket,
    RtpTimeline,
    parse_compound,
)
from wire.ts import TsError, TsMuxer, TsPacket, demux
from wire.ts.pes import PesPacket
from wire.ts.psi import Pat, Pmt

# -- RTP and RTCP ---------------------------------------------------------------------------------


@target("rtp_packet", "wire.rtp.RtpPacket.parse", (RtpError,), seeds.rtp_seeds)
def _rtp_packet(data: bytes) -> None:
    packet = RtpPacket.parse(data)
    # A parsed packet always serializes back to a packet that parses to the same fields.
    again = RtpPacket.parse(packet.serialize())
    assert again == packet, (again, packet)


@target("rtcp_compound", "wire.rtp.parse_compound", (RtpError,), seeds.rtcp_seeds)
def _rtcp_compound(data: bytes) -> None:
    parse_compound(data)


def rtp_records(data: bytes) -> Iterator[RtpPacket]:
    """RTP packets from a compact record framing, for the depacketizer and jitter buffer targets.

    Each record is a control byte (bit 7 marker, bit 6 a sequence jump of half the number
    space, bit 4 a timestamp step, bits 0-3 the sequence step less 2),
    a 16-bit payload length and the payload; so mutations reach payload parsing, reordering,
    duplicates and gaps rather than the RTP header's checks.
    """
    pos = 0
    seq = 0xFFF0  # wraps early on
    timestamp = 0xFFFF0000
    while pos + 3 <= len(data):
        control, length = struct.unpack_from(">BH", data, pos)
        pos += 3
        payload = data[pos : pos + length]
        pos += length
        seq = (seq + (control & 0x0F) - 2 + (0x8000 if control & 0x40 else 0)) & 0xFFFF
        if control & 0x10:
            timestamp = (timestamp + 3000) & 0xFFFFFFFF
        yield RtpPacket(96, seq, timestamp, 0x1234, payload, marker=bool(control & 0x80))


@target(
    "rtp_jitter_and_stats",
    "wire.rtp.JitterBuffer.push, ReceiverStatistics.update (never raise)",
    (),
    lambda: seeds.depacketizer_seeds("h264"),
)
def _rtp_jitter(data: bytes) -> None:
    buffer = JitterBuffer()
    stats = ReceiverStatistics(0x1234)
    for index, packet in enumerate(rtp_records(data)):
        stats.update(packet.sequence_number, packet.timestamp, index * 0.01)
        buffer.push(packet)
        if index % 7 == 6:
            buffer.skip_gap()
            stats.report_block(index * 0.01)
    buffer.flush()


# -- RTP payloads ---------------------------------------------------------------------------------


@target(
    "h264_payload", "wire.payload.parse_h264_payload", (PayloadError,), seeds.h264_payload_seeds
)
def _h264_payload(data: bytes) -> None:
    parse_h264_payload(data)


@target(
    "h265_payload", "wire.payload.parse_h265_payload", (PayloadError,), seeds.h265_payload_seeds
)
def _h265_payload(data: bytes) -> None:
    parse_h265_payload(data)


@target("aac_payload", "wire.payload.parse_aac_payload", (PayloadError,), seeds.aac_payload_seeds)
def _aac_payload(data: bytes) -> None:
    parse_aac_payload(data)


def _depacketize(
    depacketizer: H264Depacketizer | H265Depacketizer | AacDepacketizer, data: bytes
) -> None:
    for packet in rtp_records(data):
        depacketizer.receive(packet)


@target(
    "h264_depacketizer",
    "wire.payload.H264Depacketizer.receive (never raises)",
    (),
    lambda: seeds.depacketizer_seeds("h264"),
)
def _h264_depacketizer(data: bytes) -> None:
    _depacketize(H264Depacketizer(max_access_unit_size=64 * 1024), data)


@target(
    "h265_depacketizer",
    "wire.payload.H265Depacketizer.receive (never raises)",
    (),
    lambda: seeds.depacketizer_seeds("h265"),
)
def _h265_depacketizer(data: bytes) -> None:
    _depacketize(H265Depacketizer(max_access_unit_size=64 * 1024), data)


@target(
    "aac_depacketizer",
    "wire.payload.AacDepacketizer.receive (never raises)",
    (),
    lambda: seeds.depacketizer_seeds("aac"),
)
def _aac_depacketizer(data: bytes) -> None:
    _depacketize(AacDepacketizer(), data)


def _timeline_seeds() -> list[bytes]:
    stamps = b"".join(struct.pack(">I", (0xFFFF0000 + 3000 * i) & 0xFFFFFFFF) for i in range(40))
    return [
        bytes([codec]) + struct.pack(">H", len(sps)) + sps + stamps
        for codec, sps in (
            (0, seeds.h264_parameter_sets()[1][0]),
            (1, seeds.h265_parameter_sets()[0][1]),
        )
    ]


@target(
    "rtp_timeline_and_dts",
    "wire.rtp.RtpTimeline, wire.codec.dts.DtsEstimator.for_sps and dts (never raise)",
    (),
    _timeline_seeds,
)
def _rtp_timeline_and_dts(data: bytes) -> None:
    """A codec byte, an SPS with a 16-bit length, then 32-bit RTP timestamps in decode order."""
    if len(data) < 3:
        return
    codec = VideoCodec.H265 if data[0] & 1 else VideoCodec.H264
    end = 3 + int.from_bytes(data[1:3], "big")
    estimator = DtsEstimator.for_sps(codec, data[3:end], 90000)
    timeline = RtpTimeline(90000)
    rest = data[end:]
    stamps = [int.from_bytes(rest[i : i + 4], "big") for i in range(0, len(rest) - 3, 4)]
    if stamps:
        timeline.announce(stamps[0], 7)
    for index, timestamp in enumerate(stamps):
        timeline.first_packet(index, timestamp)
        pts = timeline.ticks(timestamp)
        dts = estimator.dts(pts)
        assert dts <= pts, (dts, pts)


# -- codec ----------------------------------------------------------------------------------------


def _codec_seeds(kind: str) -> Callable[[], list[bytes]]:
    return lambda: seeds.codec_seeds()[kind]


@target("h264_sps", "wire.codec.h264.H264Sps.parse", (CodecError,), _codec_seeds("h264_sps"))
def _h264_sps(data: bytes) -> None:
    codec_h264.H264Sps.parse(data)
    reorder_depth(VideoCodec.H264, data)


@target("h264_pps", "wire.codec.h264.H264Pps.parse", (CodecError,), _codec_seeds("h264_pps"))
def _h264_pps(data: bytes) -> None:
    codec_h264.H264Pps.parse(data)


@target("h265_vps", "wire.codec.h265.H265Vps.parse", (CodecError,), _codec_seeds("h265_vps"))
def _h265_vps(data: bytes) -> None:
    codec_h265.H265Vps.parse(data)


@target("h265_sps", "wire.codec.h265.H265Sps.parse", (CodecError,), _codec_seeds("h265_sps"))
def _h265_sps(data: bytes) -> None:
    codec_h265.H265Sps.parse(data)
    reorder_depth(VideoCodec.H265, data)


@target("h265_pps", "wire.codec.h265.H265Pps.parse", (CodecError,), _codec_seeds("h265_pps"))
def _h265_pps(data: bytes) -> None:
    codec_h265.H265Pps.parse(data)


@target(
    "avcc",
    "wire.codec.h264.AvcDecoderConfigurationRecord.parse",
    (CodecError,),
    _codec_seeds("avcc"),
)
def _avcc(data: bytes) -> None:
    codec_h264.AvcDecoderConfigurationRecord.parse(data)


@target(
    "hvcc",
    "wire.codec.h265.HevcDecoderConfigurationRecord.parse",
    (CodecError,),
    _codec_seeds("hvcc"),
)
def _hvcc(data: bytes) -> None:
    codec_h265.HevcDecoderConfigurationRecord.parse(data)


@target("aac_asc", "wire.codec.aac.AudioSpecificConfig.parse", (CodecError,), _codec_seeds("asc"))
def _aac_asc(data: bytes) -> None:
    config = codec_aac.AudioSpecificConfig.parse(data)
    config.serialize()


@target("adts", "wire.codec.aac.split_adts, AdtsHeader.parse", (CodecError,), _codec_seeds("adts"))
def _adts(data: bytes) -> None:
    codec_aac.AdtsHeader.parse(data)
    for _ in codec_aac.split_adts(data):
        pass


@target(
    "nal_split",
    "wire.codec.nal.split_annexb, split_length_prefixed",
    (CodecError,),
    _codec_seeds("annexb"),
)
def _nal_split(data: bytes) -> None:
    split_annexb(data)
    unescape_rbsp(data)
    for size in (1, 2, 4):
        with contextlib.suppress(CodecError):
            split_length_prefixed(data, size)


@target(
    "sei_stamp",
    "wire.codec.stamp: parse_sei, read_stamp_annexb, read_stamp_length_prefixed, Stamp.parse",
    (CodecError,),
    lambda: seeds.codec_seeds()["sei"] + seeds.codec_seeds()["annexb"],
)
def _sei_stamp(data: bytes) -> None:
    for codec in VideoCodec:
        with contextlib.suppress(CodecError):
            codec_stamp.parse_sei(codec, data)
        with contextlib.suppress(CodecError):
            codec_stamp.read_stamp_annexb(codec, data)
        with contextlib.suppress(CodecError):
            codec_stamp.read_stamp_length_prefixed(codec, data)
    offset = codec_stamp.find_stamp(data)
    if offset >= 0:
        codec_stamp.Stamp.parse(data, offset)


# -- AMF0 and FLV ---------------------------------------------------------------------------------


@target("amf0", "wire.amf0.decode", (amf0.Amf0Error,), seeds.amf0_seeds)
def _amf0(data: bytes) -> None:
    values = amf0.decode(data)
    # Whatever decodes encodes again.
    amf0.encode(*values)


def _flv_body_seeds() -> list[bytes]:
    bodies = seeds.flv_body_seeds()
    return [
        bytes([kind]) + body
        for kind, key in ((9, "video"), (8, "audio"), (18, "script"))
        for body in bodies[key]
    ]


@target(
    "flv_body",
    "wire.flv.parse_body (VideoTag, AudioTag, ScriptData)",
    (flv.FlvError,),
    _flv_body_seeds,
)
def _flv_body(data: bytes) -> None:
    if not data:
        return
    tag = flv.parse_body(data[0], data[1:])
    with contextlib.suppress(flv.FlvError):
        tag.serialize()


@target(
    "flv_file",
    "wire.flv.FileHeader.parse, FlvTag.parse",
    (flv.FlvError,),
    lambda: [seeds.flv_file_seed()],
)
def _flv_file(data: bytes) -> None:
    _, offset = flv.FileHeader.parse(data)
    while offset < len(data):
        tag, offset = flv.FlvTag.parse(data, offset)
        with contextlib.suppress(flv.FlvError):
            flv.parse_body(tag.tag_type, tag.data)


# -- MPEG-TS, fMP4, HLS ---------------------------------------------------------------------------


@target("ts_demux", "wire.ts.demux (TsDemuxer.feed, flush)", (TsError,), lambda: [seeds.ts_seed()])
def _ts_demux(data: bytes) -> None:
    demux(data)


@target(
    "ts_structures",
    "wire.ts.TsPacket.parse, PesPacket.parse, Pat.parse, Pmt.parse",
    (TsError,),
    seeds.ts_structure_seeds,
)
def _ts_structures(data: bytes) -> None:
    if not data:
        return
    parser: Callable[[bytes], object] = (TsPacket.parse, PesPacket.parse, Pat.parse, Pmt.parse)[
        data[0] % 4
    ]
    parser(data[1:])


def _visit_boxes(boxes: Iterator[Box], depth: int) -> None:
    for box in boxes:
        if box.kind == "tfdt":
            Tfdt.parse(box)
        elif box.kind == "trun":
            Trun.parse(box)
        elif box.kind in _CONTAINERS and depth < 8:
            _visit_boxes(iter(box.children()), depth + 1)


_CONTAINERS = frozenset(
    {"moov", "trak", "mdia", "minf", "stbl", "mvex", "moof", "traf", "edts", "dinf"}
)


@target(
    "fmp4_boxes",
    "wire.fmp4.walk, Box.children, Tfdt.parse, Trun.parse",
    (Fmp4Error,),
    seeds.fmp4_seeds,
)
def _fmp4_boxes(data: bytes) -> None:
    _visit_boxes(walk(data), 0)


@target(
    "writers_from_network_parameters",
    "wire.fmp4.init_segment, media_segment and wire.ts.TsMuxer over parameter sets, an ASC "
    "and frames as a publisher sends them",
    (Fmp4Error, CodecError, TsError),
    seeds.writer_seeds,
)
def _writers_from_network_parameters(data: bytes) -> None:
    """A selector byte, then Annex B parameter sets and a frame (bit 0 clear; bit 1 chooses
    H.264) or a length-prefixed AudioSpecificConfig and a raw frame (bit 0 set)."""
    if len(data) < 2:
        return
    selector, body = data[0], data[1:]
    if selector & 1:
        end = 1 + body[0]
        asc = codec_aac.AudioSpecificConfig.parse(body[1:end])
        raw = body[end:]
        init_segment((AudioTrack(asc),))
        TsMuxer(None, asc).audio_frames([raw], 0)
        media_segment(1, (TrackFragment(1, 0, (Sample(raw, 1024),)),))
        return
    codec = VideoCodec.H264 if selector & 2 else VideoCodec.H265
    nals = split_annexb(body)
    init_segment((VideoTrack(codec, tuple(nals)),))
    TsMuxer(codec, None, nals).video_access_unit(nals, 90000, 87000, True)


@target("hls_parse", "wire.hls.parse", (PlaylistError,), seeds.playlist_seeds)
def _hls_parse(data: bytes) -> None:
    parse_playlist(data)


@target("hls_validate", "wire.hls.check_playlist (never raises)", (), seeds.playlist_seeds)
def _hls_validate(data: bytes) -> None:
    check_playlist(data)


@target(
    "hls_attributes",
    "wire.hls.attributes.parse_attributes",
    (PlaylistError,),
    lambda: [b'BANDWIDTH=800000,CODECS="avc1.64001f,mp4a.40.2",RESOLUTION=1280x720,URI="a.m3u8"'],
)
def _hls_attributes(data: bytes) -> None:
    parse_attributes("EXT-X-FUZZ", text(data))
