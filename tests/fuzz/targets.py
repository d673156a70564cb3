"""Every parser of network input in :mod:`wire`, as a fuzz target over bytes.

A :class:`Target` names the entry point, the error its module documents for malformed input, and
a function that feeds it one input. :func:`check` runs a target: the documented error is a
correct answer, any other exception is a bug, and so is an input that takes more than
:data:`CPU_LIMIT` seconds of CPU (a hang). The hypothesis tests in this package and the atheris
script (``python -m tests.fuzz.atheris_targets``) drive the same targets.

One input may also not raise the peak memory by more than :data:`MEMORY_LIMIT`.

The sans-IO connections are targets too: they must never raise for what the peer sent, only
report it with events; after the input and the end of the stream they must have ended in an
event (RTSP: ``ConnectionTerminated`` after ``receive_eof``).
"""

from __future__ import annotations

import contextlib
import resource
import signal
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import FrameType

from tests.fuzz import seeds
from wire import amf0, flv
from wire.codec import aac as codec_aac
from wire.codec import h264 as codec_h264
from wire.codec import h265 as codec_h265
from wire.codec import stamp as codec_stamp
from wire.codec.bits import unescape_rbsp
from wire.codec.dts import reorder_depth
from wire.codec.errors import CodecError
from wire.codec.nal import VideoCodec, split_annexb, split_length_prefixed
from wire.fmp4 import Box, Fmp4Error, Tfdt, Trun, walk
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
from wire.rtmp import messages as rtmp_messages
from wire.rtmp.chunk import ChunkReader
from wire.rtmp.client import RtmpClientConnection
from wire.rtmp.errors import RtmpError
from wire.rtmp.events import ConnectionTerminated as RtmpTerminated
from wire.rtmp.events import PublishRequested, RtmpEvent
from wire.rtmp.handshake import ClientHandshake, ServerHandshake
from wire.rtmp.server import RtmpServerConnection
from wire.rtp import JitterBuffer, ReceiverStatistics, RtpError, RtpPacket, parse_compound
from wire.rtsp import auth as rtsp_auth
from wire.rtsp import tunnel as rtsp_tunnel
from wire.rtsp.authenticator import Authenticator, ChallengeResponder
from wire.rtsp.client import RtspClientConnection
from wire.rtsp.errors import RemoteProtocolError as RtspRemoteError
from wire.rtsp.events import ConnectionTerminated as RtspTerminated
from wire.rtsp.events import Event as RtspEvent
from wire.rtsp.events import RequestReceived
from wire.rtsp.headers import Headers, Public, SessionHeader, parse_cseq
from wire.rtsp.message import InterleavedFrame, Request, Response
from wire.rtsp.range import Range
from wire.rtsp.reader import RtspReader
from wire.rtsp.rtpinfo import RtpInfo
from wire.rtsp.transport import Transport
from wire.rtsp.urls import base_url
from wire.sdp import SdpError, SessionDescription, h264_parameter_sets, h265_parameter_sets
from wire.ts import TsError, TsPacket, demux
from wire.ts.pes import PesPacket
from wire.ts.psi import Pat, Pmt

CPU_LIMIT = 5.0
"""CPU seconds one input may take before it counts as a hang (inputs are a few kB at most)."""


MEMORY_LIMIT = 256 * 1024 * 1024
"""How far one input may raise the process's peak memory (inputs are a few kB at most)."""


class Hang(Exception):
    """An input kept a parser busy past :data:`CPU_LIMIT`."""


class MemoryHog(Exception):
    """An input made a parser allocate past :data:`MEMORY_LIMIT`."""


@dataclass(frozen=True)
class Target:
    """One entry point: ``run`` feeds it an input and raises only ``errors`` for bad input."""

    name: str
    entry: str
    errors: tuple[type[BaseException], ...]
    run: Callable[[bytes], object]
    seeds: Callable[[], list[bytes]] = field(default=list)


TARGETS: dict[str, Target] = {}


def target(
    name: str,
    entry: str,
    errors: tuple[type[BaseException], ...],
    seed_source: Callable[[], list[bytes]] = list,
) -> Callable[[Callable[[bytes], object]], Callable[[bytes], object]]:
    def register(run: Callable[[bytes], object]) -> Callable[[bytes], object]:
        if name in TARGETS:
            raise ValueError(f"fuzz target {name} registered twice")
        TARGETS[name] = Target(name, entry, errors, run, seed_source)
        return run

    return register


