"""Valid inputs for every fuzz target, built with the project's own writers.

Structure-aware fuzzing starts from bytes a parser accepts and changes them a little, so that the
mutations reach the code behind the first length check. Every seed here is made by a serializer of
:mod:`wire` (or is a real parameter set from ``tests/unit/wire/codec/data``), never copied bytes.
"""

from __future__ import annotations

import functools
import random
import struct
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from wire import amf0
from wire.codec.aac import AudioSpecificConfig, adts_frame
from wire.codec.h264 import AvcDecoderConfigurationRecord
from wire.codec.h265 import HevcDecoderConfigurationRecord
from wire.codec.nal import VideoCodec, join_annexb, join_length_prefixed
from wire.codec.stamp import stamp_sei_nal
from wire.flv import (
    TAG_TYPE_AUDIO,
    TAG_TYPE_SCRIPT_DATA,
    TAG_TYPE_VIDEO,
    AudioTag,
    FileHeader,
    FlvTag,
    ScriptData,
    VideoTag,
)
from wire.fmp4 import AudioTrack, Sample, TrackFragment, VideoTrack, init_segment, media_segment
from wire.hls import (
    ByteRange,
    InitSection,
    MediaPlaylist,
    MediaSegment,
    PartialSegment,
    PlaylistType,
    PreloadHint,
    PreloadHintType,
    ServerControl,
    render,
)
from wire.payload import packetize_aac, packetize_h264, packetize_h265
from wire.rtmp.chunk import ChunkWriter, RtmpMessage
from wire.rtmp.handshake import ClientHandshake
from wire.rtmp.messages import (
    Acknowledgement,
    Command,
    DataMessage,
    SetChunkSize,
    SetPeerBandwidth,
    UserControl,
    WindowAckSize,
    to_message,
)
from wire.rtp import (
    ReportBlock,
    RtcpBye,
    RtcpReceiverReport,
    RtcpSdes,
    RtcpSenderReport,
    RtpPacket,
    SdesChunk,
    SdesItem,
    serialize_compound,
)
from wire.sdp import aac_media, camera_session, h264_media, h265_media
from wire.ts import Pat, PesPacket, TsMuxer

CODEC_DATA = Path(__file__).resolve().parents[1] / "unit" / "wire" / "codec" / "data"


def seeded_random(seed: int) -> Callable[[int], bytes]:
    """A deterministic stand-in for ``os.urandom``: the same seed gives the same bytes."""
    return random.Random(seed).randbytes


# -- codec ----------------------------------------------------------------------------------------


@functools.cache
def avcc_records() -> tuple[bytes, ...]:
    return tuple(path.read_bytes() for path in sorted(CODEC_DATA.glob("h264_*_avcc.bin")))


@functools.cache
def hvcc_records() -> tuple[bytes, ...]:
    return tuple(path.read_bytes() for path in sorted(CODEC_DATA.glob("h265_*_hvcc.bin")))


@functools.cache
def h264_parameter_sets() -> tuple[tuple[bytes, bytes], ...]:
    """(SPS, PPS) of every H.264 record in the data folder."""
    records = [AvcDecoderConfigurationRecord.parse(data) for data in avcc_records()]
    return tuple((record.sps[0], record.pps[0]) for record in records)


@functools.cache
def h265_parameter_sets() -> tuple[tuple[bytes, bytes, bytes], ...]:
    """(VPS, SPS, PPS) of every H.265 record in the data folder."""
    result = []
    for data in hvcc_records():
        record = HevcDecoderConfigurationRecord.parse(data)
        by_type = {array.nal_unit_type: array.nal_units[0] for array in record.arrays}
        result.append((by_type[32], by_type[33], by_type[34]))
    return tuple(result)


@functools.cache
def asc_bytes() -> tuple[bytes, ...]:
    return tuple(path.read_bytes() for path in sorted(CODEC_DATA.glob("aac_*_asc.bin")))


