"""One RTMP/RTMPS publisher connection: a thin asyncio pump around ``RtmpServerConnection``.

Bytes from the transport go into the sans-IO connection; its events become registry calls and
packager frames; whatever it wants to send is written back. Everything a peer can get wrong
(malformed chunks or AMF, a chunk size over the limit, unreadable tag bodies, a bad stream key,
silence) ends this connection alone, with one log line that says why.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from dataclasses import dataclass

from refserver.coalescing import ReadCoalescing
from refserver.config import Limits
from refserver.ingest.keys import StreamKeys
from refserver.ingest.tracks import FlvTracks, IngestError
from refserver.streams import LiveStream, Publisher, StreamBusy, StreamRegistry
from wire.rtmp import RemoteProtocolError, RtmpServerConnection
from wire.rtmp.chunk import RtmpMessage
from wire.rtmp.events import (
    AudioReceived,
    ClientConnected,
    ConnectionTerminated,
    HandshakeCompleted,
    MetadataReceived,
    PlayRequested,
    PublishRequested,
    RtmpEvent,
    StreamDeleted,
    VideoReceived,
)
from wire.rtmp.messages import MessageType, SetChunkSize
from wire.rtmp.server import PLAY_STREAM_NOT_FOUND, PUBLISH_BAD_NAME

logger = logging.getLogger("refserver.ingest")

ENHANCED_FOURCCS = ("avc1", "hvc1")
_connection_ids = itertools.count(1)


class IngestConnection(RtmpServerConnection):
    """The server connection with a ceiling on the chunk size the peer may announce."""

    def __init__(self, *, max_chunk_size: int, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.max_chunk_size = max_chunk_size

    def _handle_message(self, message: RtmpMessage) -> None:
        if message.type_id == MessageType.SET_CHUNK_SIZE:
            size = SetChunkSize.parse(message.payload).chunk_size
            if size > self.max_chunk_size:
                raise RemoteProtocolError(
                    f"Set Chunk Size {size} exceeds the {self.max_chunk_size}-byte limit"
                )
        super()._handle_message(message)


@dataclass(frozen=True, slots=True)
class IngestContext:
    """What every session of one server shares."""

    registry: StreamRegistry
    keys: StreamKeys
    limits: Limits
    app: str
    chunk_size: int
    merge_reads: bool = False


class RtmpSession(asyncio.Protocol):
    """One accepted TCP (or TLS) connection, from handshake to close."""

    def __init__(self, context: IngestContext, protocol: str, sessions: set[RtmpSession]) -> None:
        self.context = context
        self.protocol = protocol
        self.sessions = sessions
        self.id = next(_connection_ids)
        self.peer = "?"
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.connection: IngestConnection | None = None
        self.stream: LiveStream | None = None
        self.publisher: Publisher | None = None
        self.tracks = FlvTracks()
        self.app: str | None = None
        self.last_activity = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._close_reason: str | None = None
        self._reported_unsupported: set[str] = set()
        self._coalescing: ReadCoalescing | None = None

    # -- asyncio.Protocol -------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        limits = self.context.limits
        if len(self.sessions) >= limits.max_connections:
            logger.warning(
                "connection refused",
                extra=self._fields(reason=f"already {len(self.sessions)} connections"),
            )
            transport.abort()
            return
        self.sessions.add(self)
        now = self.loop.time()
        self.last_activity = now
        self.connection = IngestConnection(
            now=now,
            chunk_size=self.context.chunk_size,
            fourcc_list=ENHANCED_FOURCCS,
            handshake_timeout=limits.handshake_timeout,
            setup_timeout=limits.setup_timeout,
            max_message_size=limits.max_message_size,
            max_chunk_size=limits.max_chunk_size,
        )
        logger.debug("connection accepted", extra=self._fields())
        self._arm_timer(now)

    def data_received(self, data: bytes) -> None:
        connection = self.connection
        if connection is None:
            return
        self.last_activity = now = self.loop.time()
        connection.receive_data(data)
        if self._coalescing is not None:
            self._coalescing.received(len(data), now, wanted=connection.bytes_to_complete())
        self._process_events()

    def eof_received(self) -> bool | None:
        self._close_reason = self._close_reason or "peer closed the connection"
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        if self.connection is None:
            return
        if self._timer is not None:
            self._timer.cancel()
        self.sessions.discard(self)
        if self._coalescing is not None:
            self._coalescing.close()
        reason = self._close_reason or (str(exc) if exc else "peer closed the connection")
        self._stop_publishing(reason)
        self.connection = None
        logger.debug("connection closed", extra=self._fields(reason=reason))

    # -- server control ---------------------------------------------------------------------------

    def close(self, reason: str) -> None:
        """End the connection from our side (shutdown)."""
        if self.connection is not None and not self.connection.terminated:
            self._close_reason = reason
            self.connection.close()
            self._process_events()

    # -- events -----------------------------------------------------------------------------------

    def _process_events(self) -> None:
        connection = self.connection
        assert connection is not None
        while (event := connection.next_event()) is not None:
            if isinstance(event, VideoReceived):
                self._media(event.timestamp, event.payload, video=True)
            elif isinstance(event, AudioReceived):
                self._media(event.timestamp, event.payload, video=False)
            else:
                self._control(event)
        self._flush()

    def _control(self, event: RtmpEvent) -> None:
        connection = self.connection
        assert connection is not None
        if isinstance(event, HandshakeCompleted):
            kind = "complex" if event.complex_handshake else "simple"
            logger.debug("handshake completed", extra=self._fields(handshake=kind))
        elif isinstance(event, ClientConnected):
            self.app = event.app
            logger.debug("connected", extra=self._fields(app=event.app, tc_url=event.tc_url))
        elif isinstance(event, PublishRequested):
            self._publish_requested(event)
        elif isinstance(event, MetadataReceived):
            if self.stream is not None:
                self.stream.metadata = dict(event.metadata)
        elif isinstance(event, StreamDeleted):
            self._stop_publishing("publisher unpublished")
        elif isinstance(event, PlayRequested):
            connection.reject_play(
                event.stream_id, PLAY_STREAM_NOT_FOUND, "refserver serves HLS over HTTP only"
            )
        elif isinstance(event, ConnectionTerminated):
            self._terminated(event.reason)

    def _publish_requested(self, event: PublishRequested) -> None:
        connection = self.connection
        assert connection is not None
        decision = self.context.keys.authorize(event.name)
        code, refusal = decision.code, decision.refusal
        if decision.allowed and self.app != self.context.app:
            code, refusal = PUBLISH_BAD_NAME, f"application {self.app!r} is not served"
        stream = None
        publisher = Publisher(self.peer, self.protocol, time.time(), self.id)
        if code is None:
            try:
                stream = self.context.registry.claim(decision.name, publisher)
            except StreamBusy:
                code, refusal = PUBLISH_BAD_NAME, "stream is already being published"
        if stream is None:
            assert code is not None
            assert refusal is not None
            logger.warning(
                "publish refused",
                extra=self._fields(stream=decision.name, code=code, reason=refusal),
            )
            self._close_reason = f"publish refused: {refusal}"
            connection.reject_publish(event.stream_id, code, f"{decision.name}: {refusal}")
            return
        self.stream, self.publisher = stream, publisher
        self.tracks = FlvTracks()
        connection.accept_publish(event.stream_id)
        if self.context.merge_reads and self._coalescing is None and self.transport is not None:
            # From here on the peer streams media: read it in fewer, larger pieces.
            self._coalescing = ReadCoalescing(self.loop, self.transport.get_extra_info("socket"))
        logger.info(
            "publish started",
            extra=self._fields(stream=stream.name, republish=stream.stats.publishes > 1),
        )

    def _media(self, timestamp: int, payload: bytes, *, video: bool) -> None:
        stream = self.stream
        if stream is None or self._close_reason is not None:
            return
        tracks = self.tracks
        try:
            if video:
                frame = tracks.video_tag(timestamp, payload)
            else:
                frame = tracks.audio_tag(timestamp, payload)
        except IngestError as exc:
            self._abort(f"unreadable {'video' if video else 'audio'} tag: {exc}")
            return
        if frame is not None and tracks.changed:
            # Sequence headers come in one by one; the first frame after them sees them all.
            tracks.changed = False
            stream.configure(tracks.video, tracks.audio)
            logger.info(
                "tracks configured",
                extra=self._fields(stream=stream.name, **stream.describe_tracks()),
            )
        if tracks.unsupported - self._reported_unsupported:
            fresh = sorted(tracks.unsupported - self._reported_unsupported)
            self._reported_unsupported |= tracks.unsupported
            logger.warning("codec not supported, track skipped", extra=self._fields(codecs=fresh))
        if frame is not None:
            stream.push(frame, len(payload))

    # -- lifecycle --------------------------------------------------------------------------------

    def _stop_publishing(self, reason: str) -> None:
        stream, publisher = self.stream, self.publisher
        if stream is None or publisher is None:
            return
        self.stream = self.publisher = None
        self.context.registry.release(stream, publisher)
        logger.info("publish stopped", extra=self._fields(stream=stream.name, reason=reason))

    def _abort(self, reason: str) -> None:
        logger.warning("connection closed", extra=self._fields(reason=reason))
        self._close_reason = reason
        assert self.connection is not None
        self.connection.close()

    def _terminated(self, reason: str) -> None:
        reason = self._close_reason or reason
        if self._close_reason is None:
            self._close_reason = reason
            # The sans-IO layer ended it: the peer broke the protocol or a phase timed out.
            logger.warning("connection closed", extra=self._fields(reason=reason))
        self._stop_publishing(reason)
        self._flush()
        if self.transport is not None:
            self.transport.close()

    def _flush(self) -> None:
        connection = self.connection
        if connection is None or self.transport is None:
            return
        data = connection.data_to_send()
        if data and not self.transport.is_closing():
            self.transport.write(data)

    # -- timers -----------------------------------------------------------------------------------

    def _deadline(self) -> float:
        assert self.connection is not None
        idle = self.last_activity + self.context.limits.idle_timeout
        phase = self.connection.get_timer()
        return idle if phase is None else min(idle, phase)

    def _arm_timer(self, now: float) -> None:
        # Deadlines only move later (activity, phases done), so one timer that re-arms itself
        # when it fires is enough; data_received never touches it.
        self._timer = self.loop.call_at(max(self._deadline(), now), self._on_timer)

    def _on_timer(self) -> None:
        connection = self.connection
        if connection is None or connection.terminated:
            return
        now = self.loop.time()
        connection.handle_timer(now)
        if (
            not connection.terminated
            and now >= self.last_activity + self.context.limits.idle_timeout
        ):
            self._abort(f"idle for {self.context.limits.idle_timeout:g} s")
        self._process_events()
        if not connection.terminated:
            self._arm_timer(now)

    # -- logging ----------------------------------------------------------------------------------

    def _fields(self, **fields: object) -> dict[str, object]:
        return {"connection": self.id, "peer": self.peer, "protocol": self.protocol, **fields}
