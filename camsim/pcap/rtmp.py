"""RTMP sessions read back from a capture with :class:`wire.rtmp.chunk.ChunkReader`.

After the handshake (C0/C1/C2 and S0/S1/S2, 3073 bytes each way) each direction is a chunk
stream: messages come out of the reader, commands are decoded with :mod:`wire.rtmp.messages`
(AMF0), media tags with :mod:`wire.flv` and codec configuration with :mod:`wire.codec`. The
session keeps the dialog (connect with its app and tcUrl, createStream, publish or play with the
stream name, every onStatus code, chunk size changes) and per message stream the media: codecs,
frames and keyframes, timestamp gaps and steps back, timestamps in the extended range (2^24 ms
and beyond, where writers and readers disagree about fmt 3 chunks), bitrate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise

from camsim.pcap.connection import ConnectionInfo
from camsim.pcap.flow import Endpoint
from camsim.pcap.media import VideoFormat
from camsim.pcap.tcp import Hole
from wire import flv
from wire.amf0 import Amf0Value
from wire.codec.aac import AudioSpecificConfig
from wire.codec.errors import CodecError
from wire.codec.h264 import AvcDecoderConfigurationRecord
from wire.codec.h265 import HevcDecoderConfigurationRecord
from wire.codec.nal import VideoCodec
from wire.rtmp.chunk import EXTENDED_TIMESTAMP, ChunkReader, RtmpMessage
from wire.rtmp.errors import RtmpError
from wire.rtmp.messages import (
    Command,
    MessageType,
    SetChunkSize,
    SetPeerBandwidth,
    WindowAckSize,
    split_aggregate,
)

HANDSHAKE_SIZE = 1 + 1536 + 1536
"""C0+C1+C2 (and S0+S1+S2)."""
TIMESTAMP_GAP_MS = 1000
"""A step between two timestamps of one media type above this is a gap."""
MAX_LISTED = 50
_STREAM_NAME_COMMANDS = ("publish", "play", "releaseStream", "FCPublish", "FCUnpublish", "play2")
_H264_SPS = 7
_H265_SPS = 33


@dataclass
class RtmpCommandSeen:
    from_client: bool
    packet: int
    time: float
    name: str
    transaction_id: float
    stream_id: int
    details: dict[str, str] = field(default_factory=dict)
    """What matters of the command: app, tcUrl, stream name, code, description..."""


@dataclass
class TimestampEvent:
    packet: int
    previous: int
    timestamp: int


@dataclass
class RtmpMediaStream:
    """The audio and video of one message stream in one direction."""

    stream_id: int
    from_client: bool
    video_codec: str | None = None
    audio_codec: str | None = None
    video_format: VideoFormat | None = None
    audio_sample_rate: int | None = None
    audio_channels: int | None = None
    video_frames: int = 0
    keyframes: int = 0
    keyframe_times: list[tuple[int, float]] = field(default_factory=list)
    audio_frames: int = 0
    video_bytes: int = 0
    audio_bytes: int = 0
    sequence_headers: int = 0
    first_timestamp: int | None = None
    last_timestamp: int | None = None
    first_time: float = 0.0
    last_time: float = 0.0
    first_packet: int = 0
    last_packet: int = 0
    gaps: list[TimestampEvent] = field(default_factory=list)
    backwards: list[TimestampEvent] = field(default_factory=list)
    extended_timestamps: int = 0
    first_extended_packet: int = 0
    metadata: dict[str, Amf0Value] = field(default_factory=dict)
    kept: list[tuple[int, int, bytes]] = field(default_factory=list)
    """(message type, timestamp, tag body) of each media message, when asked for."""
    bitrate_series: dict[int, int] = field(default_factory=dict)
    malformed: list[tuple[int, str]] = field(default_factory=list)
    _last_by_type: dict[int, int] = field(default_factory=dict)

    @property
    def duration(self) -> float:
        return self.last_time - self.first_time

    @property
    def bitrate(self) -> float:
        bits = 8 * (self.video_bytes + self.audio_bytes)
        return bits / self.duration if self.duration > 0 else 0.0

    @property
    def keyframe_interval(self) -> float | None:
        times = [t for _, t in self.keyframe_times]
        if len(times) < 2:
            return None
        return (times[-1] - times[0]) / (len(times) - 1)

    @property
    def max_keyframe_interval(self) -> float | None:
        times = [t for _, t in self.keyframe_times]
        if len(times) < 2:
            return None
        return max(b - a for a, b in pairwise(times))


@dataclass
class RtmpSession:
    """One RTMP connection."""

    connection: int
    client: Endpoint
    server: Endpoint
    first_packet: int
    start: float
    handshake: str | None = None
    """``simple`` or ``complex`` (C1 carries a Flash version and a digest), or ``encrypted``."""
    handshake_done: float | None = None
    app: str | None = None
    tc_url: str | None = None
    flash_version: str | None = None
    role: str | None = None
    """``publish`` or ``play``."""
    stream_names: list[str] = field(default_factory=list)
    commands: list[RtmpCommandSeen] = field(default_factory=list)
    statuses: list[tuple[int, str, str]] = field(default_factory=list)
    """(packet, code, description) of onStatus and _error answers."""
    chunk_sizes: list[tuple[bool, int, int]] = field(default_factory=list)
    """(from client, packet, new size)."""
    window_ack_sizes: list[tuple[bool, int]] = field(default_factory=list)
    peer_bandwidths: list[tuple[bool, int]] = field(default_factory=list)
    streams: dict[tuple[bool, int], RtmpMediaStream] = field(default_factory=dict)
    malformed: list[tuple[int, str]] = field(default_factory=list)
    holes: list[tuple[bool, Hole]] = field(default_factory=list)

    @property
    def media_streams(self) -> list[RtmpMediaStream]:
        return [s for s in self.streams.values() if s.video_frames or s.audio_frames]


class _Direction:
    def __init__(self) -> None:
        self.handshake = b""
        self.reader: ChunkReader | None = None
        self.broken = False


class RtmpConnectionAnalyser:
    """Handshake, then chunks, for both directions of one connection."""

    def __init__(
        self, info: ConnectionInfo, sessions: list[RtmpSession], *, keep_media: bool = False
    ) -> None:
        self.keep_media = keep_media
        self.session = RtmpSession(
            info.index, info.client, info.server, info.first_packet, info.first_time
        )
        sessions.append(self.session)
        self._directions = {True: _Direction(), False: _Direction()}

    def data(self, from_client: bool, chunk: bytes, number: int, time: float) -> None:
        direction = self._directions[from_client]
        if direction.broken:
            return
        if direction.reader is None:
            needed = HANDSHAKE_SIZE - len(direction.handshake)
            direction.handshake += chunk[:needed]
            chunk = chunk[needed:]
            if len(direction.handshake) < HANDSHAKE_SIZE:
                return
            self._handshake_done(from_client, direction.handshake, time)
            if direction.broken:
                return
            direction.reader = ChunkReader(max_chunk_streams=4096)
        if not chunk:
            return
        try:
            messages = direction.reader.receive_data(chunk)
        except RtmpError as error:
            self.session.malformed.append((number, f"{_side(from_client)}: {error}"))
            direction.broken = True
            return
        for message in messages:
            self._message(from_client, message, number, time)

    def _handshake_done(self, from_client: bool, handshake: bytes, time: float) -> None:
        session = self.session
        if handshake[0] == 6:
            session.handshake = "encrypted"
            self._directions[from_client].broken = True
            return
        if from_client:
            # C1's bytes 4-7 are zero in the simple handshake and a Flash version otherwise.
            session.handshake = "complex" if any(handshake[5:9]) else "simple"
        elif session.handshake_done is None:
            session.handshake_done = time

    def hole(self, from_client: bool, hole: Hole) -> None:
        self.session.holes.append((from_client, hole))
        # A chunk stream cannot be resynchronised: its headers depend on all that came before.
        self._directions[from_client].broken = True

    def end(self) -> None:
        pass

    # Messages.

    def _message(self, from_client: bool, message: RtmpMessage, number: int, time: float) -> None:
        session = self.session
        kind = message.type_id
        try:
            if kind in (MessageType.AUDIO, MessageType.VIDEO, MessageType.DATA_AMF0):
                self._media(from_client, message, number, time)
            elif kind == MessageType.AGGREGATE:
                for part in split_aggregate(message):
                    self._media(from_client, part, number, time)
            elif kind == MessageType.COMMAND_AMF0:
                self._command(from_client, Command.parse(message.payload), message, number, time)
            elif kind == MessageType.COMMAND_AMF3 and message.payload:
                self._command(
                    from_client, Command.parse(message.payload[1:]), message, number, time
                )
            elif kind == MessageType.SET_CHUNK_SIZE:
                size = SetChunkSize.parse(message.payload).chunk_size
                session.chunk_sizes.append((from_client, number, size))
            elif kind == MessageType.WINDOW_ACK_SIZE:
                session.window_ack_sizes.append(
                    (from_client, WindowAckSize.parse(message.payload).size)
                )
            elif kind == MessageType.SET_PEER_BANDWIDTH:
                peer = SetPeerBandwidth.parse(message.payload)
                session.peer_bandwidths.append((from_client, peer.size))
        except (RtmpError, flv.FlvError, ValueError) as error:
            session.malformed.append((number, f"{_side(from_client)} message type {kind}: {error}"))

    def _command(
        self, from_client: bool, command: Command, message: RtmpMessage, number: int, time: float
    ) -> None:
        session = self.session
        details: dict[str, str] = {}
        name = command.name
        if name == "connect" and isinstance(command.command_object, dict):
            fields = command.command_object
            for key in ("app", "tcUrl", "flashVer", "type", "swfUrl", "pageUrl"):
                value = fields.get(key)
                if isinstance(value, str):
                    details[key] = value
            session.app = details.get("app")
            session.tc_url = details.get("tcUrl")
            session.flash_version = details.get("flashVer")
        elif name in _STREAM_NAME_COMMANDS and command.arguments:
            stream_name = command.arguments[0]
            if isinstance(stream_name, str):
                details["stream"] = stream_name
                if stream_name not in session.stream_names:
                    session.stream_names.append(stream_name)
            if name in ("publish", "play"):
                session.role = name
                if (
                    name == "publish"
                    and len(command.arguments) > 1
                    and isinstance(command.arguments[1], str)
                ):
                    details["type"] = command.arguments[1]
        elif name in ("onStatus", "_result", "_error", "onFCPublish"):
            info = next((a for a in command.arguments if isinstance(a, dict)), None)
            if info is not None:
                for key in ("level", "code", "description"):
                    value = info.get(key)
                    if isinstance(value, str):
                        details[key] = value
                if "code" in details and (name != "_result" or details.get("level") == "error"):
                    session.statuses.append(
                        (number, details["code"], details.get("description", ""))
                    )
            elif (
                name == "_result" and command.arguments and isinstance(command.arguments[0], float)
            ):
                details["stream id"] = str(int(command.arguments[0]))
        session.commands.append(
            RtmpCommandSeen(
                from_client, number, time, name, command.transaction_id, message.stream_id, details
            )
        )

    def _media(self, from_client: bool, message: RtmpMessage, number: int, time: float) -> None:
        key = (from_client, message.stream_id)
        stream = self.session.streams.get(key)
        if stream is None:
            stream = self.session.streams[key] = RtmpMediaStream(message.stream_id, from_client)
        kind = message.type_id
        if kind == MessageType.DATA_AMF0:
            data = flv.ScriptData.parse(message.payload)
            if data.name == "onMetaData" and data.metadata is not None:
                stream.metadata = dict(data.metadata)
            return
        if not message.payload:
            return
        self._timestamps(stream, kind, message.timestamp, number, time)
        if self.keep_media:
            stream.kept.append((kind, message.timestamp, message.payload))
        second = int(time - stream.first_time)
        stream.bitrate_series[second] = stream.bitrate_series.get(second, 0) + 8 * len(
            message.payload
        )
        if kind == MessageType.VIDEO:
            stream.video_bytes += len(message.payload)
            self._video(stream, flv.VideoTag.parse(message.payload), number, time)
        else:
            stream.audio_bytes += len(message.payload)
            self._audio(stream, flv.AudioTag.parse(message.payload))

    def _timestamps(
        self, stream: RtmpMediaStream, kind: int, timestamp: int, number: int, time: float
    ) -> None:
        if stream.first_timestamp is None:
            stream.first_timestamp = timestamp
            stream.first_time = time
            stream.first_packet = number
        stream.last_timestamp = timestamp
        stream.last_time = time
        stream.last_packet = number
        if timestamp >= EXTENDED_TIMESTAMP:
            stream.extended_timestamps += 1
            stream.first_extended_packet = stream.first_extended_packet or number
        previous = stream._last_by_type.get(kind)
        stream._last_by_type[kind] = timestamp
        if previous is None:
            return
        step = timestamp - previous
        if step < 0 and len(stream.backwards) < MAX_LISTED:
            stream.backwards.append(TimestampEvent(number, previous, timestamp))
        elif step > TIMESTAMP_GAP_MS and len(stream.gaps) < MAX_LISTED:
            stream.gaps.append(TimestampEvent(number, previous, timestamp))

    def _video(self, stream: RtmpMediaStream, tag: flv.VideoTag, number: int, time: float) -> None:
        codec = tag.fourcc or {flv.CODEC_ID_AVC: "avc", flv.CODEC_ID_HEVC_COMMUNITY: "hevc"}.get(
            tag.codec_id or 0, f"codec {tag.codec_id}"
        )
        stream.video_codec = _CODEC_NAMES.get(codec, codec)
        if tag.is_sequence_header:
            stream.sequence_headers += 1
            stream.video_format = _video_format(stream.video_codec, tag.data) or stream.video_format
            return
        if tag.packet_type in (
            None,
            flv.VideoPacketType.CODED_FRAMES,
            flv.VideoPacketType.CODED_FRAMES_X,
        ):
            stream.video_frames += 1
            if tag.is_keyframe:
                stream.keyframes += 1
                stream.keyframe_times.append((number, time))

    def _audio(self, stream: RtmpMediaStream, tag: flv.AudioTag) -> None:
        if tag.enhanced:
            stream.audio_codec = tag.fourcc
        else:
            stream.audio_codec = _SOUND_FORMATS.get(tag.sound_format, f"format {tag.sound_format}")
        if tag.is_sequence_header:
            stream.sequence_headers += 1
            if tag.sound_format == flv.SOUND_FORMAT_AAC:
                try:
                    config = AudioSpecificConfig.parse(tag.data)
                    stream.audio_sample_rate = config.output_sample_rate
                    stream.audio_channels = config.channels
                except CodecError as error:
                    stream.malformed.append((0, f"AudioSpecificConfig: {error}"))
            return
        stream.audio_frames += 1


_CODEC_NAMES = {
    "avc": "H264",
    "avc1": "H264",
    "hevc": "H265",
    "hvc1": "H265",
    "av01": "AV1",
    "vp09": "VP9",
}
_SOUND_FORMATS = {
    flv.SOUND_FORMAT_AAC: "AAC",
    flv.SOUND_FORMAT_MP3: "MP3",
    0: "PCM",
    3: "PCM",
    7: "G711A",
    8: "G711U",
    11: "Speex",
}


def _video_format(codec: str, record: bytes) -> VideoFormat | None:
    try:
        if codec == "H264":
            avc = AvcDecoderConfigurationRecord.parse(record)
            return VideoFormat.from_sps(VideoCodec.H264, avc.sps[0]) if avc.sps else None
        if codec == "H265":
            hevc = HevcDecoderConfigurationRecord.parse(record)
            for array in hevc.arrays:
                for nal in array.nal_units:
                    if (nal[0] >> 1) & 0x3F == _H265_SPS:
                        return VideoFormat.from_sps(VideoCodec.H265, nal)
    except (CodecError, ValueError):
        return None
    return None


def _side(from_client: bool) -> str:
    return "client" if from_client else "server"