@functools.cache
def adts_streams() -> tuple[bytes, ...]:
    return tuple(path.read_bytes()[:2048] for path in sorted(CODEC_DATA.glob("aac_*_adts.bin")))


def h264_access_unit(frame_index: int = 7) -> list[bytes]:
    """SPS, PPS, our SEI stamp and an IDR slice: one keyframe's NAL units."""
    sps, pps = h264_parameter_sets()[0]
    idr = bytes([0x65, 0x88, 0x84]) + bytes(range(1, 200))
    return [sps, pps, stamp_sei_nal(VideoCodec.H264, frame_index, 1_700_000_000_000_000), idr]


def h265_access_unit(frame_index: int = 7) -> list[bytes]:
    vps, sps, pps = h265_parameter_sets()[0]
    idr = bytes([19 << 1, 0x01, 0xAF]) + bytes(range(1, 200))
    sei = stamp_sei_nal(VideoCodec.H265, frame_index, 1_700_000_000_000_000)
    return [vps, sps, pps, sei, idr]


def codec_seeds() -> dict[str, list[bytes]]:
    h264 = h264_parameter_sets()
    h265 = h265_parameter_sets()
    unit264 = h264_access_unit()
    unit265 = h265_access_unit()
    return {
        "h264_sps": [sps for sps, _ in h264],
        "h264_pps": [pps for _, pps in h264],
        "h265_vps": [vps for vps, _, _ in h265],
        "h265_sps": [sps for _, sps, _ in h265],
        "h265_pps": [pps for _, _, pps in h265],
        "avcc": list(avcc_records()),
        "hvcc": list(hvcc_records()),
        "asc": list(asc_bytes()),
        "adts": list(adts_streams()),
        "annexb": [join_annexb(unit264), join_annexb(unit265)],
        "length_prefixed": [join_length_prefixed(unit264), join_length_prefixed(unit265)],
        "sei": [unit264[2], unit265[3]],
    }


# -- RTP, RTCP and payloads -----------------------------------------------------------------------


def rtp_seeds() -> list[bytes]:
    from wire.rtp.packet import HeaderExtension

    return [
        RtpPacket(96, 1000, 90000, 0x1234, b"\x65\x88payload", marker=True).serialize(),
        RtpPacket(
            97,
            65535,
            0xFFFFFFFF,
            0xDEADBEEF,
            b"audio",
            csrc=[1, 2],
            extension=HeaderExtension(0xBEDE, b"\x10\xff\x00\x00"),
            padding_size=3,
        ).serialize(),
    ]


def rtcp_seeds() -> list[bytes]:
    block = ReportBlock(0x1234, 3, 10, 1000, 20, 0x11223344, 0x10)
    sr = RtcpSenderReport(0xDEADBEEF, 0x83AA7E80_00000000, 90000, 10, 1000, [block])
    rr = RtcpReceiverReport(0xCAFEBABE, [block])
    sdes = RtcpSdes([SdesChunk(0xDEADBEEF, [SdesItem(1, b"camsim@127.0.0.1")])])
    bye = RtcpBye([0xDEADBEEF], b"stopped")
    return [serialize_compound([sr, sdes]), serialize_compound([rr, sdes, bye])]


def _payload_stream(payloads: list[tuple[bytes, bool]], timestamp_step: int = 0) -> bytes:
    """Payloads in the framing of the depacketizer targets (see ``targets_media.rtp_records``)."""
    out = bytearray()
    for payload, marker in payloads:
        control = 0x01 | (0x80 if marker else 0) | (0x10 if timestamp_step and marker else 0)
        out += struct.pack(">BH", control, len(payload)) + payload
    return bytes(out)


def h264_payload_seeds() -> list[bytes]:
    unit = h264_access_unit()
    return [p.payload for p in packetize_h264(unit, 120)] + [
        p.payload for p in packetize_h264(unit, 1400)
    ]


