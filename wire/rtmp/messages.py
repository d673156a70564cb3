"""RTMP message payloads: protocol control, user control, commands and data.

RTMP specification 1.0, sections 5.4 (protocol control), 6.2 (user control) and 7.1 (command and
data messages, AMF0 encoded). Each payload class has ``parse(payload)`` and ``serialize()`` and
knows its message type id; :func:`to_message` wraps one into an :class:`RtmpMessage`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from enum import IntEnum
from typing import ClassVar

from wire import amf0
from wire.amf0 import Amf0Value
from wire.rtmp.chunk import RtmpMessage
from wire.rtmp.errors import RtmpError


class MessageType(IntEnum):
    SET_CHUNK_SIZE = 1
    ABORT = 2
    ACKNOWLEDGEMENT = 3
    USER_CONTROL = 4
    WINDOW_ACK_SIZE = 5
    SET_PEER_BANDWIDTH = 6
    AUDIO = 8
    VIDEO = 9
    DATA_AMF3 = 15
    SHARED_OBJECT_AMF3 = 16
    COMMAND_AMF3 = 17
    DATA_AMF0 = 18
    SHARED_OBJECT_AMF0 = 19
    COMMAND_AMF0 = 20
    AGGREGATE = 22


class UserControlType(IntEnum):
    STREAM_BEGIN = 0
    STREAM_EOF = 1
    STREAM_DRY = 2
    SET_BUFFER_LENGTH = 3
    STREAM_IS_RECORDED = 4
    PING_REQUEST = 6
    PING_RESPONSE = 7


class PeerBandwidthLimit(IntEnum):
    HARD = 0
    SOFT = 1
    DYNAMIC = 2


def _u32(payload: bytes, what: str, offset: int = 0) -> int:
    if len(payload) < offset + 4:
        raise RtmpError(f"{what}: truncated, need {offset + 4} bytes, have {len(payload)}")
    (value,) = struct.unpack_from(">I", payload, offset)
    return int(value)


@dataclass(frozen=True)
class SetChunkSize:
    TYPE_ID: ClassVar[int] = MessageType.SET_CHUNK_SIZE
    chunk_size: int

    @classmethod
    def parse(cls, payload: bytes) -> SetChunkSize:
        return cls(_u32(payload, "Set Chunk Size") & 0x7FFFFFFF)

    def serialize(self) -> bytes:
        return struct.pack(">I", self.chunk_size & 0x7FFFFFFF)


@dataclass(frozen=True)
class Abort:
    TYPE_ID: ClassVar[int] = MessageType.ABORT
    chunk_stream_id: int

    @classmethod
    def parse(cls, payload: bytes) -> Abort:
        return cls(_u32(payload, "Abort"))

    def serialize(self) -> bytes:
        return struct.pack(">I", self.chunk_stream_id)


@dataclass(frozen=True)
class Acknowledgement:
    TYPE_ID: ClassVar[int] = MessageType.ACKNOWLEDGEMENT
    sequence_number: int

    @classmethod
    def parse(cls, payload: bytes) -> Acknowledgement:
        return cls(_u32(payload, "Acknowledgement"))

    def serialize(self) -> bytes:
        return struct.pack(">I", self.sequence_number & 0xFFFFFFFF)


@dataclass(frozen=True)
class WindowAckSize:
    TYPE_ID: ClassVar[int] = MessageType.WINDOW_ACK_SIZE
    size: int

    @classmethod
    def parse(cls, payload: bytes) -> WindowAckSize:
        return cls(_u32(payload, "Window Acknowledgement Size"))

    def serialize(self) -> bytes:
        return struct.pack(">I", self.size)


@dataclass(frozen=True)
class SetPeerBandwidth:
    TYPE_ID: ClassVar[int] = MessageType.SET_PEER_BANDWIDTH
    size: int
    limit_type: int = PeerBandwidthLimit.DYNAMIC

    @classmethod
    def parse(cls, payload: bytes) -> SetPeerBandwidth:
        if len(payload) < 5:
            raise RtmpError(f"Set Peer Bandwidth: truncated, need 5 bytes, have {len(payload)}")
        return cls(_u32(payload, "Set Peer Bandwidth"), payload[4])

    def serialize(self) -> bytes:
        return struct.pack(">IB", self.size, self.limit_type)


@dataclass(frozen=True)
class UserControl:
    """A user control event: its type and the 32-bit values that follow it.

    Every event carries one value (a stream id or a timestamp) except SetBufferLength, which
    carries the stream id and the buffer length in milliseconds.
    """

    TYPE_ID: ClassVar[int] = MessageType.USER_CONTROL
    event_type: int
    value: int
    buffer_length: int | None = None

    @classmethod
    def stream_begin(cls, stream_id: int) -> UserControl:
        return cls(UserControlType.STREAM_BEGIN, stream_id)

    @classmethod
    def ping_request(cls, timestamp: int) -> UserControl:
        return cls(UserControlType.PING_REQUEST, timestamp)

    @classmethod
    def ping_response(cls, timestamp: int) -> UserControl:
        return cls(UserControlType.PING_RESPONSE, timestamp)

    @classmethod
    def parse(cls, payload: bytes) -> UserControl:
        if len(payload) < 2:
            raise RtmpError(f"User Control: truncated, need 2 bytes, have {len(payload)}")
        (event_type,) = struct.unpack_from(">H", payload)
        value = _u32(payload, "User Control", 2)
        if event_type == UserControlType.SET_BUFFER_LENGTH:
            return cls(event_type, value, _u32(payload, "User Control SetBufferLength", 6))
        return cls(event_type, value)

    def serialize(self) -> bytes:
        data = struct.pack(">HI", self.event_type, self.value & 0xFFFFFFFF)
        if self.event_type == UserControlType.SET_BUFFER_LENGTH:
            data += struct.pack(">I", self.buffer_length or 0)
        return data


@dataclass
class Command:
    """An AMF0 command: name, transaction id, command object and further arguments."""

    TYPE_ID: ClassVar[int] = MessageType.COMMAND_AMF0
    name: str
    transaction_id: float
    command_object: amf0.Amf0Value = None
    arguments: list[amf0.Amf0Value] = field(default_factory=list)

    @classmethod
    def parse(cls, payload: bytes) -> Command:
        try:
            values = amf0.decode(payload)
        except amf0.Amf0Error as exc:
            raise RtmpError(f"command: {exc}") from exc
        if len(values) < 2 or not isinstance(values[0], str):
            raise RtmpError("command: does not start with a name string and a transaction id")
        transaction_id = values[1]
        if not isinstance(transaction_id, float) or transaction_id != transaction_id:
            raise RtmpError(
                f"command {values[0]!r}: transaction id {transaction_id!r} is not a number"
            )
        command_object = values[2] if len(values) > 2 else None
        return cls(values[0], transaction_id, command_object, values[3:])

    def serialize(self) -> bytes:
        return amf0.encode(self.name, self.transaction_id, self.command_object, *self.arguments)


@dataclass
class DataMessage:
    """An AMF0 data message: a handler name and its values (``@setDataFrame``, ``onMetaData``)."""

    TYPE_ID: ClassVar[int] = MessageType.DATA_AMF0
    name: str
    values: list[amf0.Amf0Value] = field(default_factory=list)

    @classmethod
    def parse(cls, payload: bytes) -> DataMessage:
        try:
            values = amf0.decode(payload)
        except amf0.Amf0Error as exc:
            raise RtmpError(f"data message: {exc}") from exc
        if not values or not isinstance(values[0], str):
            raise RtmpError("data message: does not start with a handler name string")
        return cls(values[0], values[1:])

    def serialize(self) -> bytes:
        return amf0.encode(self.name, *self.values)


Payload = (
    SetChunkSize
    | Abort
    | Acknowledgement
    | WindowAckSize
    | SetPeerBandwidth
    | UserControl
    | Command
    | DataMessage
)


def as_stream_id(value: Amf0Value) -> int | None:
    """A message stream id carried as an AMF0 number, or ``None`` when it is not one."""
    if isinstance(value, float) and value.is_integer() and 0 <= value <= 0xFFFFFFFF:
        return int(value)
    return None


def to_message(payload: Payload, *, stream_id: int = 0, timestamp: int = 0) -> RtmpMessage:
    """Wrap a payload into a message of its type."""
    return RtmpMessage(payload.TYPE_ID, payload.serialize(), timestamp, stream_id)


def status_info(
    level: str, code: str, description: str, **extra: amf0.Amf0Value
) -> dict[str, amf0.Amf0Value]:
    """The info object of ``onStatus`` and of ``_result``/``_error`` answers."""
    return {"level": level, "code": code, "description": description, **extra}


_AGGREGATE_HEADER_SIZE = 11
_AGGREGATE_BACK_POINTER_SIZE = 4


def split_aggregate(message: RtmpMessage) -> list[RtmpMessage]:
    """The audio, video and data messages inside an aggregate message (section 7.1.6).

    Sub-messages use FLV tag framing. Their timestamps are rebased so the first one takes the
    aggregate message's timestamp and the others keep their offsets from it.
    """
    payload = message.payload
    parts: list[RtmpMessage] = []
    offset = 0
    first_timestamp: int | None = None
    while offset < len(payload):
        if len(payload) - offset < _AGGREGATE_HEADER_SIZE:
            raise RtmpError(f"aggregate: truncated sub-message header at offset {offset}")
        header = payload[offset : offset + _AGGREGATE_HEADER_SIZE]
        size = int.from_bytes(header[1:4], "big")
        timestamp = int.from_bytes(header[4:7], "big") | header[7] << 24
        body_start = offset + _AGGREGATE_HEADER_SIZE
        end = body_start + size + _AGGREGATE_BACK_POINTER_SIZE
        if end > len(payload):
            raise RtmpError(f"aggregate: truncated {size}-byte sub-message at offset {offset}")
        if first_timestamp is None:
            first_timestamp = timestamp
        rebased = (message.timestamp + timestamp - first_timestamp) & 0xFFFFFFFF
        body = payload[body_start : body_start + size]
        parts.append(RtmpMessage(header[0] & 0x1F, body, rebased, message.stream_id))
        offset = end
    return parts