@contextlib.contextmanager
def cpu_limit(seconds: float = CPU_LIMIT) -> Iterator[None]:
    """Raise :class:`Hang` in the block once it has used ``seconds`` of CPU time.

    A virtual (CPU) timer, so a busy machine does not make a slow input look like a hang, and
    pytest-timeout's wall-clock SIGALRM is left alone.
    """

    def expire(signum: int, frame: FrameType | None) -> None:
        raise Hang(f"input took more than {seconds} s of CPU")

    previous = signal.signal(signal.SIGVTALRM, expire)
    outer = signal.setitimer(signal.ITIMER_VIRTUAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_VIRTUAL, *outer)  # an enclosing limit goes on
        signal.signal(signal.SIGVTALRM, previous)


def peak_memory() -> int:
    """The process's peak resident memory so far, in bytes (Linux reports kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def check(name: str, data: bytes, *, limit: bool = True) -> None:
    """Run target ``name`` on ``data``; its documented error passes, anything else raises."""
    spec = TARGETS[name]
    peak = peak_memory()
    with cpu_limit() if limit else contextlib.nullcontext(), contextlib.suppress(*spec.errors):
        spec.run(data)
    # The peak only grows, so this catches the first input that allocates that much at once.
    if limit and (grown := peak_memory() - peak) > MEMORY_LIMIT:
        raise MemoryHog(f"input raised the peak memory by {grown >> 20} MiB")


def text(data: bytes) -> str:
    """Header text as the RTSP reader decodes it (UTF-8, undecodable bytes kept as surrogates)."""
    return data.decode("utf-8", "surrogateescape")


def pieces(data: bytes) -> Iterator[bytes]:
    """A connection target's input: the first byte chooses how the rest is split into reads.

    0 feeds everything at once, n feeds reads of n bytes, so the fuzzer explores both whole
    messages and every boundary inside them.
    """
    if not data:
        return
    size = data[0] or len(data)
    body = data[1:]
    for start in range(0, len(body), size):
        yield body[start : start + size]


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


# -- RTMP -----------------------------------------------------------------------------------------


@target(
    "rtmp_chunks",
    "wire.rtmp.chunk.ChunkReader.receive_data",
    (RtmpError,),
    lambda: [seeds.chunk_stream_seed()],
)
def _rtmp_chunks(data: bytes) -> None:
    reader = ChunkReader(max_message_size=256 * 1024, max_chunk_streams=16)
    for piece in pieces(b"\x07" + data):
        reader.receive_data(piece)


def _message_seeds() -> list[bytes]:
    return [
        bytes([kind]) + payload
        for kind, payloads in seeds.rtmp_message_seeds().items()
        for payload in payloads
    ]


_MESSAGE_PARSERS: dict[int, Callable[[bytes], object]] = {
    1: rtmp_messages.SetChunkSize.parse,
    2: rtmp_messages.Abort.parse,
    3: rtmp_messages.Acknowledgement.parse,
    4: rtmp_messages.UserControl.parse,
    5: rtmp_messages.WindowAckSize.parse,
    6: rtmp_messages.SetPeerBandwidth.parse,
    18: rtmp_messages.DataMessage.parse,
    20: rtmp_messages.Command.parse,
}


@target(
    "rtmp_messages",
    "wire.rtmp.messages.*.parse, split_aggregate",
    (RtmpError, amf0.Amf0Error),
    _message_seeds,
)
def _rtmp_messages(data: bytes) -> None:
    if not data:
        return
    parser = _MESSAGE_PARSERS.get(data[0])
    if parser is not None:
        parser(data[1:])
    else:
        from wire.rtmp.chunk import RtmpMessage

        rtmp_messages.split_aggregate(RtmpMessage(22, data[1:], 1000, 1))


@target("rtmp_handshake_server", "wire.rtmp.handshake.ServerHandshake.receive", (RtmpError,))
def _rtmp_handshake_server(data: bytes) -> None:
    handshake = ServerHandshake(random=seeds.seeded_random(1))
    buffer = bytearray()
    for piece in pieces(data):
        buffer += piece
        handshake.receive(buffer)


@target("rtmp_handshake_client", "wire.rtmp.handshake.ClientHandshake.receive", (RtmpError,))
def _rtmp_handshake_client(data: bytes) -> None:
    handshake = ClientHandshake(random=seeds.seeded_random(1))
    handshake.initiate()
    buffer = bytearray()
    for piece in pieces(data):
        buffer += piece
        handshake.receive(buffer)


RTMP_STAGES = ("raw", "handshake", "connect", "publish")
"""How far a valid peer has taken an RTMP connection before the fuzzed bytes arrive."""


def drain_rtmp(connection: RtmpServerConnection | RtmpClientConnection) -> list[RtmpEvent]:
    events = []
    while (event := connection.next_event()) is not None:
        events.append(event)
    return events


def rtmp_server_at(stage: str) -> RtmpServerConnection:
    """A server connection that a well-behaved client has taken to ``stage``."""
    from wire.rtmp.chunk import ChunkWriter
    from wire.rtmp.messages import Command, to_message

    server = RtmpServerConnection(
        now=0.0, random=seeds.seeded_random(2), max_message_size=256 * 1024
    )
    if stage == "raw":
        return server
    c0c1, c2 = seeds.client_handshake_bytes()
    server.receive_data(c0c1)
    server.receive_data(c2(server.data_to_send()))
    if stage == "handshake":
        return server
    writer = ChunkWriter()
    connect = Command("connect", 1.0, {"app": "live", "tcUrl": "rtmp://127.0.0.1/live"})
    server.receive_data(writer.write(3, to_message(connect)))
    if stage == "publish":
        server.receive_data(writer.write(3, to_message(Command("createStream", 2.0))))
        publish = Command("publish", 3.0, None, ["cam1", "live"])
        server.receive_data(writer.write(8, to_message(publish, stream_id=1)))
        for event in drain_rtmp(server):
            if isinstance(event, PublishRequested):
                server.accept_publish(event.stream_id)
    drain_rtmp(server)
    server.data_to_send()
    assert not server.terminated, f"the valid prefix up to {stage} ended the connection"
    return server


def rtmp_client_at(stage: str) -> tuple[RtmpClientConnection, bytes]:
    """A client connection a well-behaved server has taken to ``stage``, and the server's
    bytes so far (a chunk stream continues after them)."""
    client = RtmpClientConnection(
        app="live", tc_url="rtmp://127.0.0.1/live", random=seeds.seeded_random(3)
    )
    client.initiate(0.0)
    if stage == "raw":
        return client, b""
    server = RtmpServerConnection(now=0.0, random=seeds.seeded_random(4))

    def pump() -> None:
        while True:
            to_server, to_client = client.data_to_send(), server.data_to_send()
            if not to_server and not to_client:
                return
            server.receive_data(to_server)
            client.receive_data(to_client)
            for event in drain_rtmp(server):
                if isinstance(event, PublishRequested):
                    server.accept_publish(event.stream_id)

    if stage == "handshake":
        server.receive_data(client.data_to_send())
        client.receive_data(server.data_to_send()[: 1 + 2 * 1536])
        drain_rtmp(client)
        return client, b""
    pump()
    if stage == "publish":
        client.publish("cam1", 0.0)
        pump()
    drain_rtmp(client)
    assert not client.terminated, f"the valid prefix up to {stage} ended the connection"
    return client, b""


def _check_rtmp_events(events: list[RtmpEvent]) -> None:
    assert all(isinstance(event, RtmpEvent) for event in events), events
    ends = [i for i, event in enumerate(events) if isinstance(event, RtmpTerminated)]
    assert ends in ([], [len(events) - 1]), f"events after ConnectionTerminated: {events}"


def _rtmp_server_target(stage: str) -> Callable[[bytes], None]:
    def run(data: bytes) -> None:
        server = rtmp_server_at(stage)
        events: list[RtmpEvent] = []
        for piece in pieces(data):
            server.receive_data(piece)
            server.data_to_send()
            events += drain_rtmp(server)
        server.handle_timer(1e9)
        events += drain_rtmp(server)
        _check_rtmp_events(events)
        if stage != "publish":
            # The handshake and setup deadlines have passed: the connection must have ended.
            assert server.terminated, events
            assert isinstance(events[-1], RtmpTerminated), events

    return run


def _rtmp_client_target(stage: str) -> Callable[[bytes], None]:
    def run(data: bytes) -> None:
        client, _ = rtmp_client_at(stage)
        events: list[RtmpEvent] = []
        for piece in pieces(data):
            client.receive_data(piece)
            client.data_to_send()
            events += drain_rtmp(client)
        client.handle_timer(1e9)
        events += drain_rtmp(client)
        _check_rtmp_events(events)

    return run


def _rtmp_server_seeds(stage: str) -> Callable[[], list[bytes]]:
    def make() -> list[bytes]:
        if stage == "raw":
            c0c1, _ = seeds.client_handshake_bytes()
            return [b"\x00" + c0c1]
        return [b"\x00" + seeds.chunk_stream_seed(), b"\x00" + seeds.chunk_stream_seed(4096)]

    return make


for _stage in RTMP_STAGES:
    target(
        f"rtmp_server_{_stage}",
        f"wire.rtmp.RtmpServerConnection.receive_data after {_stage} (never raises)",
        (),
        _rtmp_server_seeds(_stage),
    )(_rtmp_server_target(_stage))
    target(
        f"rtmp_client_{_stage}",
        f"wire.rtmp.RtmpClientConnection.receive_data after {_stage} (never raises)",
        (),
        _rtmp_server_seeds("handshake") if _stage != "raw" else list,
    )(_rtmp_client_target(_stage))


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


# -- RTSP and SDP ---------------------------------------------------------------------------------


@target("sdp", "wire.sdp.SessionDescription.parse", (SdpError,), seeds.sdp_seeds)
def _sdp(data: bytes) -> None:
    session = SessionDescription.parse(data)
    for media in session.media:
        for payload_format in media.payload_formats():
            parameters = media.fmtp(payload_format.payload_type)
            with contextlib.suppress(SdpError):
                h264_parameter_sets(parameters)
            with contextlib.suppress(SdpError):
                h265_parameter_sets(parameters)


@target(
    "rtsp_message",
    "wire.rtsp.message.Request.parse, Response.parse, InterleavedFrame.parse",
    (RtspRemoteError,),
    lambda: seeds.rtsp_request_seeds() + seeds.rtsp_response_seeds(),
)
def _rtsp_message(data: bytes) -> None:
    for parse in (Request.parse, Response.parse, InterleavedFrame.parse):
        with contextlib.suppress(RtspRemoteError):
            parse(data)


@target(
    "rtsp_reader",
    "wire.rtsp.reader.RtspReader.next_message",
    (RtspRemoteError,),
    lambda: [b"\x00" + b"".join(seeds.rtsp_request_seeds())],
)
def _rtsp_reader(data: bytes) -> None:
    reader = RtspReader()
    for piece in pieces(data):
        reader.receive_data(piece)
        while True:
            try:
                if reader.next_message() is None:
                    break
            except RtspRemoteError as error:
                if error.fatal:
                    return


def _header_target(kind: str, parse: Callable[[str], object]) -> None:
    target(
        f"rtsp_header_{kind}",
        f"{parse.__module__}.{parse.__qualname__}",
        (RtspRemoteError,),
        lambda: [value.encode() for value in seeds.header_value_seeds()[kind]],
    )(lambda data: parse(text(data)))


_header_target("transport", Transport.parse)
_header_target("range", Range.parse)
_header_target("rtp_info", RtpInfo.parse)
_header_target("session", SessionHeader.parse)
_header_target("public", Public.parse)
_header_target("cseq", parse_cseq)
_header_target("challenge", rtsp_auth.Challenge.parse_all)
_header_target("authorization", rtsp_auth.Authorization.parse)


@target(
    "rtsp_content_base",
    "wire.rtsp.urls.base_url, resolve_control",
    (RtspRemoteError,),
    lambda: [value.encode() for value in seeds.header_value_seeds()["content_base"]],
)
def _rtsp_content_base(data: bytes) -> None:
    from wire.rtsp.urls import resolve_control

    value = text(data)
    if any(c in value for c in "\r\n\x00"):
        return  # the RTSP reader refuses such a header before anyone reads it
    base = base_url(seeds.URL, Headers([("Content-Base", value)]))
    resolve_control(base, value)


@target(
    "rtsp_authenticator",
    "wire.rtsp.authenticator.Authenticator.check (never raises), ChallengeResponder.accept",
    (),
    lambda: [value.encode() for value in seeds.header_value_seeds()["authorization"]],
)
def _rtsp_authenticator(data: bytes) -> None:
    value = text(data)
    for basic, qop in ((False, False), (True, True)):
        authenticator = Authenticator(
            "cam", {"admin": "secret"}, random_source=seeds.seeded_random(5), basic=basic, qop=qop
        )
        authenticator.check("DESCRIBE", value, 0.0, uri="rtsp://h/s")
        # The nonce a client answers is one this authenticator issued.
        nonce = authenticator.challenges(0.0, uri="rtsp://h/s")[0].params.get("nonce", "")
        authenticator.check("DESCRIBE", value.replace("abc123", nonce), 1.0, uri="rtsp://h/s")
    with contextlib.suppress(RtspRemoteError):
        responder = ChallengeResponder("admin", "secret", cnonce_source=seeds.seeded_random(6))
        if responder.accept(rtsp_auth.Challenge.parse_all(value)):
            responder.authorization("DESCRIBE", seeds.URL)


@target(
    "rtsp_tunnel_decoder",
    "wire.rtsp.tunnel.TunnelDecoder.decode",
    (RtspRemoteError,),
    lambda: [b"\x00" + value for value in seeds.tunnel_seeds()["data"]],
)
def _rtsp_tunnel_decoder(data: bytes) -> None:
    decoder = rtsp_tunnel.TunnelDecoder()
    for piece in pieces(data):
        decoder.decode(piece)


@target(
    "rtsp_tunnel_http",
    "wire.rtsp.tunnel.parse_tunnel_request, parse_tunnel_response, is_tunnel_start",
    (RtspRemoteError,),
    lambda: seeds.tunnel_seeds()["request"] + seeds.tunnel_seeds()["response"],
)
def _rtsp_tunnel_http(data: bytes) -> None:
    rtsp_tunnel.is_tunnel_start(data)
    with contextlib.suppress(RtspRemoteError):
        rtsp_tunnel.parse_tunnel_request(data)
    with contextlib.suppress(RtspRemoteError):
        rtsp_tunnel.parse_tunnel_response(data)


def drain_rtsp(connection: RtspServerConnection | RtspClientConnection) -> list[RtspEvent]:
    events = []
    while (event := connection.next_event()) is not None:
        events.append(event)
    return events


def _check_rtsp_end(
    connection: RtspServerConnection | RtspClientConnection, events: list[RtspEvent]
) -> None:
    connection.receive_eof()
    events += drain_rtsp(connection)
    assert connection.closed, "receive_eof left the connection open"
    ends = [i for i, event in enumerate(events) if isinstance(event, RtspTerminated)]
    assert ends == [len(events) - 1], f"not one ConnectionTerminated at the end: {events[-3:]}"


from wire.rtsp.server import RtspServerConnection, ServerConfig  # noqa: E402


def _answer(server: RtspServerConnection, events: list[RtspEvent]) -> None:
    """The application's part: 200 for every request, with a session for SETUP."""
    for event in events:
        if not isinstance(event, RequestReceived) or server.closed:
            continue
        fields = [("Session", "12345678;timeout=60")]
        transport = event.request.headers.get("Transport")
        if transport is not None:
            fields.append(("Transport", transport))
        server.send_response(event.request, Response(200, headers=Headers(fields)))