def h265_payload_seeds() -> list[bytes]:
    unit = h265_access_unit()
    return [p.payload for p in packetize_h265(unit, 120)] + [
        p.payload for p in packetize_h265(unit, 1400)
    ]


def aac_payload_seeds() -> list[bytes]:
    frames = [bytes([0x21, 0x10]) + bytes(range(i, i + 150)) for i in range(3)]
    return [p.payload for p in packetize_aac(frames, 1400)] + [
        p.payload for p in packetize_aac(frames[:1], 60)
    ]


def depacketizer_seeds(kind: str) -> list[bytes]:
    if kind == "aac":
        frames = [bytes([0x21, 0x10]) + bytes(range(i, i + 150)) for i in range(3)]
        packets = packetize_aac(frames, 1400) + packetize_aac(frames, 60)
        return [_payload_stream([(p.payload, p.marker) for p in packets], 1024)]
    packetize = packetize_h264 if kind == "h264" else packetize_h265
    unit = h264_access_unit() if kind == "h264" else h265_access_unit()
    streams = []
    for size in (60, 400, 1400):
        packets = packetize(unit, size) + packetize(unit[-1:], size)
        streams.append(_payload_stream([(p.payload, p.marker) for p in packets], 3000))
    return streams


# -- RTMP, AMF0, FLV ------------------------------------------------------------------------------


def amf0_seeds() -> list[bytes]:
    return [
        amf0.encode(
            "connect",
            1.0,
            {"app": "live", "tcUrl": "rtmp://127.0.0.1/live", "fourCcList": ["hvc1", "avc1"]},
            None,
        ),
        amf0.encode(
            "onMetaData",
            amf0.EcmaArray({"width": 1280.0, "height": 720.0, "encoder": "camsim"}),
            amf0.UNDEFINED,
            amf0.Reference(1),
            amf0.Date(1.7e12, 0),
            amf0.XmlDocument("<a/>"),
            amf0.TypedObject("cls", {"x": True}),
            "x" * 70000,
        ),
    ]


def flv_body_seeds() -> dict[str, list[bytes]]:
    sps, pps = h264_parameter_sets()[0]
    avcc = AvcDecoderConfigurationRecord.build([sps], [pps]).serialize()
    hvcc = hvcc_records()[0]
    frame = join_length_prefixed(h264_access_unit())
    video = [
        VideoTag(1, 0, avcc, codec_id=7).serialize(),
        VideoTag(1, 1, frame, composition_time=-40, codec_id=7).serialize(),
        VideoTag(1, 0, hvcc, fourcc="hvc1").serialize(),
        VideoTag(2, 1, frame, composition_time=33, fourcc="avc1").serialize(),
        VideoTag(2, 3, frame, fourcc="hvc1").serialize(),
    ]
    audio = [
        AudioTag(10, asc_bytes()[0], packet_type=0).serialize(),
        AudioTag(10, bytes(100), packet_type=1).serialize(),
        AudioTag(9, bytes(30), packet_type=1, fourcc="mp4a").serialize(),
    ]
    script = [ScriptData("onMetaData", (amf0.EcmaArray({"duration": 0.0}),)).serialize()]
    return {"video": video, "audio": audio, "script": script}


def flv_file_seed() -> bytes:
    bodies = flv_body_seeds()
    tags = [
        FlvTag(TAG_TYPE_SCRIPT_DATA, 0, bodies["script"][0]),
        FlvTag(TAG_TYPE_VIDEO, 0, bodies["video"][0]),
        FlvTag(TAG_TYPE_AUDIO, 0, bodies["audio"][0]),
        FlvTag(TAG_TYPE_VIDEO, 0x1_000_000, bodies["video"][1]),
    ]
    return FileHeader().serialize() + b"".join(tag.serialize() for tag in tags)


