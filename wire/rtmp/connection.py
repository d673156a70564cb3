"""What RTMP client and server connections share: byte pumping, control messages, timers.

A connection owns no socket and no clock. The caller feeds received bytes, with the time they
arrived, to :meth:`RtmpConnection.receive_data` (as with every sans-IO connection in ``wire``),
sends whatever :meth:`RtmpConnection.data_to_send` returns, drains
:meth:`RtmpConnection.next_event`, and calls :meth:`RtmpConnection.handle_timer` at the time
:meth:`RtmpConnection.get_timer` asks for. Anything the peer gets wrong ends the connection with a
:class:`ConnectionTerminated` event carrying a :class:`~wire.session.Termination`; it never raises
out of ``receive_data``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import deque

from wire.amf0 import Amf0Error, Amf0Value, decode
from wire.rtmp.chunk import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_MAX_BUFFERED_BYTES,
    MAX_CHUNK_SIZE,
    ChunkReader,
    ChunkWriter,
    RtmpMessage,
)
from wire.rtmp.errors import LocalProtocolError, RemoteProtocolError, RtmpError
from wire.rtmp.events import (
    AcknowledgementReceived,
    ConnectionTerminated,
    HandshakeCompleted,
    PingResponseReceived,
    RtmpEvent,
)
from wire.rtmp.handshake import ClientHandshake, ServerHandshake
from wire.rtmp.messages import (
    Acknowledgement,
    Command,
    DataMessage,
    MessageType,
    Payload,
    SetChunkSize,
    SetPeerBandwidth,
    UserControl,
    UserControlType,
    WindowAckSize,
    split_aggregate,
    status_info,
    to_message,
)
from wire.session import Termination

# Chunk stream ids as FFmpeg assigns them.
CSID_PROTOCOL_CONTROL = 2
CSID_COMMAND = 3
CSID_AUDIO = 4
CSID_STATUS = 5
CSID_VIDEO = 6
CSID_STREAM = 8

DEFAULT_WINDOW_ACK_SIZE = 2_500_000
DEFAULT_MAX_MESSAGE_SIZE = 8 * 1024 * 1024

_MEDIA_TYPES = frozenset((MessageType.AUDIO, MessageType.VIDEO))
"""The media types, looked up once: naming an enum member costs about 0.2 µs on Python 3.11, and
the dispatch runs for every message."""


class RtmpConnection(ABC):
    """Base of :class:`RtmpClientConnection` and :class:`RtmpServerConnection`."""

    _handshake: ClientHandshake | ServerHandshake

    def __init__(
        self,
        *,
        chunk_size: int,
        max_message_size: int,
        max_chunk_streams: int,
        repeat_extended_timestamp: bool,
        max_buffered_bytes: int = DEFAULT_MAX_BUFFERED_BYTES,
        max_chunk_size: int = MAX_CHUNK_SIZE,
    ) -> None:
        if not 1 <= chunk_size <= 0x7FFFFFFF:
            raise LocalProtocolError(f"chunk size {chunk_size} is outside 1-2147483647")
        self._local_chunk_size = chunk_size
        self._reader = ChunkReader(
            max_message_size=max_message_size,
            max_chunk_streams=max_chunk_streams,
            max_buffered_bytes=max_buffered_bytes,
            max_chunk_size=max_chunk_size,
        )
        self._writer = ChunkWriter(repeat_extended_timestamp=repeat_extended_timestamp)
        self._inbox = bytearray()
        self._outbox = bytearray()
        self._events: deque[RtmpEvent] = deque()
        self._deadlines: dict[str, float] = {}
        self._bytes_received = 0
        self._bytes_acknowledged = 0
        self._ack_window: int | None = None
        self._sent_window: int | None = None
        self._terminated = False
        self._termination: Termination | None = None
        self._last_received: float | None = None

    # -- the pump ---------------------------------------------------------------------------------

    @property
    def terminated(self) -> bool:
        return self._terminated

    @property
    def termination(self) -> Termination | None:
        """Why the connection ended, once it has (the same as its ``ConnectionTerminated``)."""
        return self._termination

    @property
    def last_received(self) -> float | None:
        """When bytes last arrived (the ``now`` of the last :meth:`receive_data`), or None."""
        return self._last_received

    def receive_data(self, data: bytes, now: float) -> None:
        """Feed bytes received from the peer at time ``now``. Never raises for anything the
        peer sent."""
        if self._terminated:
            return
        self._last_received = now
        try:
            self._receive(data)
        except RemoteProtocolError as exc:
            self._answer_error(exc)
            self._terminate(Termination.protocol_error(exc))
        except (RtmpError, Amf0Error) as exc:
            self._terminate(Termination.protocol_error(exc))

    def receive_eof(self) -> None:
        """The peer closed its side of the connection (or the transport broke)."""
        if self._terminated:
            return
        detail = "peer closed the connection"
        if not self._handshake.complete:
            detail += " during the handshake"
        elif self._reader.has_partial:
            detail += " in the middle of a message"
        self._terminate(Termination.peer_closed(detail))

    def bytes_to_complete(self) -> int | None:
        """A lower bound on the bytes before the message being received completes (see
        :meth:`ChunkReader.bytes_to_complete`); None between messages and during the handshake."""
        if self._terminated or not self._handshake.complete:
            return None
        return self._reader.bytes_to_complete()

    def next_event(self) -> RtmpEvent | None:
        """The next event, or ``None`` when there is none."""
        return self._events.popleft() if self._events else None

    def data_to_send(self) -> bytes:
        """Bytes to write to the peer; the connection forgets them once returned."""
        if not self._outbox:  # asked after every read; most reads are answered by nothing
            return b""
        data = bytes(self._outbox)
        self._outbox.clear()
        return data

    def get_timer(self) -> float | None:
        """When :meth:`handle_timer` must next be called, or ``None``."""
        return min(self._deadlines.values(), default=None)

    def handle_timer(self, now: float) -> None:
        """End the connection if a phase (handshake, connect, publish...) ran out of time."""
        if self._terminated:
            return
        for phase, deadline in self._deadlines.items():
            if deadline <= now:
                self._terminate(Termination.timed_out(phase))
                return

    def send_ping(self, timestamp: int) -> None:
        """Send a PingRequest; the answer arrives as a ``PingResponseReceived`` event."""
        self._check_open()
        self._send(CSID_PROTOCOL_CONTROL, UserControl.ping_request(timestamp))

    def send_command(self, command: Command, *, stream_id: int = 0) -> None:
        """Send any command, for the ones the connection does not handle itself."""
        self._check_open()
        csid = CSID_COMMAND if stream_id == 0 else CSID_STREAM
        self._send(csid, command, stream_id=stream_id)

    def close(self, termination: Termination | None = None) -> None:
        """Close locally; a ``ConnectionTerminated`` event carrying ``termination`` follows
        (by default :attr:`~wire.session.Cause.LOCAL_CLOSE`)."""
        if not self._terminated:
            self._terminate(termination or Termination.local_close())

    # -- hooks for the roles ----------------------------------------------------------------------

    @abstractmethod
    def _on_handshake_complete(self) -> None: ...

    @abstractmethod
    def _on_terminated(self) -> None: ...

    @abstractmethod
    def _handle_command(self, message: RtmpMessage, command: Command) -> None: ...

    @abstractmethod
    def _handle_data(self, message: RtmpMessage, data: DataMessage) -> None: ...

    @abstractmethod
    def _handle_media(self, message: RtmpMessage) -> None: ...

    # -- receiving --------------------------------------------------------------------------------

    def _receive(self, data: bytes) -> None:
        self._bytes_received += len(data)
        if not self._handshake.complete:
            self._inbox += data
            self._outbox += self._handshake.receive(self._inbox)
            if not self._handshake.complete:
                return
            data = bytes(self._inbox)
            self._inbox.clear()
            self._events.append(HandshakeCompleted(self._handshake.complex))
            self._on_handshake_complete()
        # Messages are handled as they complete, so that those before a chunk-level error in
        # the same bytes are delivered before the connection ends. Nearly every message is audio
        # or video: those go to the role's media handler without the dispatch in between.
        handle_media, handle_message = self._handle_media, self._handle_message
        for message in self._reader.messages(data):
            if message.type_id in _MEDIA_TYPES:
                handle_media(message)
            else:
                handle_message(message)
            if self._terminated:
                return
        self._acknowledge()

    def _handle_message(self, message: RtmpMessage) -> None:
        kind = message.type_id  # not audio or video: _receive hands those to _handle_media
        if kind == MessageType.ACKNOWLEDGEMENT:
            ack = Acknowledgement.parse(message.payload)
            self._events.append(AcknowledgementReceived(ack.sequence_number))
        elif kind == MessageType.USER_CONTROL:
            self._handle_user_control_message(UserControl.parse(message.payload))
        elif kind == MessageType.WINDOW_ACK_SIZE:
            self._ack_window = WindowAckSize.parse(message.payload).size or None
        elif kind == MessageType.SET_PEER_BANDWIDTH:
            # Section 5.4.5: answer with Window Acknowledgement Size when it differs.
            bandwidth = SetPeerBandwidth.parse(message.payload)
            if bandwidth.size != self._sent_window:
                self._send_window_ack_size(bandwidth.size)
        elif kind in (MessageType.COMMAND_AMF0, MessageType.COMMAND_AMF3):
            self._handle_command(message, _parse_command(_amf0_body(message)))
        elif kind in (MessageType.DATA_AMF0, MessageType.DATA_AMF3):
            self._handle_data(message, DataMessage.parse(_amf0_body(message)))
        elif kind == MessageType.AGGREGATE:
            for part in split_aggregate(message):
                if part.type_id in (MessageType.AUDIO, MessageType.VIDEO):
                    self._handle_media(part)
                elif part.type_id == MessageType.DATA_AMF0:
                    self._handle_data(part, DataMessage.parse(part.payload))
        # Set Chunk Size and Abort were applied by the chunk reader; shared objects are ignored.

    def _handle_user_control_message(self, control: UserControl) -> None:
        if control.event_type == UserControlType.PING_REQUEST:
            self._send(CSID_PROTOCOL_CONTROL, UserControl.ping_response(control.value))
        elif control.event_type == UserControlType.PING_RESPONSE:
            self._events.append(PingResponseReceived(control.value))
        # Stream events (StreamBegin, StreamEOF, ...) are informational for both roles.

    def _acknowledge(self) -> None:
        window = self._ack_window
        if window is not None and self._bytes_received - self._bytes_acknowledged >= window:
            self._bytes_acknowledged = self._bytes_received
            sequence_number = self._bytes_received & 0xFFFFFFFF
            self._send(CSID_PROTOCOL_CONTROL, Acknowledgement(sequence_number))

    # -- sending ----------------------------------------------------------------------------------

    def _send(self, csid: int, payload: Payload, *, stream_id: int = 0, timestamp: int = 0) -> None:
        message = to_message(payload, stream_id=stream_id, timestamp=timestamp)
        self._outbox += self._writer.write(csid, message)

    def _send_message(self, csid: int, message: RtmpMessage) -> None:
        self._outbox += self._writer.write(csid, message)

    def _send_chunk_size(self) -> None:
        if self._local_chunk_size != DEFAULT_CHUNK_SIZE:
            self._send(CSID_PROTOCOL_CONTROL, SetChunkSize(self._local_chunk_size))
            self._writer.set_chunk_size(self._local_chunk_size)

    def _send_window_ack_size(self, size: int) -> None:
        self._sent_window = size
        self._send(CSID_PROTOCOL_CONTROL, WindowAckSize(size))

    def _send_status(self, stream_id: int, info: dict[str, Amf0Value]) -> None:
        self._send(CSID_STATUS, Command("onStatus", 0.0, None, [info]), stream_id=stream_id)

    def _answer_error(self, exc: RemoteProtocolError) -> None:
        if exc.status_code is None:
            return
        info = status_info("error", exc.status_code, str(exc))
        if exc.transaction_id is not None:
            self._send(CSID_COMMAND, Command("_error", exc.transaction_id, None, [info]))
        else:
            self._send_status(exc.stream_id, info)

    # -- lifecycle --------------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._terminated:
            raise LocalProtocolError("the connection is closed")

    def _terminate(self, termination: Termination) -> None:
        self._terminated = True
        self._termination = termination
        self._deadlines.clear()
        self._on_terminated()
        self._events.append(ConnectionTerminated(termination))


def _parse_command(body: bytes) -> Command:
    """A command; a lone name string is taken as a notification with transaction id 0, since
    FFmpeg's listen mode answers FCPublish with a bare ``onFCPublish``."""
    try:
        return Command.parse(body)
    except RtmpError:
        try:
            values = decode(body)
        except Amf0Error:
            values = []
        if len(values) == 1 and isinstance(values[0], str):
            return Command(values[0], 0.0)
        raise


def _amf0_body(message: RtmpMessage) -> bytes:
    # AMF3 command/data messages (types 17, 15) start with a format byte, 0 for AMF0 values.
    if message.type_id in (MessageType.COMMAND_AMF3, MessageType.DATA_AMF3):
        if not message.payload or message.payload[0] != 0:
            raise RemoteProtocolError(
                f"message type {message.type_id}: AMF3 values are not supported"
            )
        return message.payload[1:]
    return message.payload
