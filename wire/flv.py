"""FLV tag bodies (audio, video, script data) and FLV file framing.

Legacy layouts follow Adobe's "Video File Format Specification v10.1", annex E: AVC video
(CodecID 7) with AVCPacketType and a signed 24-bit composition time, AAC audio (SoundFormat 10)
with AACPacketType. Enhanced RTMP (veovera enhanced-rtmp v1/v2) adds the ``isExVideoHeader`` bit,
FourCC codec signalling and packet types for video, and the ``ExHeader`` sound format for audio.
The same bodies travel in RTMP audio/video/data messages and in FLV file tags.

Malformed input raises :class:`FlvError` (a ``ValueError``) and nothing else.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING

from wire import amf0, speedups

TAG_TYPE_AUDIO = 8
TAG_TYPE_VIDEO = 9
TAG_TYPE_SCRIPT_DATA = 18

FLV_SIGNATURE = b"FLV"
FLV_VERSION = 1
FILE_HEADER_SIZE = 9
TAG_HEADER_SIZE = 11
PREVIOUS_TAG_SIZE_SIZE = 4

# Legacy VideoTagHeader CodecID values.
CODEC_ID_AVC = 7
CODEC_ID_HEVC_COMMUNITY = 12
"""Not in any specification, but sent by Chinese CDNs and servers before Enhanced RTMP existed."""

# Enhanced RTMP video FourCCs.
FOURCC_AVC1 = "avc1"
FOURCC_HVC1 = "hvc1"
FOURCC_AV01 = "av01"
FOURCC_VP09 = "vp09"

# Legacy SoundFormat values.
SOUND_FORMAT_MP3 = 2
SOUND_FORMAT_EX_HEADER = 9
SOUND_FORMAT_AAC = 10

# AACPacketType values.
AAC_SEQUENCE_HEADER = 0
AAC_RAW = 1

_EX_VIDEO_HEADER = 0x80


class FlvError(ValueError):
    """Malformed or unsupported FLV data."""


class VideoFrameType(IntEnum):
    KEY = 1
    INTER = 2
    DISPOSABLE_INTER = 3
    GENERATED_KEY = 4
    COMMAND = 5


class VideoPacketType(IntEnum):
    """Enhanced RTMP VideoPacketType; legacy AVCPacketType 0/1/2 share the first three values."""

    SEQUENCE_START = 0
    CODED_FRAMES = 1
    SEQUENCE_END = 2
    CODED_FRAMES_X = 3
    METADATA = 4
    MPEG2TS_SEQUENCE_START = 5
    MULTITRACK = 6
    MOD_EX = 7


class AudioPacketType(IntEnum):
    """Enhanced RTMP AudioPacketType (after SoundFormat 9, ExHeader)."""

    SEQUENCE_START = 0
    CODED_FRAMES = 1
    SEQUENCE_END = 2
    MULTICHANNEL_CONFIG = 4
    MULTITRACK = 5
    MOD_EX = 7


_LEGACY_PACKETIZED_CODECS = (CODEC_ID_AVC, CODEC_ID_HEVC_COMMUNITY)
# Plain ints for the checks every tag goes through: naming an enum member costs about 0.1 µs.
_SEQUENCE_START = int(VideoPacketType.SEQUENCE_START)
_SEQUENCE_END = int(VideoPacketType.SEQUENCE_END)
_FRAME_TYPE_KEY = int(VideoFrameType.KEY)
_FRAME_TYPE_COMMAND = int(VideoFrameType.COMMAND)
_FOURCCS_WITH_COMPOSITION_TIME = (FOURCC_AVC1, FOURCC_HVC1)
_UNSUPPORTED_VIDEO_PACKET_TYPES = (VideoPacketType.MULTITRACK, VideoPacketType.MOD_EX)
_UNSUPPORTED_AUDIO_PACKET_TYPES = (AudioPacketType.MULTITRACK, AudioPacketType.MOD_EX)


def _parse_video_py(cls: type[VideoTag], data: bytes) -> VideoTag:
    """Parse a video tag body as ``cls``; raises :class:`FlvError` when it is malformed (the
    pure-Python :meth:`VideoTag.parse`, the reference of ``wire._flv``)."""
    if not data:
        raise FlvError("video tag: empty")
    if data[0] & _EX_VIDEO_HEADER:
        return cls._parse_enhanced(data)
    frame_type, codec_id = data[0] >> 4, data[0] & 0x0F
    if not 1 <= frame_type <= _FRAME_TYPE_COMMAND:
        _check_frame_type(frame_type)
    if codec_id not in _LEGACY_PACKETIZED_CODECS:
        return cls(frame_type, None, data[1:], 0, codec_id)
    if len(data) < 5:
        raise FlvError(f"video tag: truncated AVC header, need 5 bytes, have {len(data)}")
    packet_type = data[1]
    if packet_type > _SEQUENCE_END:
        raise FlvError(f"video tag: AVCPacketType {packet_type} is not 0, 1 or 2")
    # The signed 24-bit composition time (annex E.4.3.1), read in place.
    composition_time = int.from_bytes(data[2:5], "big", signed=True)
    return cls(frame_type, packet_type, data[5:], composition_time, codec_id)


def _parse_audio_py(cls: type[AudioTag], data: bytes) -> AudioTag:
    """Parse an audio tag body as ``cls``; raises :class:`FlvError` when it is malformed (the
    pure-Python :meth:`AudioTag.parse`, the reference of ``wire._flv``)."""
    if not data:
        raise FlvError("audio tag: empty")
    sound_format = data[0] >> 4
    if sound_format == SOUND_FORMAT_EX_HEADER:
        packet_type = data[0] & 0x0F
        if packet_type in _UNSUPPORTED_AUDIO_PACKET_TYPES or packet_type > AudioPacketType.MOD_EX:
            raise FlvError(f"audio tag: enhanced AudioPacketType {packet_type} is not supported")
        if len(data) < 5:
            raise FlvError(f"audio tag: truncated FourCC, need 5 bytes, have {len(data)}")
        fourcc = _decode_fourcc(data[1:5], "audio tag")
        return cls(sound_format, data[5:], 0, 0, 0, packet_type, fourcc)
    rate, size, channels = (data[0] >> 2) & 0x03, (data[0] >> 1) & 0x01, data[0] & 0x01
    if sound_format != SOUND_FORMAT_AAC:
        return cls(sound_format, data[1:], rate, size, channels)
    if len(data) < 2:
        raise FlvError("audio tag: truncated AAC header, need 2 bytes, have 1")
    if data[1] > AAC_RAW:
        raise FlvError(f"audio tag: AACPacketType {data[1]} is not 0 or 1")
    return cls(sound_format, data[2:], rate, size, channels, data[1])


_ext = speedups.extension("wire._flv")
_parse_video: Callable[[type[VideoTag], bytes], VideoTag] = (
    _ext.parse_video if _ext is not None else _parse_video_py
)
_parse_audio: Callable[[type[AudioTag], bytes], AudioTag] = (
    _ext.parse_audio if _ext is not None else _parse_audio_py
)


@dataclass(frozen=True)
class VideoTag:
    """A video tag body, legacy (``codec_id`` set) or Enhanced RTMP (``fourcc`` set).

    ``packet_type`` is the AVCPacketType for legacy AVC/HEVC, the VideoPacketType for enhanced
    tags, and ``None`` for legacy codecs without one. ``composition_time`` (ms, signed) is carried
    only by legacy AVC/HEVC and by enhanced ``avc1``/``hvc1`` CodedFrames.
    """

    frame_type: int
    packet_type: int | None
    data: bytes
    composition_time: int = 0
    codec_id: int | None = None
    fourcc: str | None = None

    def __init__(
        self,
        frame_type: int,
        packet_type: int | None,
        data: bytes,
        composition_time: int = 0,
        codec_id: int | None = None,
        fourcc: str | None = None,
    ) -> None:
        # One per video message: filling the instance dict directly costs half of the
        # generated frozen __init__. Equality, hashing and immutability stay the dataclass's.
        fields = self.__dict__
        fields["frame_type"] = frame_type
        fields["packet_type"] = packet_type
        fields["data"] = data
        fields["composition_time"] = composition_time
        fields["codec_id"] = codec_id
        fields["fourcc"] = fourcc

    @property
    def enhanced(self) -> bool:
        return self.fourcc is not None

    @property
    def is_keyframe(self) -> bool:
        return self.frame_type == _FRAME_TYPE_KEY

    @property
    def is_sequence_header(self) -> bool:
        """True for an AVC sequence header or an enhanced SequenceStart (codec configuration)."""
        return self.packet_type == _SEQUENCE_START and (
            self.fourcc is not None or self.codec_id in _LEGACY_PACKETIZED_CODECS
        )

    if TYPE_CHECKING:

        @classmethod
        def parse(cls, data: bytes) -> VideoTag:
            """Parse a video tag body; raises :class:`FlvError` when it is malformed."""
    else:
        # The parser itself as the classmethod, without a call in between: one per message.
        parse = classmethod(_parse_video)

    @classmethod
    def _parse_enhanced(cls, data: bytes) -> VideoTag:
        frame_type, packet_type = (data[0] >> 4) & 0x07, data[0] & 0x0F
        _check_frame_type(frame_type)
        if packet_type in _UNSUPPORTED_VIDEO_PACKET_TYPES or packet_type > VideoPacketType.MOD_EX:
            raise FlvError(f"video tag: enhanced VideoPacketType {packet_type} is not supported")
        if frame_type == VideoFrameType.COMMAND and packet_type != VideoPacketType.METADATA:
            raise FlvError("video tag: enhanced command frames are not supported")
        if len(data) < 5:
            raise FlvError(f"video tag: truncated FourCC, need 5 bytes, have {len(data)}")
        fourcc = _decode_fourcc(data[1:5], "video tag")
        if packet_type == VideoPacketType.CODED_FRAMES and fourcc in _FOURCCS_WITH_COMPOSITION_TIME:
            if len(data) < 8:
                raise FlvError(
                    f"video tag: truncated composition time, need 8 bytes, have {len(data)}"
                )
            return cls(frame_type, packet_type, data[8:], _unpack_si24(data[5:8]), fourcc=fourcc)
        return cls(frame_type, packet_type, data[5:], fourcc=fourcc)

    def serialize(self) -> bytes:
        if not 1 <= self.frame_type <= VideoFrameType.COMMAND:
            raise FlvError(f"video tag: frame type {self.frame_type} is not 1-5")
        if self.fourcc is not None:
            if self.codec_id is not None:
                raise FlvError("video tag: set either codec_id (legacy) or fourcc (enhanced)")
            if self.packet_type is None or not 0 <= self.packet_type <= 0x0F:
                raise FlvError(
                    f"video tag: enhanced tags need a packet type, got {self.packet_type}"
                )
            header = bytes((_EX_VIDEO_HEADER | self.frame_type << 4 | self.packet_type,))
            header += _encode_fourcc(self.fourcc, "video tag")
            if (
                self.packet_type == VideoPacketType.CODED_FRAMES
                and self.fourcc in _FOURCCS_WITH_COMPOSITION_TIME
            ):
                header += _pack_si24(self.composition_time)
            return header + self.data
        if self.codec_id is None or not 0 <= self.codec_id <= 0x0F:
            raise FlvError(f"video tag: legacy tags need a 4-bit codec id, got {self.codec_id}")
        header = bytes((self.frame_type << 4 | self.codec_id,))
        if self.codec_id in _LEGACY_PACKETIZED_CODECS:
            if (
                self.packet_type is None
                or not 0 <= self.packet_type <= VideoPacketType.SEQUENCE_END
            ):
                raise FlvError(f"video tag: AVCPacketType {self.packet_type} is not 0, 1 or 2")
            header += bytes((self.packet_type,)) + _pack_si24(self.composition_time)
        return header + self.data


@dataclass(frozen=True)
class AudioTag:
    """An audio tag body, legacy or Enhanced RTMP (``sound_format`` 9 with ``fourcc`` set).

    ``packet_type`` is the AACPacketType for AAC, the AudioPacketType for enhanced tags and
    ``None`` otherwise. Enhanced tags carry no rate/size/type bits; those fields are then 0.
    """

    sound_format: int
    data: bytes
    sound_rate: int = 3
    sound_size: int = 1
    sound_type: int = 1
    packet_type: int | None = None
    fourcc: str | None = None

    def __init__(
        self,
        sound_format: int,
        data: bytes,
        sound_rate: int = 3,
        sound_size: int = 1,
        sound_type: int = 1,
        packet_type: int | None = None,
        fourcc: str | None = None,
    ) -> None:
        # One per audio message: see VideoTag.__init__.
        fields = self.__dict__
        fields["sound_format"] = sound_format
        fields["data"] = data
        fields["sound_rate"] = sound_rate
        fields["sound_size"] = sound_size
        fields["sound_type"] = sound_type
        fields["packet_type"] = packet_type
        fields["fourcc"] = fourcc

    @property
    def enhanced(self) -> bool:
        return self.sound_format == SOUND_FORMAT_EX_HEADER

    @property
    def is_sequence_header(self) -> bool:
        """True for an AAC AudioSpecificConfig or an enhanced SequenceStart."""
        return self.packet_type == AAC_SEQUENCE_HEADER and (
            self.enhanced or self.sound_format == SOUND_FORMAT_AAC
        )

    if TYPE_CHECKING:

        @classmethod
        def parse(cls, data: bytes) -> AudioTag:
            """Parse an audio tag body; raises :class:`FlvError` when it is malformed."""
    else:
        parse = classmethod(_parse_audio)

    def serialize(self) -> bytes:
        if self.enhanced:
            if self.fourcc is None or self.packet_type is None or not 0 <= self.packet_type <= 0x0F:
                raise FlvError("audio tag: enhanced tags need a FourCC and a packet type")
            first = SOUND_FORMAT_EX_HEADER << 4 | self.packet_type
            return bytes((first,)) + _encode_fourcc(self.fourcc, "audio tag") + self.data
        if not 0 <= self.sound_format <= 0x0F:
            raise FlvError(f"audio tag: sound format {self.sound_format} does not fit in 4 bits")
        first = (
            self.sound_format << 4
            | (self.sound_rate & 0x03) << 2
            | (self.sound_size & 0x01) << 1
            | (self.sound_type & 0x01)
        )
        if self.sound_format != SOUND_FORMAT_AAC:
            return bytes((first,)) + self.data
        if self.packet_type not in (AAC_SEQUENCE_HEADER, AAC_RAW):
            raise FlvError(f"audio tag: AACPacketType {self.packet_type} is not 0 or 1")
        return bytes((first, self.packet_type)) + self.data


@dataclass(frozen=True)
class ScriptData:
    """A script data body: a handler name (``onMetaData``) and its AMF0 arguments.

    Publishers send metadata over RTMP as ``@setDataFrame("onMetaData", {...})``; servers strip the
    ``@setDataFrame`` wrapper before storing or relaying it. ``set_data_frame`` records that form.
    """

    name: str
    values: tuple[amf0.Amf0Value, ...]
    set_data_frame: bool = False

    @classmethod
    def on_metadata(
        cls, metadata: dict[str, amf0.Amf0Value], *, set_data_frame: bool = False
    ) -> ScriptData:
        """An ``onMetaData`` body carrying ``metadata`` as an ECMA array, as FFmpeg writes it."""
        return cls("onMetaData", (amf0.EcmaArray(metadata),), set_data_frame)

    @property
    def metadata(self) -> dict[str, amf0.Amf0Value] | None:
        """The first argument when it is an object or ECMA array, else ``None``."""
        if self.values and isinstance(self.values[0], dict):
            return self.values[0]
        return None

    @classmethod
    def parse(cls, data: bytes) -> ScriptData:
        try:
            values = amf0.decode(data)
        except amf0.Amf0Error as exc:
            raise FlvError(f"script data: {exc}") from exc
        set_data_frame = bool(values) and values[0] == "@setDataFrame"
        if set_data_frame:
            values = values[1:]
        if not values or not isinstance(values[0], str):
            raise FlvError("script data: does not start with a handler name string")
        return cls(values[0], tuple(values[1:]), set_data_frame)

    def serialize(self) -> bytes:
        prefix: tuple[amf0.Amf0Value, ...] = ("@setDataFrame",) if self.set_data_frame else ()
        try:
            return amf0.encode(*prefix, self.name, *self.values)
        except amf0.Amf0Error as exc:
            raise FlvError(f"script data: {exc}") from exc


def parse_body(tag_type: int, data: bytes) -> VideoTag | AudioTag | ScriptData:
    """Parse a tag body by its FLV tag type (equal to the RTMP message type id)."""
    if tag_type == TAG_TYPE_VIDEO:
        return VideoTag.parse(data)
    if tag_type == TAG_TYPE_AUDIO:
        return AudioTag.parse(data)
    if tag_type == TAG_TYPE_SCRIPT_DATA:
        return ScriptData.parse(data)
    raise FlvError(f"tag type {tag_type} is not audio (8), video (9) or script data (18)")


@dataclass(frozen=True)
class FileHeader:
    """The FLV file header; :meth:`serialize` includes the PreviousTagSize0 that follows it."""

    has_audio: bool = True
    has_video: bool = True

    @classmethod
    def parse(cls, data: bytes) -> tuple[FileHeader, int]:
        """Parse a file header; return it and the offset of the first tag."""
        if len(data) < FILE_HEADER_SIZE:
            raise FlvError(f"file header: truncated, need 9 bytes, have {len(data)}")
        signature, version, flags, data_offset = struct.unpack(">3sBBI", data[:FILE_HEADER_SIZE])
        if signature != FLV_SIGNATURE:
            raise FlvError(f"file header: signature {signature!r} is not b'FLV'")
        if version != FLV_VERSION:
            raise FlvError(f"file header: version {version} is not 1")
        if data_offset < FILE_HEADER_SIZE:
            raise FlvError(f"file header: DataOffset {data_offset} is smaller than the header")
        return cls(bool(flags & 0x04), bool(flags & 0x01)), data_offset + PREVIOUS_TAG_SIZE_SIZE

    def serialize(self) -> bytes:
        flags = (0x04 if self.has_audio else 0) | (0x01 if self.has_video else 0)
        header = struct.pack(">3sBBI", FLV_SIGNATURE, FLV_VERSION, flags, FILE_HEADER_SIZE)
        return header + bytes(PREVIOUS_TAG_SIZE_SIZE)


@dataclass(frozen=True)
class TagHeader:
    """The 11-byte header in front of every tag body in an FLV file."""

    tag_type: int
    data_size: int
    timestamp: int
    stream_id: int = 0

    @classmethod
    def parse(cls, data: bytes) -> TagHeader:
        if len(data) < TAG_HEADER_SIZE:
            raise FlvError(f"tag header: truncated, need 11 bytes, have {len(data)}")
        if data[0] & 0x20:
            raise FlvError("tag header: encrypted (Filter bit set) tags are not supported")
        tag_type = data[0] & 0x1F
        data_size = int.from_bytes(data[1:4], "big")
        # TimestampExtended carries the upper 8 bits of the 32-bit millisecond timestamp.
        timestamp = int.from_bytes(data[4:7], "big") | data[7] << 24
        return cls(tag_type, data_size, timestamp, int.from_bytes(data[8:11], "big"))

    def serialize(self) -> bytes:
        if not 0 <= self.data_size <= 0xFFFFFF:
            raise FlvError(f"tag header: data size {self.data_size} does not fit in 24 bits")
        timestamp = self.timestamp & 0xFFFFFFFF
        return (
            bytes((self.tag_type & 0x1F,))
            + self.data_size.to_bytes(3, "big")
            + (timestamp & 0xFFFFFF).to_bytes(3, "big")
            + bytes((timestamp >> 24,))
            + (self.stream_id & 0xFFFFFF).to_bytes(3, "big")
        )


@dataclass(frozen=True)
class FlvTag:
    """A complete file tag: header, body and the PreviousTagSize that follows it."""

    tag_type: int
    timestamp: int
    data: bytes

    @classmethod
    def parse(cls, data: bytes, offset: int = 0) -> tuple[FlvTag, int]:
        """Parse the tag at ``offset``; return it and the offset of the next tag."""
        header = TagHeader.parse(data[offset : offset + TAG_HEADER_SIZE])
        body_start = offset + TAG_HEADER_SIZE
        end = body_start + header.data_size + PREVIOUS_TAG_SIZE_SIZE
        if end > len(data):
            raise FlvError(
                f"tag: truncated, need {end - offset} bytes at offset {offset}, "
                f"have {len(data) - offset}"
            )
        body = data[body_start : body_start + header.data_size]
        (previous_size,) = struct.unpack(">I", data[end - PREVIOUS_TAG_SIZE_SIZE : end])
        if previous_size != TAG_HEADER_SIZE + header.data_size:
            raise FlvError(
                f"tag: PreviousTagSize {previous_size} does not match "
                f"{TAG_HEADER_SIZE + header.data_size}"
            )
        return cls(header.tag_type, header.timestamp, body), end

    def serialize(self) -> bytes:
        header = TagHeader(self.tag_type, len(self.data), self.timestamp).serialize()
        return header + self.data + struct.pack(">I", TAG_HEADER_SIZE + len(self.data))


def _check_frame_type(frame_type: int) -> None:
    if not 1 <= frame_type <= VideoFrameType.COMMAND:
        raise FlvError(f"video tag: frame type {frame_type} is not 1-5")


def _unpack_si24(raw: bytes) -> int:
    return int.from_bytes(raw, "big", signed=True)


def _pack_si24(value: int) -> bytes:
    if not -0x800000 <= value <= 0x7FFFFF:
        raise FlvError(f"composition time {value} does not fit in a signed 24-bit field")
    return value.to_bytes(3, "big", signed=True)


def _decode_fourcc(raw: bytes, what: str) -> str:
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError as exc:
        raise FlvError(f"{what}: FourCC {raw!r} is not ASCII") from exc


def _encode_fourcc(fourcc: str, what: str) -> bytes:
    raw = fourcc.encode("ascii", errors="replace")
    if len(raw) != 4 or raw.decode("ascii") != fourcc:
        raise FlvError(f"{what}: FourCC {fourcc!r} is not 4 ASCII characters")
    return raw