def rtmp_message_seeds() -> dict[int, list[bytes]]:
    """Message payloads by RTMP message type id."""
    return {
        1: [SetChunkSize(4096).serialize()],
        3: [Acknowledgement(123456).serialize()],
        4: [UserControl.stream_begin(1).serialize()],
        5: [WindowAckSize(2_500_000).serialize()],
        6: [SetPeerBandwidth(2_500_000, 2).serialize()],
        18: [DataMessage("@setDataFrame", ["onMetaData", {"width": 1.0}]).serialize()],
        20: [
            Command("connect", 1.0, {"app": "live", "tcUrl": "rtmp://h/live"}).serialize(),
            Command("publish", 5.0, None, ["cam1", "live"]).serialize(),
        ],
    }


def chunk_stream_seed(chunk_size: int = 128) -> bytes:
    """A chunk stream with every header format, an extended timestamp and a chunk-size change."""
    writer = ChunkWriter()
    out = bytearray()
    connect = to_message(Command("connect", 1.0, {"app": "live", "tcUrl": "rtmp://h/live"}))
    out += writer.write(3, connect)
    out += writer.write(2, to_message(SetChunkSize(chunk_size)))
    writer.set_chunk_size(chunk_size)
    bodies = flv_body_seeds()
    for timestamp in (0, 40, 0xFFFFFF + 5):
        out += writer.write(6, _media(9, bodies["video"][1], timestamp))
        out += writer.write(4, _media(8, bodies["audio"][1], timestamp))
    return bytes(out)


def _media(type_id: int, payload: bytes, timestamp: int) -> RtmpMessage:
    return RtmpMessage(type_id, payload, timestamp, stream_id=1)


def client_handshake_bytes(seed: int = 1) -> tuple[bytes, Callable[[bytes], bytes]]:
    """C0C1 of a simple handshake and a function from S0S1S2 to C2."""
    handshake = ClientHandshake(complex_handshake=False, random=seeded_random(seed))
    c0c1 = handshake.initiate()

    def c2(server_bytes: bytes) -> bytes:
        return handshake.receive(bytearray(server_bytes))

    return c0c1, c2


# -- MPEG-TS, fMP4, HLS ---------------------------------------------------------------------------


def ts_seed() -> bytes:
    asc = AudioSpecificConfig.parse(asc_bytes()[0])
    muxer = TsMuxer(VideoCodec.H264, asc, parameter_sets=h264_parameter_sets()[0])
    out = muxer.tables()
    out += muxer.video_access_unit(h264_access_unit(), 90000, 87000, True)
    out += muxer.audio_frames([bytes(200), bytes(180)], 90000)
    out += muxer.video_access_unit(h264_access_unit(8)[-1:], 93000, 90000, False)
    return out


def ts_structure_seeds() -> list[bytes]:
    """Inputs of the ts_structures target: a selector byte (0 packet, 1 PES, 2 PAT, 3 PMT)."""
    asc = AudioSpecificConfig.parse(asc_bytes()[0])
    muxer = TsMuxer(VideoCodec.H264, asc, parameter_sets=h264_parameter_sets()[0])
    pes = PesPacket(0xE0, bytes(range(100)), 90000, 87000, data_alignment=True)
    return [
        b"\x00" + ts_seed()[:188],
        b"\x01" + pes.serialize(),
        b"\x01" + PesPacket(0xC0, bytes(50), 90000).serialize(),
        b"\x02" + Pat({1: 0x1000}).serialize(),
        b"\x03" + muxer.pmt().serialize(),
    ]


def writer_seeds() -> list[bytes]:
    """Inputs of the writers target: parameter sets and a frame, or an ASC and a frame."""
    out = [b"\x02" + join_annexb(h264_access_unit()), b"\x00" + join_annexb(h265_access_unit())]
    out += [b"\x01" + bytes([len(asc)]) + asc + bytes(range(100)) for asc in asc_bytes()]
    return out


def adts_seed() -> bytes:
    asc = AudioSpecificConfig.parse(asc_bytes()[0])
    return adts_frame(asc, bytes(100)) + adts_frame(asc, bytes(20))


