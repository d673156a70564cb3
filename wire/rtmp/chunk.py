"""The RTMP chunk stream: splitting messages into chunks and reassembling them.

RTMP specification 1.0, section 5.3. Every chunk starts with a basic header (fmt and chunk stream
id in 1, 2 or 3 bytes) and a message header of 11, 7, 3 or 0 bytes for fmt 0-3. Later headers
inherit fields from the previous one on the same chunk stream, so the writer keeps per-stream state
to pick the smallest header and the reader keeps the same state to fill in the missing fields.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from wire import speedups
from wire.rtmp.errors import RemoteProtocolError, RtmpError

DEFAULT_CHUNK_SIZE = 128
MAX_CHUNK_SIZE = 0x7FFFFFFF
MIN_CHUNK_STREAM_ID = 2
MAX_CHUNK_STREAM_ID = 65599
MAX_MESSAGE_LENGTH = 0xFFFFFF
EXTENDED_TIMESTAMP = 0xFFFFFF
"""A timestamp field of this value says a 4-byte extended timestamp follows (section 5.3.1.3)."""
DEFAULT_MAX_BUFFERED_BYTES = 12 * 1024 * 1024
"""What a reader holds in unfinished messages, all chunk streams together: one message of the
largest size by default (8 MiB), plus half as much again for what is interleaved with it."""

FMT_FULL = 0
FMT_SAME_STREAM = 1
FMT_SAME_LENGTH_AND_TYPE = 2
FMT_CONTINUATION = 3
MESSAGE_HEADER_SIZES = (11, 7, 3, 0)

# Set Chunk Size and Abort act on the chunk stream itself, so the reader applies them.
_TYPE_SET_CHUNK_SIZE = 1
_TYPE_ABORT = 2


@dataclass(frozen=True)
class RtmpMessage:
    """One RTMP message: type id, message stream id, timestamp (ms, 32-bit) and payload."""

    type_id: int
    payload: bytes
    timestamp: int = 0
    stream_id: int = 0

    def __init__(
        self, type_id: int, payload: bytes, timestamp: int = 0, stream_id: int = 0
    ) -> None:
        # One per received message: filling the instance dict directly costs half of the
        # generated frozen __init__ (one object.__setattr__ call per field). Equality, hashing,
        # repr and immutability stay the dataclass's.
        fields = self.__dict__
        fields["type_id"] = type_id
        fields["payload"] = payload
        fields["timestamp"] = timestamp
        fields["stream_id"] = stream_id


def encode_basic_header(fmt: int, csid: int) -> bytes:
    """The 1-, 2- or 3-byte basic header, the shortest form that holds ``csid``."""
    if csid < 64:
        return bytes((fmt << 6 | csid,))
    if csid < 320:
        return bytes((fmt << 6, csid - 64))
    return bytes((fmt << 6 | 1, (csid - 64) & 0xFF, (csid - 64) >> 8))


@dataclass
class _WriterStream:
    timestamp: int
    delta: int
    length: int
    type_id: int
    stream_id: int
    extended: bool


class ChunkWriter:
    """Splits messages into chunks, compressing headers against the previous one per stream.

    ``repeat_extended_timestamp`` follows the specification and FFmpeg: continuation (fmt 3)
    chunks of a message whose header used an extended timestamp repeat it. With ``False`` the
    writer behaves like the implementations that omit it, which readers must also cope with.
    """

    def __init__(
        self, chunk_size: int = DEFAULT_CHUNK_SIZE, *, repeat_extended_timestamp: bool = True
    ) -> None:
        self._chunk_size = _check_chunk_size(chunk_size)
        self.repeat_extended_timestamp = repeat_extended_timestamp
        self._streams: dict[int, _WriterStream] = {}

    @property
    def chunk_size(self) -> int:
        return self._chunk_size

    def set_chunk_size(self, chunk_size: int) -> None:
        """Use ``chunk_size`` from the next message on (after sending Set Chunk Size)."""
        self._chunk_size = _check_chunk_size(chunk_size)

    def write(self, csid: int, message: RtmpMessage) -> bytes:
        """The chunks that carry ``message`` on chunk stream ``csid``."""
        if not MIN_CHUNK_STREAM_ID <= csid <= MAX_CHUNK_STREAM_ID:
            raise ValueError(f"chunk stream id {csid} is outside 2-65599")
        length = len(message.payload)
        if length > MAX_MESSAGE_LENGTH:
            raise ValueError(f"message of {length} bytes does not fit the 24-bit length field")
        timestamp = message.timestamp & 0xFFFFFFFF
        fmt, field_value = self._choose_format(csid, message, timestamp)
        extended = field_value >= EXTENDED_TIMESTAMP
        previous = self._streams.get(csid)
        if fmt == FMT_CONTINUATION and previous is not None:
            extended = previous.extended
        self._streams[csid] = _WriterStream(
            timestamp, field_value, length, message.type_id, message.stream_id, extended
        )

        out = bytearray(encode_basic_header(fmt, csid))
        field_bytes = min(field_value, EXTENDED_TIMESTAMP).to_bytes(3, "big")
        if fmt == FMT_FULL:
            out += field_bytes + length.to_bytes(3, "big") + bytes((message.type_id,))
            out += struct.pack("<I", message.stream_id)
        elif fmt == FMT_SAME_STREAM:
            out += field_bytes + length.to_bytes(3, "big") + bytes((message.type_id,))
        elif fmt == FMT_SAME_LENGTH_AND_TYPE:
            out += field_bytes
        extended_bytes = struct.pack(">I", field_value) if extended else b""
        out += extended_bytes
        out += message.payload[: self._chunk_size]
        continuation = encode_basic_header(FMT_CONTINUATION, csid)
        if self.repeat_extended_timestamp:
            continuation += extended_bytes
        for start in range(self._chunk_size, length, self._chunk_size):
            out += continuation
            out += message.payload[start : start + self._chunk_size]
        return bytes(out)

    def _choose_format(self, csid: int, message: RtmpMessage, timestamp: int) -> tuple[int, int]:
        """The header format and the value of its timestamp field (absolute or delta)."""
        previous = self._streams.get(csid)
        if (
            previous is None
            or previous.stream_id != message.stream_id
            or timestamp < previous.timestamp
        ):
            return FMT_FULL, timestamp
        delta = timestamp - previous.timestamp
        if previous.length != len(message.payload) or previous.type_id != message.type_id:
            return FMT_SAME_STREAM, delta
        # A fmt 3 header that starts a message reuses the previous delta (section 5.3.1.2.4). Its
        # extended timestamp is ambiguous for readers when the writer omits repeats, so avoid it.
        if delta != previous.delta or (previous.extended and not self.repeat_extended_timestamp):
            return FMT_SAME_LENGTH_AND_TYPE, delta
        return FMT_CONTINUATION, delta


@dataclass
class _ReaderStream:
    timestamp: int = 0
    timestamp_field: int = 0
    extended: bool = False
    length: int = 0
    type_id: int = 0
    stream_id: int = 0
    partial: bytearray = field(default_factory=bytearray)
    in_progress: bool = False


class PyChunkReader:
    """Reassembles messages from chunks; applies Set Chunk Size and Abort as they arrive.

    The pure-Python reference of :class:`ChunkReader`, which is the compiled ``wire.rtmp._chunk``
    when it is built (see :mod:`wire.speedups`) and this class otherwise.

    Extended timestamps on fmt 3 chunks are read defensively, as SRS does: when the stream's
    header had one, the next 4 bytes are taken as a repeat only if they equal the expected value
    (the header's timestamp field, or the absolute timestamp some writers put there), otherwise
    they are payload. Either writer convention therefore reassembles correctly. When fewer than 4
    bytes have arrived and they could still be the start of a repeat, the reader waits for more.
    """

    def __init__(
        self,
        *,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        max_message_size: int = 8 * 1024 * 1024,
        max_chunk_streams: int = 64,
        max_buffered_bytes: int = DEFAULT_MAX_BUFFERED_BYTES,
        max_chunk_size: int = MAX_CHUNK_SIZE,
    ) -> None:
        if max_buffered_bytes < max_message_size:
            raise ValueError(
                f"max_buffered_bytes {max_buffered_bytes} cannot hold one message of "
                f"max_message_size {max_message_size}"
            )
        self._chunk_size = _check_chunk_size(chunk_size)
        self.max_message_size = max_message_size
        self.max_chunk_streams = max_chunk_streams
        self.max_buffered_bytes = max_buffered_bytes
        self.max_chunk_size = _check_chunk_size(max_chunk_size)
        """The largest chunk size the peer may announce; a larger one is a protocol error."""
        self._streams: dict[int, _ReaderStream] = {}
        self._buffer = bytearray()
        self._partial_bytes = 0
        """Payload bytes of unfinished messages, all chunk streams together."""

    @property
    def chunk_size(self) -> int:
        """The peer's current chunk size."""
        return self._chunk_size

    def receive_data(self, data: bytes) -> list[RtmpMessage]:
        """Buffer ``data``; return every message it completes, in order.

        Raises :class:`RtmpError` for a malformed chunk stream, and :class:`RemoteProtocolError`
        when unfinished messages hold more than ``max_buffered_bytes``; the reader is unusable
        after either.
        """
        return list(self.messages(data))

    def messages(self, data: bytes) -> Iterator[RtmpMessage]:
        """Like :meth:`receive_data`, but yields each message as it completes, so that the
        messages before an error in ``data`` can be handled before the error is raised."""
        self._buffer += data
        offset = 0
        try:
            while True:
                consumed, message = self._read_chunk(offset)
                if consumed == 0:
                    break
                offset += consumed
                if message is not None:
                    self._apply_control(message)
                    yield message
        finally:
            del self._buffer[:offset]
        # Every complete chunk is consumed: what is left is the start of one chunk. It and the
        # unfinished messages are what the peer makes us hold; 64 chunk streams each with a
        # message one chunk short of done would otherwise hold 64 times max_message_size.
        held = self._partial_bytes + len(self._buffer)
        if held > self.max_buffered_bytes:
            raise RemoteProtocolError(
                f"{held} bytes of unfinished messages exceed the "
                f"{self.max_buffered_bytes}-byte limit"
            )

    @property
    def has_partial(self) -> bool:
        """True while part of a chunk or of a message is held, waiting for the rest."""
        return bool(self._buffer) or self._partial_bytes > 0

    def bytes_to_complete(self) -> int | None:
        """A lower bound on the bytes still to come before the next message completes, when a
        message's first chunk is in; None otherwise, as nothing says yet what comes next.

        Counts each chunk header still to come at its smallest (one byte), so the bound holds
        whatever headers the peer picks: a reader that waits for this many bytes never waits
        past a message's end. Servers use it to keep a socket's low-water mark below it.
        """
        wanted: int | None = None
        for stream in self._streams.values():
            if stream.in_progress:
                payload = stream.length - len(stream.partial)
                chunks = -(-payload // self._chunk_size)
                need = payload + chunks - len(self._buffer)
                wanted = need if wanted is None else min(wanted, need)
        return None if wanted is None else max(1, wanted)

    def _read_chunk(self, start: int) -> tuple[int, RtmpMessage | None]:
        """Parse one chunk at ``start``: ``(bytes consumed, completed message)``, 0 if partial."""
        buffer = self._buffer
        available = len(buffer) - start
        if available < 1:
            return 0, None
        fmt, csid = buffer[start] >> 6, buffer[start] & 0x3F
        pos = start + 1
        if csid in (0, 1):
            extra = 1 if csid == 0 else 2
            if available < 1 + extra:
                return 0, None
            csid = 64 + buffer[pos] + (buffer[pos + 1] << 8 if extra == 2 else 0)
            pos += extra
        stream = self._stream_for(csid, fmt)

        if fmt != FMT_CONTINUATION and stream.in_progress:
            raise RtmpError(
                f"chunk stream {csid}: fmt {fmt} header while a {stream.length}-byte message "
                f"has only {len(stream.partial)} bytes"
            )
        header_size = MESSAGE_HEADER_SIZES[fmt]
        if len(buffer) < pos + header_size:
            return 0, None
        header = buffer[pos : pos + header_size]
        pos += header_size

        field_value, extended = stream.timestamp_field, stream.extended
        if fmt != FMT_CONTINUATION:
            field_value = int.from_bytes(header[0:3], "big")
            extended = field_value == EXTENDED_TIMESTAMP
            if extended:
                if len(buffer) < pos + 4:
                    return 0, None
                (field_value,) = struct.unpack_from(">I", buffer, pos)
                pos += 4
        elif extended:
            # Peek and compare (SRS, rust-media-libs): the repeat is optional in practice.
            peeked = bytes(buffer[pos : pos + 4])
            expected = [
                struct.pack(">I", stream.timestamp_field),
                struct.pack(">I", stream.timestamp),
            ]
            if peeked in expected:
                pos += 4
            elif len(peeked) < 4 and any(value.startswith(peeked) for value in expected):
                return 0, None

        length, type_id, stream_id = stream.length, stream.type_id, stream.stream_id
        if fmt in (FMT_FULL, FMT_SAME_STREAM):
            length = int.from_bytes(header[3:6], "big")
            type_id = header[6]
            if length > self.max_message_size:
                raise RtmpError(
                    f"chunk stream {csid}: message of {length} bytes exceeds the "
                    f"{self.max_message_size}-byte limit"
                )
        if fmt == FMT_FULL:
            (stream_id,) = struct.unpack_from("<I", header, 7)

        have = len(stream.partial) if stream.in_progress else 0
        size = min(self._chunk_size, length - have)
        if len(buffer) < pos + size:
            return 0, None

        # The whole chunk is here: commit the header to the stream state.
        if not stream.in_progress:
            if fmt == FMT_FULL:
                timestamp = field_value
            else:
                # fmt 1/2 carry a delta; fmt 3 starting a message reuses the previous one, which
                # after a fmt 0 header is that header's absolute timestamp (section 5.3.1.2.4).
                timestamp = (stream.timestamp + field_value) & 0xFFFFFFFF
            stream.timestamp, stream.timestamp_field, stream.extended = (
                timestamp,
                field_value,
                extended,
            )
            stream.length, stream.type_id, stream.stream_id = length, type_id, stream_id
            stream.in_progress = True
        stream.partial += buffer[pos : pos + size]
        pos += size
        if len(stream.partial) < stream.length:
            self._partial_bytes += size
            return pos - start, None
        self._partial_bytes -= len(stream.partial) - size
        message = RtmpMessage(
            stream.type_id, bytes(stream.partial), stream.timestamp, stream.stream_id
        )
        stream.partial = bytearray()
        stream.in_progress = False
        return pos - start, message

    def _stream_for(self, csid: int, fmt: int) -> _ReaderStream:
        stream = self._streams.get(csid)
        if stream is not None:
            return stream
        # librtmp starts some chunk streams with fmt 1; SRS accepts that, and so do we.
        if fmt not in (FMT_FULL, FMT_SAME_STREAM):
            raise RtmpError(f"chunk stream {csid}: first chunk has fmt {fmt}, nothing to inherit")
        if len(self._streams) >= self.max_chunk_streams:
            raise RtmpError(
                f"chunk stream {csid}: more than {self.max_chunk_streams} chunk streams"
            )
        stream = self._streams[csid] = _ReaderStream()
        return stream

    def _apply_control(self, message: RtmpMessage) -> None:
        if message.type_id == _TYPE_SET_CHUNK_SIZE:
            if len(message.payload) < 4:
                raise RtmpError(
                    f"Set Chunk Size: truncated, need 4 bytes, have {len(message.payload)}"
                )
            (size,) = struct.unpack_from(">I", message.payload)
            # Section 5.4.1: the most significant bit must be zero.
            if size & 0x80000000 or size == 0:
                raise RtmpError(f"Set Chunk Size: invalid chunk size {size}")
            if size > self.max_chunk_size:
                # The specification allows up to 2^31 - 1; a receiver may hold a peer to less
                # (a chunk is read whole before it counts against the message), and ends the
                # connection when the peer announces more.
                raise RemoteProtocolError(
                    f"Set Chunk Size {size} exceeds the {self.max_chunk_size}-byte limit"
                )
            self._chunk_size = size
        elif message.type_id == _TYPE_ABORT:
            if len(message.payload) < 4:
                raise RtmpError(f"Abort: truncated, need 4 bytes, have {len(message.payload)}")
            (csid,) = struct.unpack_from(">I", message.payload)
            stream = self._streams.get(csid)
            if stream is not None:
                self._partial_bytes -= len(stream.partial)
                stream.partial = bytearray()
                stream.in_progress = False


def _check_chunk_size(chunk_size: int) -> int:
    if not 1 <= chunk_size <= MAX_CHUNK_SIZE:
        raise ValueError(f"chunk size {chunk_size} is outside 1-{MAX_CHUNK_SIZE}")
    return chunk_size


_ext = speedups.extension("wire.rtmp._chunk")
if TYPE_CHECKING:
    ChunkReader = PyChunkReader
else:
    ChunkReader = _ext.ChunkReader if _ext is not None else PyChunkReader
