"""What the client and server connections share: reading the mixed byte stream, queuing events,
and buffering bytes to send. Neither does I/O; the caller pumps bytes and time through them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import deque

from wire.rtsp.errors import LocalProtocolError, RemoteProtocolError
from wire.rtsp.events import ConnectionTerminated, Event, InterleavedFrameReceived
from wire.rtsp.message import InterleavedFrame, Request, Response
from wire.rtsp.reader import ReaderLimits, RtspReader
from wire.session import Termination


class RtspConnection(ABC):
    """Base of :class:`RtspServerConnection` and :class:`RtspClientConnection`."""

    def __init__(self, limits: ReaderLimits | None = None) -> None:
        self._reader = RtspReader(limits)
        self._events: deque[Event] = deque()
        self._output = bytearray()
        self._closed = False
        self._termination: Termination | None = None

    @property
    def closed(self) -> bool:
        return self._closed

    def receive_data(self, data: bytes, now: float) -> None:
        """Feed bytes read from the peer at time ``now``; events become available."""
        if self._closed:
            return
        reader = self._reader
        reader.receive_data(data)
        progressed = False
        while not self._closed:
            # A camera's burst is a run of interleaved frames: their events at once.
            frames = reader.next_frames(InterleavedFrameReceived)
            if frames:
                self._events.extend(frames)
                progressed = True
                if reader.has_partial:
                    continue
                break  # the read ended on a frame's end, as a camera's burst does
            try:
                message = reader.next_message()
            except RemoteProtocolError as error:
                progressed = True
                self._handle_protocol_error(error, now)
                continue
            if message is None:
                break
            progressed = True
            if isinstance(message, InterleavedFrame):
                self._events.append(InterleavedFrameReceived(message.channel, message.payload))
            elif isinstance(message, Request):
                self._handle_request(message, now)
            else:
                self._handle_response(message, now)
        self._after_receive(now, progressed)

    @property
    def termination(self) -> Termination | None:
        """Why the connection ended, once it has (the same as its ``ConnectionTerminated``)."""
        return self._termination

    def receive_eof(self) -> None:
        """The peer closed its side of the connection."""
        if self._closed:
            return
        if self._reader.has_partial:
            detail = "peer closed the connection in the middle of a message"
            self._terminate(Termination.peer_closed(detail))
        else:
            self._terminate(Termination.peer_closed())

    def close(self, termination: Termination | None = None) -> None:
        """Stop; a :class:`ConnectionTerminated` event carrying ``termination`` reports it (by
        default :attr:`~wire.session.Cause.LOCAL_CLOSE`)."""
        self._terminate(termination or Termination.local_close())

    def next_event(self) -> Event | None:
        """The oldest pending event, or None."""
        return self._events.popleft() if self._events else None

    def next_events(self) -> list[Event]:
        """Every pending event, oldest first (``[]`` when there is none): what
        :meth:`next_event` would return one by one, for a caller that takes a read's events
        at once (a camera's burst is one event per RTP packet)."""
        events = self._events
        if not events:
            return []
        taken = list(events)
        events.clear()
        return taken

    def data_to_send(self) -> bytes:
        """Bytes to write to the peer, emptying the buffer."""
        if not self._output:  # asked after every read; most reads are answered by nothing
            return b""
        data = bytes(self._output)
        self._output.clear()
        return data

    def send_interleaved(self, channel: int, payload: bytes) -> None:
        """Queue one RTP or RTCP packet on the connection (§10.12)."""
        self._ensure_open()
        self._output += InterleavedFrame(channel, payload).serialize()

    def _write(self, data: bytes) -> None:
        self._output += data

    def _ensure_open(self) -> None:
        if self._closed:
            raise LocalProtocolError("the connection is closed")

    def _terminate(self, termination: Termination) -> None:
        if not self._closed:
            self._closed = True
            self._termination = termination
            self._events.append(ConnectionTerminated(termination))

    @abstractmethod
    def _handle_request(self, request: Request, now: float) -> None:
        """A request framed and parsed from the stream."""

    @abstractmethod
    def _handle_response(self, response: Response, now: float) -> None:
        """A response framed and parsed from the stream."""

    @abstractmethod
    def _handle_protocol_error(self, error: RemoteProtocolError, now: float) -> None:
        """A malformed message; when ``error.fatal`` the stream cannot be read any further."""

    @abstractmethod
    def _after_receive(self, now: float, progressed: bool) -> None:
        """Called once per :meth:`receive_data`; ``progressed`` when a message was consumed."""