def _rtsp_server_target(authenticated: bool) -> Callable[[bytes], None]:
    def run(data: bytes) -> None:
        authenticator = (
            Authenticator(
                "cam", {"admin": "secret"}, random_source=seeds.seeded_random(7), basic=True
            )
            if authenticated
            else None
        )
        server = RtspServerConnection(ServerConfig(authenticator=authenticator))
        events: list[RtspEvent] = []
        now = 0.0
        for piece in pieces(data):
            now += 0.5
            server.receive_data(piece, now)
            new = drain_rtsp(server)
            _answer(server, new)
            events += new
            server.data_to_send()
        server.handle_timer(now + 1e6)
        events += drain_rtsp(server)
        _check_rtsp_end(server, events)

    return run


def _rtsp_server_seeds() -> list[bytes]:
    return [b"\x00" + b"".join(seeds.rtsp_request_seeds())]


target(
    "rtsp_server",
    "wire.rtsp.RtspServerConnection.receive_data (never raises)",
    (),
    _rtsp_server_seeds,
)(_rtsp_server_target(False))
target(
    "rtsp_server_auth",
    "wire.rtsp.RtspServerConnection.receive_data with an Authenticator",
    (),
    _rtsp_server_seeds,
)(_rtsp_server_target(True))


@target(
    "rtsp_client",
    "wire.rtsp.RtspClientConnection.receive_data (never raises)",
    (),
    lambda: [b"\x00" + b"".join(seeds.rtsp_response_seeds())],
)
def _rtsp_client(data: bytes) -> None:
    from wire.rtsp.client import ClientConfig
    from wire.rtsp.transport import TransportSpec

    client = RtspClientConnection(
        seeds.URL,
        ClientConfig(username="admin", password="secret", cnonce_source=seeds.seeded_random(8)),
    )
    client.options()
    client.describe()
    client.setup(
        f"{seeds.URL}/trackID=0", TransportSpec.parse("RTP/AVP/TCP;unicast;interleaved=0-1")
    )
    client.play()
    client.data_to_send()
    events: list[RtspEvent] = []
    now = 0.0
    for piece in pieces(data):
        now += 0.5
        client.receive_data(piece, now)
        events += drain_rtsp(client)
        client.data_to_send()
    if not client.closed:
        client.handle_timer(now + 1e6)
    events += drain_rtsp(client)
    _check_rtsp_end(client, events)