def fmp4_seeds() -> list[bytes]:
    sps, pps = h264_parameter_sets()[0]
    asc = AudioSpecificConfig.parse(asc_bytes()[0])
    init = init_segment((VideoTrack(VideoCodec.H264, (sps, pps)), AudioTrack(asc)))
    samples = (Sample(b"\x00\x00\x00\x05\x65abcd", 3000, True, 3000), Sample(b"xyz", 3000, False))
    video = TrackFragment(1, 90000, samples)
    audio = TrackFragment(2, 48000, (Sample(bytes(50), 1024),), with_sample_flags=False)
    segment = media_segment(5, (video, audio))
    return [init, segment]


def playlist_seeds() -> list[bytes]:
    when = datetime(2024, 5, 1, 12, 0, 0, 500000, tzinfo=UTC)
    segments = (
        MediaSegment(
            "seg0.m4s",
            2.0,
            program_date_time=when,
            init_section=InitSection("init.mp4", ByteRange(800, 0)),
        ),
        MediaSegment("seg1.m4s", 2.002, title="t", discontinuity=True),
        MediaSegment("seg2.m4s", 1.9, byterange=ByteRange(1000, 10), gap=True),
        MediaSegment("seg3.m4s", 2.0, parts=(PartialSegment("p0.m4s", 0.5, independent=True),) * 4),
    )
    live = MediaPlaylist(
        target_duration=2,
        segments=segments,
        version=9,
        media_sequence=100,
        discontinuity_sequence=3,
        independent_segments=True,
        part_target=0.5,
        server_control=ServerControl(can_block_reload=True, part_hold_back=1.5),
        trailing_parts=(PartialSegment("p1.m4s", 0.5),),
        preload_hints=(PreloadHint(PreloadHintType.PART, "p2.m4s"),),
    )
    vod = MediaPlaylist(
        target_duration=4,
        segments=segments[1:3],
        version=3,
        playlist_type=PlaylistType.VOD,
        endlist=True,
    )
    return [render(live).encode(), render(vod).encode()]


# -- RTSP and SDP ---------------------------------------------------------------------------------

URL = "rtsp://127.0.0.1:8554/cam1"


def sdp_seeds() -> list[bytes]:
    sps, pps = h264_parameter_sets()[0]
    vps, sps5, pps5 = h265_parameter_sets()[0]
    asc = asc_bytes()[0]
    one = camera_session(
        [
            h264_media(96, sps, pps, control="trackID=0"),
            aac_media(97, asc, 48000, 2, control="trackID=1"),
        ],
        session_id=1234,
    )
    two = camera_session([h265_media(98, vps, sps5, pps5, control="trackID=0")], session_id=9)
    return [one.serialize().encode(), two.serialize().encode()]


def message(start: str, *fields: str, body: bytes = b"") -> bytes:
    lines = [start, *fields]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def rtsp_request_seeds() -> list[bytes]:
    sdp = sdp_seeds()[0]
    return [
        message(f"OPTIONS {URL} RTSP/1.0", "CSeq: 1", "User-Agent: fuzz"),
        message(f"DESCRIBE {URL} RTSP/1.0", "CSeq: 2", "Accept: application/sdp"),
        message(
            f"SETUP {URL}/trackID=0 RTSP/1.0",
            "CSeq: 3",
            "Transport: RTP/AVP/TCP;unicast;interleaved=0-1",
        ),
        message(
            f"SETUP {URL}/trackID=1 RTSP/1.0",
            "CSeq: 4",
            "Transport: RTP/AVP;unicast;client_port=5000-5001",
            "Session: 12345678",
        ),
        message(f"PLAY {URL} RTSP/1.0", "CSeq: 5", "Session: 12345678", "Range: npt=0.000-"),
        message(f"GET_PARAMETER {URL} RTSP/1.0", "CSeq: 6", "Session: 12345678"),
        message(f"ANNOUNCE {URL} RTSP/1.0", "CSeq: 7", "Content-Type: application/sdp", body=sdp),
        message(f"TEARDOWN {URL} RTSP/1.0", "CSeq: 8", "Session: 12345678"),
        b"$\x00\x00\x0c" + rtp_seeds()[0][:12],
    ]


