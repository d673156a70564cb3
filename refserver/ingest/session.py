"""One RTMP/RTMPS publisher connection: a thin asyncio pump around ``RtmpServerConnection``.

Bytes from the transport go into the sans-IO connection; its events become registry calls and
packager frames; whatever it wants to send is written back. Everything a peer can get wrong
(malformed chunks or AMF, a chunk size over the limit, too many bytes in unfinished messages,
unreadable tag bodies, a bad stream key, silence, not reading what we send) ends this connection
alone, with one log line that says why. So does any bug of ours that a peer's bytes reach: every
entry point from the event loop catches it, logs it once with its traceback and drops only this
connection.

The session is the protocol of the accepted TCP connection in both cases: for RTMPS it runs the
TLS handshake itself (``loop.start_tls``), so that the connection holds its slot, and its
deadline runs, from TCP accept.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from refserver.coalescing import ReadCoalescing
from refserver.config import Limits
from refserver.ingest.admission import Admission, address_group
from refserver.ingest.keys import PublishDecision, StreamKeys
from refserver.ingest.tracks import FlvTracks, IngestError
from refserver.streams import LiveStream, PublisherInfo, StreamBusy, StreamRegistry
from wire.codec import CodecError
from wire.fmp4 import Fmp4Error
from wire.rtmp import RtmpServerConnection
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
from wire.rtmp.server import PLAY_STREAM_NOT_FOUND, PUBLISH_BAD_NAME, PUBLISH_DENIED

logger = logging.getLogger("refserver.ingest")

ENHANCED_FOURCCS = ("avc1", "hvc1")
_connection_ids = itertools.count(1)


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
    """One accepted TCP connection, from accept (and TLS, for RTMPS) to close."""

    connection_class: ClassVar[type[RtmpServerConnection]] = RtmpServerConnection
    """The sans-IO connection each session drives: an extension point for a subclass that
    overrides its public methods (``benchmarks.discarding`` drops media unparsed this way)."""

    def __init__(
        self,
        context: IngestContext,
        protocol: str,
        sessions: set[RtmpSession],
        admission: Admission,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.context = context
        self.protocol = protocol
        self.sessions = sessions
        self.admission = admission
        self.tls = tls
        self.id = next(_connection_ids)
        self.peer = "?"
        self.address = "?"
        """The peer's :func:`address_group`, what the per-address limits count."""
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        """The transport RTMP flows over (the TLS one for RTMPS), once it does."""
        self.connection: RtmpServerConnection | None = None
        self.stream: LiveStream | None = None
        self.publisher: PublisherInfo | None = None
        self.tracks = FlvTracks()
        self.app: str | None = None
        self.accepted_at = 0.0
        self.last_activity = 0.0
        self._tcp: asyncio.Transport | None = None
        self._admitted = False
        self._tls_handshake: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._refusal: asyncio.TimerHandle | None = None
        self._write_paused_at: float | None = None
        self._read_paused: set[str] = set()
        self._close_reason: str | None = None
        self._failed = False
        self._reported_unsupported: set[str] = set()
        self._coalescing: ReadCoalescing | None = None

    # -- asyncio.Protocol -------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self._tcp is not None:
            return  # start_tls hands us the TLS transport through _start_tls, not here
        self._guarded("accepting", self._accepted, transport)

    def data_received(self, data: bytes) -> None:
        self._guarded("receiving", self._received, data)

    def eof_received(self) -> bool | None:
        self._close_reason = self._close_reason or "peer closed the connection"
        return None

    def pause_writing(self) -> None:
        self._guarded("pausing writes", self._writes_paused)

    def resume_writing(self) -> None:
        self._guarded("resuming writes", self._writes_resumed)

    def connection_lost(self, exc: Exception | None) -> None:
        self._guarded("closing", self._lost, exc)

    # -- server control ---------------------------------------------------------------------------

    def close(self, reason: str) -> None:
        """End the connection from our side (shutdown)."""
        if self._tls_handshake is not None and not self._tls_handshake.done():
            self._close_reason = reason
            self._tls_handshake.cancel()
        elif self.connection is not None and not self.connection.terminated:
            self._close_reason = reason
            self.connection.close()
            self._guarded("closing", self._process_events)

    def abort(self) -> None:
        """Drop the connection at once, without flushing."""
        for transport in (self.transport, self._tcp):
            if transport is not None:
                transport.abort()

    # -- accepting --------------------------------------------------------------------------------

    def _accepted(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._tcp = transport
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        self.address = address_group(peer[0] if isinstance(peer, tuple) else str(peer))
        now = self.loop.time()
        refusal = self.admission.admit(self.address, now, self.id, self._evicted)
        if refusal is not None:
            # By address, not by connection and port: a flood of refusals is identical records,
            # which the log counts instead of writing each.
            logger.warning(
                "connection refused",
                extra={"address": self.address, "protocol": self.protocol, "reason": refusal},
            )
            transport.abort()
            return
        self._admitted = True
        self.sessions.add(self)
        self.accepted_at = self.last_activity = now
        limits = self.context.limits
        # Made now, not when TLS completes: the first RTMP bytes may come out of the TLS layer
        # before start_tls returns, and the phase deadlines count from TCP accept.
        self.connection = self.connection_class(
            now=now,
            chunk_size=self.context.chunk_size,
            fourcc_list=ENHANCED_FOURCCS,
            handshake_timeout=limits.handshake_timeout,
            setup_timeout=limits.setup_timeout,
            max_message_size=limits.max_message_size,
            max_buffered_bytes=limits.max_buffered_bytes,
            max_chunk_size=limits.max_chunk_size,
        )
        if self.tls is None:
            self._start(transport)
            return
        # Nothing is read until start_tls has put the TLS protocol in place.
        transport.pause_reading()
        self._tls_handshake = self.loop.create_task(self._start_tls(transport, self.tls))

    async def _start_tls(self, tcp: asyncio.Transport, context: ssl.SSLContext) -> None:
        deadline = self.accepted_at + self.context.limits.handshake_timeout
        try:
            async with asyncio.timeout_at(deadline):
                transport = await self.loop.start_tls(tcp, self, context, server_side=True)
        except TimeoutError:
            self._tls_failed("timed out waiting for the TLS handshake")
        except asyncio.CancelledError:
            self._tls_failed(self._close_reason or "closed during the TLS handshake")
        except ssl.SSLError as exc:
            self._tls_failed(f"TLS handshake failed: {exc}")
        except ConnectionError:
            # The peer went away, as it may at any time: not worth a warning here either.
            self._close_reason = "peer closed the connection during the TLS handshake"
            self._tls_failed(self._close_reason)
        except OSError as exc:
            self._tls_failed(f"TLS handshake failed: {exc}")
        except Exception:
            self._fail("completing the TLS handshake")
        else:
            assert isinstance(transport, asyncio.Transport)
            self._guarded("starting", self._start, transport)

    def _tls_failed(self, reason: str) -> None:
        # start_tls closed the TCP transport; connection_lost may or may not follow.
        if self._close_reason is None:
            logger.warning("connection closed", extra=self._fields(reason=reason))
        self._close_reason = self._close_reason or reason
        if self._release():
            logger.debug("connection closed", extra=self._fields(reason=self._close_reason))

    def _start(self, transport: asyncio.Transport) -> None:
        """The transport is ready for RTMP: send what is waiting, arm the deadlines."""
        self.transport = transport
        logger.debug("connection accepted", extra=self._fields())
        self._flush()
        assert self.connection is not None
        if self.connection.terminated:
            transport.close()  # it ended on its first bytes, before there was a transport
        else:
            self._arm_timer()

    # -- reading ----------------------------------------------------------------------------------

    def _received(self, data: bytes) -> None:
        connection = self.connection
        if connection is None:
            return
        self.last_activity = now = self.loop.time()
        connection.receive_data(data, now)
        if self._coalescing is not None:
            self._coalescing.received(len(data), now, wanted=connection.bytes_to_complete())
        self._process_events()

    def _pause_reading(self, reason: str) -> None:
        if not self._read_paused and self.transport is not None:
            self.transport.pause_reading()
        self._read_paused.add(reason)

    def _resume_reading(self, reason: str) -> None:
        if reason not in self._read_paused:
            return
        self._read_paused.discard(reason)
        if not self._read_paused and self.transport is not None:
            self.transport.resume_reading()
            # The peer was not silent while we did not listen.
            self.last_activity = self.loop.time()

    # -- writing ----------------------------------------------------------------------------------

    def _flush(self) -> None:
        connection, transport = self.connection, self.transport
        if connection is None or transport is None:
            return
        data = connection.data_to_send()
        if not data or transport.is_closing():
            return
        transport.write(data)
        queued = transport.get_write_buffer_size()
        if queued > self.context.limits.max_write_buffer:
            self._drop(f"peer is not reading: {queued} bytes queued for it")

    def _writes_paused(self) -> None:
        # Whatever we read may need an answer (a ping, an acknowledgement) that cannot go out:
        # stop reading until the peer reads, and give it write_timeout to do so.
        self._write_paused_at = self.loop.time()
        self._pause_reading("writes")
        if self.connection is not None:
            self._arm_timer()

    def _writes_resumed(self) -> None:
        self._write_paused_at = None
        self._resume_reading("writes")
        if self.connection is not None and not self.connection.terminated:
            self._arm_timer()

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
            self._terminated(event.termination.detail)

    def _publish_requested(self, event: PublishRequested) -> None:
        connection = self.connection
        assert connection is not None
        if connection.terminated:
            return  # a later message in the same read ended it: there is no one to answer
        failures = self.admission.failures
        now = self.loop.time()
        penalty = failures.refusal(self.address, now)
        if penalty is not None:
            # Its key is not even looked at: a guess made now would be free.
            name = event.name.partition("?")[0]
            decision = PublishDecision(name, penalty, PUBLISH_DENIED)
        else:
            decision = self.context.keys.authorize(event.name)
        if decision.key_refused:
            delay = failures.record(self.address, now)
            self._refuse_later(event.stream_id, decision, delay)
            return
        code, refusal, description = decision.code, decision.refusal, decision.description
        if decision.allowed and self.app != self.context.app:
            code, refusal = PUBLISH_BAD_NAME, f"application {self.app!r} is not served"
            description = f"{decision.name}: {refusal}"
        stream = None
        publisher = PublisherInfo(self.peer, self.protocol, time.time(), self.id)
        if code is None:
            try:
                stream = self.context.registry.claim(decision.name, publisher)
            except StreamBusy:
                code, refusal = PUBLISH_BAD_NAME, "stream is already being published"
                description = f"{decision.name}: {refusal}"
        if stream is None:
            assert code is not None
            assert refusal is not None
            logger.warning(
                "publish refused",
                extra=self._fields(stream=decision.name, code=code, reason=refusal),
            )
            self._close_reason = f"publish refused: {refusal}"
            connection.reject_publish(event.stream_id, code, description)
            return
        self.stream, self.publisher = stream, publisher
        self.tracks = FlvTracks()
        self.admission.proven(self.address, self.id)
        connection.accept_publish(event.stream_id)
        if self.context.merge_reads and self._coalescing is None and self.transport is not None:
            # From here on the peer streams media: read it in fewer, larger pieces.
            self._coalescing = ReadCoalescing(self.loop, self.transport.get_extra_info("socket"))
        logger.info(
            "publish started",
            extra=self._fields(stream=stream.name, republish=stream.stats.publishes > 1),
        )

    def _refuse_later(self, stream_id: int, decision: PublishDecision, delay: float) -> None:
        """Answer a refused key after ``delay``, reading nothing from the peer meanwhile."""
        logger.warning(
            "publish refused",
            extra=self._fields(
                stream=decision.name, code=decision.code, reason=decision.refusal, delay=delay
            ),
        )
        self._close_reason = f"publish refused: {decision.refusal}"
        self._pause_reading("refusal")
        self._refusal = self.loop.call_later(
            delay, self._guarded, "refusing", self._refuse, stream_id, decision
        )
        self._arm_timer()

    def _refuse(self, stream_id: int, decision: PublishDecision) -> None:
        self._refusal = None
        connection = self.connection
        if connection is None:
            return
        assert decision.code is not None
        # A no-op when the connection ended meanwhile (the peer hung up, or shutdown).
        connection.reject_publish(stream_id, decision.code, decision.description)
        self._process_events()

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
            try:
                stream.configure(tracks.video, tracks.audio)
            except (CodecError, Fmp4Error) as exc:
                # Parameter sets that parse but that the segment format cannot describe (an SPS
                # wider than an fMP4 sample entry holds): this publisher's stream, not the server.
                self._abort(f"track configuration cannot be packaged: {exc}")
                return
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
        """End the connection through the protocol: what is queued is still sent."""
        logger.warning("connection closed", extra=self._fields(reason=reason))
        self._close_reason = reason
        assert self.connection is not None
        self.connection.close()

    def _drop(self, reason: str) -> None:
        """End the connection at once, sending nothing more: the peer does not read, or its
        slot went to another."""
        logger.warning("connection closed", extra=self._fields(reason=reason))
        self._close_reason = reason
        if self.connection is not None and not self.connection.terminated:
            self.connection.close()
            while self.connection.next_event() is not None:
                pass  # the ConnectionTerminated that says what we know already
        self._stop_publishing(reason)
        self.abort()

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

    def _lost(self, exc: Exception | None) -> None:
        for handle in (self._timer, self._refusal):
            if handle is not None:
                handle.cancel()
        self._timer = self._refusal = None
        if self._coalescing is not None:
            self._coalescing.close()
            self._coalescing = None
        reason = self._close_reason or (str(exc) if exc else "peer closed the connection")
        self._close_reason = reason
        self._stop_publishing(reason)
        if self._release():
            logger.debug("connection closed", extra=self._fields(reason=reason))
        self.connection = None

    def _release(self) -> bool:
        """Give the connection's slot back, once; False when it held none (any more)."""
        if not self._admitted:
            return False
        self._admitted = False
        self.sessions.discard(self)
        self.admission.release(self.address, self.id)
        return True

    def _evicted(self, reason: str) -> None:
        """Admission took this connection's slot (already released) for a newcomer."""
        self._admitted = False
        self.sessions.discard(self)
        try:
            if self._tls_handshake is not None and not self._tls_handshake.done():
                self._close_reason = reason
                logger.warning("connection closed", extra=self._fields(reason=reason))
                self._tls_handshake.cancel()
                self.abort()
            else:
                self._drop(reason)
        except Exception:
            self._fail("being evicted")

    # -- failures of our own ----------------------------------------------------------------------

    def _guarded(self, doing: str, step: Callable[..., None], *args: object) -> None:
        """Run ``step``; any exception it raises ends this connection alone."""
        try:
            step(*args)
        except Exception:
            self._fail(doing)

    def _fail(self, doing: str) -> None:
        """An exception escaped our own code: log it once, drop this connection only."""
        if not self._failed:
            self._failed = True
            logger.exception(
                "connection failed", extra=self._fields(reason=f"internal error while {doing}")
            )
        self._close_reason = self._close_reason or f"internal error while {doing}"
        try:
            self._stop_publishing(self._close_reason)
        except Exception:
            logger.debug("releasing the stream failed too", exc_info=True)
        self.abort()
        self._release()

    # -- timers -----------------------------------------------------------------------------------

    def _deadline(self) -> float | None:
        """The next time something may be due: a phase of the protocol, the peer's silence
        (not while we are the ones not reading), or a write the peer leaves unread."""
        assert self.connection is not None
        limits = self.context.limits
        due = [self.connection.get_timer()]
        if not self._read_paused:
            due.append(self.last_activity + limits.idle_timeout)
        if self._write_paused_at is not None:
            due.append(self._write_paused_at + limits.write_timeout)
        return min((when for when in due if when is not None), default=None)

    def _arm_timer(self) -> None:
        # Activity only moves the deadline later, so the timer re-arms itself when it fires and
        # data_received never touches it; only a pause, which may move it earlier, re-arms it.
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        deadline = self._deadline()
        if deadline is not None:
            when = max(deadline, self.loop.time())
            self._timer = self.loop.call_at(when, self._guarded, "timing out", self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        connection = self.connection
        if connection is None or connection.terminated:
            return
        now = self.loop.time()
        limits = self.context.limits
        connection.handle_timer(now)
        if not connection.terminated:
            stalled = self._write_paused_at
            if stalled is not None and now >= stalled + limits.write_timeout:
                self._drop(f"peer has not read for {limits.write_timeout:g} s")
                return
            if not self._read_paused and now >= self.last_activity + limits.idle_timeout:
                self._abort(f"idle for {limits.idle_timeout:g} s")
        self._process_events()
        if not connection.terminated:
            self._arm_timer()

    # -- logging ----------------------------------------------------------------------------------

    def _fields(self, **fields: object) -> dict[str, object]:
        return {"connection": self.id, "peer": self.peer, "protocol": self.protocol, **fields}