def rtsp_response_seeds() -> list[bytes]:
    sdp = sdp_seeds()[0]
    return [
        message("RTSP/1.0 200 OK", "CSeq: 1", "Public: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN"),
        message(
            "RTSP/1.0 401 Unauthorized",
            "CSeq: 2",
            'WWW-Authenticate: Digest realm="cam", nonce="abc123", algorithm=MD5, qop="auth"',
            'WWW-Authenticate: Basic realm="cam"',
        ),
        message(
            "RTSP/1.0 200 OK",
            "CSeq: 2",
            "Content-Type: application/sdp",
            f"Content-Base: {URL}/",
            body=sdp,
        ),
        message(
            "RTSP/1.0 200 OK",
            "CSeq: 3",
            "Transport: RTP/AVP/TCP;unicast;interleaved=0-1;ssrc=DEADBEEF",
            "Session: 12345678;timeout=60",
        ),
        message(
            "RTSP/1.0 200 OK",
            "CSeq: 4",
            "Session: 12345678",
            "Range: npt=0.000-",
            f"RTP-Info: url={URL}/trackID=0;seq=1000;rtptime=90000,url={URL}/trackID=1;seq=5",
        ),
        b"$\x01\x00\x08" + rtcp_seeds()[0][:8],
    ]


def header_value_seeds() -> dict[str, list[str]]:
    return {
        "transport": [
            "RTP/AVP/TCP;unicast;interleaved=0-1",
            "RTP/AVP;unicast;client_port=5000-5001;server_port=6000-6001;ssrc=0A0B0C0D;mode=play",
            "RTP/AVP;multicast;destination=239.0.0.1;ttl=16;port=5000-5001,RTP/AVP/TCP",
        ],
        "range": [
            "npt=0.000-",
            "npt=now-",
            "npt=10-20.5",
            "clock=20240501T120000.5Z-",
            "smpte=0:10:00-",
        ],
        "rtp_info": [f"url={URL}/trackID=0;seq=1000;rtptime=90000,url={URL}/trackID=1;seq=5"],
        "session": ["12345678;timeout=60", "ABCDEF"],
        "public": ["OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, TEARDOWN, GET_PARAMETER"],
        "cseq": ["1", "4294967295"],
        "challenge": [
            'Digest realm="cam", nonce="abc123", algorithm=MD5, qop="auth", opaque="x", stale=TRUE',
            'Basic realm="cam", Digest realm="cam", nonce="n", algorithm=SHA-256',
        ],
        "authorization": [
            'Digest username="admin", realm="cam", nonce="abc123", uri="rtsp://h/s", '
            'response="0123456789abcdef0123456789abcdef", algorithm=MD5, qop=auth, nc=00000001, '
            'cnonce="c"',
            "Basic YWRtaW46c2VjcmV0",
        ],
        "content_base": [f"{URL}/", "127.0.0.1:8554/cam1/", "/cam1/"],
    }


def tunnel_seeds() -> dict[str, list[bytes]]:
    from wire.rtsp.tunnel import TunnelRequest, encode_tunnel_data, tunnel_response

    body = rtsp_request_seeds()[0]
    return {
        "request": [
            TunnelRequest.get("/cam1", "cookie123", host="127.0.0.1:8554").serialize(),
            TunnelRequest.post("/cam1", "cookie123", host="127.0.0.1:8554").serialize()
            + encode_tunnel_data(body),
        ],
        "response": [tunnel_response(200, "camsim") + rtsp_response_seeds()[0]],
        "data": [encode_tunnel_data(body), encode_tunnel_data(body, 20)],
    }
