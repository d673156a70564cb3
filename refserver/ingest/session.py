"""One RTMP/RTMPS publisher connection as a sans-IO object: :class:`IngestSession`.

The session wraps a ``wire.rtmp`` server connection and adds what a server needs around it: the
publish decision (stream keys, the application name, a name already taken), the packager that
turns FLV tags into frames, and every deadline the connection lives under. It takes bytes with
the time they arrived, hands out bytes to send, events for its owner and its next deadline
(:meth:`IngestSession.get_timer`), and never touches a socket or a clock: the asyncio owner
(:class:`refserver.ingest.server.IngestServer`, through ``wire.asyncio.pump.StreamPump``) does.

Deadlines the session owns, all through ``get_timer``/``handle_timer``:

- the RTMP handshake and the set-up (connected but never publishes), counted from TCP accept by
  the wire connection (``handshake_timeout``, ``setup_timeout``);
- the peer's silence (``idle_timeout``), except while we are the ones not reading;
- a peer that leaves our writes unread (``write_timeout`` from ``writing_paused``);
- the slow-down of a refused stream key: the answer waits ``KeyFailures.record``'s delay, and
  nothing is read from the peer meanwhile.

Everything a peer can get wrong ends this connection alone with a
:class:`~wire.session.Termination`, logged once: :attr:`~wire.session.Cause.PROTOCOL_ERROR`
(malformed chunks or AMF, an unreadable tag), :attr:`~wire.session.Cause.TIMED_OUT` (a phase,
silence), :attr:`~wire.session.Cause.REFUSED` with the onStatus code (a refused publish),
:attr:`~wire.session.Cause.OVERLOAD` (a peer that does not read, a slot taken for a newcomer:
the owner drops those without flushing).
"""

from __future__ import annotations

import itertools
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

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
from wire.session import Cause, Termination

logger = logging.getLogger("refserver.ingest")

ENHANCED_FOURCCS = ("avc1", "hvc1")
IDLE = "data from the publisher"
"""The phase of an idle timeout: the peer sent nothing for ``idle_timeout``."""
_connection_ids = itertools.count(1)


def next_connection_id() -> int:
    """A number for the next connection, unique in this process (logs, PublisherInfo)."""
    return next(_connection_ids)


@dataclass(frozen=True, slots=True)
class IngestContext:
    """What every session of one server shares."""

    registry: StreamRegistry
    keys: StreamKeys
    limits: Limits
    app: str
    chunk_size: int
    merge_reads: bool = False


@dataclass(frozen=True, slots=True)
class PublishingStarted:
    """The publish was accepted: media follows (the owner may read it in larger pieces)."""

    stream: str


@dataclass(frozen=True, slots=True)
class IngestEnded:
    """The session ended and gave its connection slot back; the last event it emits."""

    termination: Termination


IngestEvent = PublishingStarted | IngestEnded


@dataclass(frozen=True, slots=True)
class _PendingRefusal:
    due: float
    stream_id: int
    decision: PublishDecision


class IngestSession:
    """One accepted connection, from TCP accept to close; a ``wire.asyncio`` StreamSession.

    ``now`` is the time of TCP accept: the handshake and set-up deadlines count from it, TLS
    included. ``peer`` names the peer in logs, ``host`` (its address) is what the per-address
    limits count. ``wall_offset`` turns the caller's clock into wall-clock time
    (:attr:`PublisherInfo.since`). Call :meth:`admit` once, before anything else, to take a
    connection slot from ``admission``.
    """

    connection_class: ClassVar[type[RtmpServerConnection]] = RtmpServerConnection
    """The sans-IO connection each session drives: an extension point for a subclass that
    overrides its public methods (``benchmarks.discarding`` drops media unparsed this way)."""

    def __init__(
        self,
        context: IngestContext,
        admission: Admission,
        *,
        now: float,
        protocol: str = "rtmp",
        peer: str = "?",
        host: str | None = None,
        wall_offset: float = 0.0,
        connection_id: int | None = None,
    ) -> None:
        self.context = context
        self.admission = admission
        self.protocol = protocol
        self.peer = peer
        self.address = address_group(peer if host is None else host)
        """The peer's :func:`address_group`, what the per-address limits count."""
        self.id = next_connection_id() if connection_id is None else connection_id
        self.wall_offset = wall_offset
        self.accepted_at = self.last_activity = now
        self._silence_check = now + context.limits.idle_timeout
        """When to look at the peer's silence next. Bytes only move the idle deadline later,
        so a read leaves it alone (the pump's timer is not re-armed on every read) and the
        check moves it on to ``last_activity + idle_timeout`` when it finds the peer spoke."""
        limits = context.limits
        self.connection = self.connection_class(
            now=now,
            chunk_size=context.chunk_size,
            fourcc_list=ENHANCED_FOURCCS,
            handshake_timeout=limits.handshake_timeout,
            setup_timeout=limits.setup_timeout,
            max_message_size=limits.max_message_size,
            max_buffered_bytes=limits.max_buffered_bytes,
            max_chunk_size=limits.max_chunk_size,
        )
        self.stream: LiveStream | None = None
        self.publisher: PublisherInfo | None = None
        self.tracks = FlvTracks()
        self.app: str | None = None
        self._admitted = False
        self._events: deque[IngestEvent] = deque()
        self._termination: Termination | None = None
        self._writes_paused_at: float | None = None
        self._refusal: _PendingRefusal | None = None
        self._reported_unsupported: set[str] = set()
        self._due: float | None = None
        self._due_known = False
        """get_timer's answer is kept until something that moves a deadline happens: a control
        event, a pause, a timer, a close. Media does not, so a read does not recompute it."""

    # -- admission ---------------------------------------------------------------------------------

    def admit(
        self,
        now: float,
        evicted: Callable[[str], None],
        *,
        peer: str | None = None,
        host: str | None = None,
    ) -> str | None:
        """Take a connection slot for the peer at ``host`` (named ``peer`` in logs); None when
        taken, else why not (the connection must then be dropped unanswered).
        ``evicted(reason)`` is called if the slot is later given to a newcomer (Admission has
        released it already): the owner then ends this session at once, with :meth:`evict` or
        ``close`` for :attr:`~wire.session.Cause.OVERLOAD`."""
        if peer is not None:
            self.peer = peer
        if host is not None:
            self.address = address_group(host)

        def slot_taken(reason: str) -> None:
            self._admitted = False  # Admission released it already
            evicted(reason)

        refusal = self.admission.admit(self.address, now, self.id, slot_taken)
        if refusal is None:
            self._admitted = True
            logger.debug("connection accepted", extra=self._fields())
        else:
            # By address, not by connection and port: a flood of refusals is identical records,
            # which the log counts instead of writing each.
            logger.warning(
                "connection refused",
                extra={"address": self.address, "protocol": self.protocol, "reason": refusal},
            )
        return refusal

    def evict(self, reason: str) -> None:
        """The slot went to a newcomer: end at once, sending nothing more."""
        self.close(Termination.overload(reason))

    # -- the StreamSession side --------------------------------------------------------------------

    @property
    def termination(self) -> Termination | None:
        """Why the session ended, once it has."""
        return self._termination

    @property
    def wants_data(self) -> bool:
        """False while we must not read: the peer leaves our answers unread, or a refused key's
        answer is not due yet (a guess made meanwhile would be free)."""
        return self._writes_paused_at is None and self._refusal is None

    @property
    def publishing(self) -> bool:
        """True between an accepted publish and its end."""
        return self.stream is not None

    def bytes_to_complete(self) -> int | None:
        """A lower bound on the bytes that complete the message being read (read coalescing)."""
        return self.connection.bytes_to_complete()

    def receive_data(self, data: bytes, now: float) -> None:
        if self._termination is not None:
            return
        self.last_activity = now
        self.connection.receive_data(data, now)
        self._process_events(now)

    def receive_eof(self, now: float) -> None:
        if self._termination is not None:
            return
        self.connection.receive_eof()
        self._process_events(now)

    def connection_lost(self, now: float, exc: Exception | None) -> None:
        if self._termination is None:
            detail = str(exc) if exc else "peer closed the connection"
            self.connection.close(Termination.peer_closed(detail, error=exc))
            self._process_events(now)

    def data_to_send(self) -> bytes:
        return self.connection.data_to_send()

    def next_event(self) -> IngestEvent | None:
        return self._events.popleft() if self._events else None

    def writing_paused(self, now: float) -> None:
        self._due_known = False
        # Whatever we read may need an answer (a ping, an acknowledgement) that cannot go out:
        # stop reading until the peer reads, and give it write_timeout to do so.
        self._writes_paused_at = now

    def writing_resumed(self, now: float) -> None:
        self._due_known = False
        self._writes_paused_at = None
        self.last_activity = now  # the peer was not silent while we did not listen
        self._silence_check = now + self.context.limits.idle_timeout

    def close(self, termination: Termination) -> None:
        if self._termination is not None:
            return
        self._due_known = False
        self.connection.close(termination)
        if termination.cause is Cause.OVERLOAD:
            self.connection.data_to_send()  # the peer does not read, or lost its slot
        self._process_events(None)

    # -- timers ------------------------------------------------------------------------------------

    def get_timer(self) -> float | None:
        """The next time something may be due: a phase of the protocol, the peer's silence (not
        while we are the ones not reading), a write the peer leaves unread, a refusal's answer."""
        if self._termination is not None:
            return None
        if self._due_known:
            return self._due
        due = self.connection.get_timer()
        if self._writes_paused_at is not None:
            paused_until = self._writes_paused_at + self.context.limits.write_timeout
            due = paused_until if due is None else min(due, paused_until)
        if self._refusal is not None:
            due = self._refusal.due if due is None else min(due, self._refusal.due)
        if self.wants_data:  # only while we read does the peer's silence count
            due = self._silence_check if due is None else min(due, self._silence_check)
        self._due, self._due_known = due, True
        return due

    def handle_timer(self, now: float) -> None:
        if self._termination is not None:
            return
        self._due_known = False
        limits = self.context.limits
        self.connection.handle_timer(now)
        refusal, paused_at = self._refusal, self._writes_paused_at
        if self.connection.terminated:
            pass  # a phase ran out of time
        elif paused_at is not None and now >= paused_at + limits.write_timeout:
            self.close(Termination.overload(f"peer has not read for {limits.write_timeout:g} s"))
            return
        elif refusal is not None and now >= refusal.due:
            self._refusal = None
            assert refusal.decision.code is not None
            self.connection.reject_publish(
                refusal.stream_id, refusal.decision.code, refusal.decision.description
            )
        elif self.wants_data and now >= self._silence_check:
            silent_until = self.last_activity + limits.idle_timeout
            if now >= silent_until:
                detail = f"idle for {limits.idle_timeout:g} s"
                self.connection.close(Termination.timed_out(IDLE, detail))
            else:
                self._silence_check = silent_until
        self._process_events(now)

    # -- events of the wire connection -------------------------------------------------------------

    def _process_events(self, now: float | None) -> None:
        connection = self.connection
        while (event := connection.next_event()) is not None:
            if isinstance(event, VideoReceived):
                self._media(event.timestamp, event.payload, video=True)
            elif isinstance(event, AudioReceived):
                self._media(event.timestamp, event.payload, video=False)
            else:
                self._control(event, self.last_activity if now is None else now)

    def _control(self, event: RtmpEvent, now: float) -> None:
        self._due_known = False  # the connection's own deadlines change with its events
        connection = self.connection
        if isinstance(event, HandshakeCompleted):
            kind = "complex" if event.complex_handshake else "simple"
            logger.debug("handshake completed", extra=self._fields(handshake=kind))
        elif isinstance(event, ClientConnected):
            self.app = event.app
            logger.debug("connected", extra=self._fields(app=event.app, tc_url=event.tc_url))
        elif isinstance(event, PublishRequested):
            self._publish_requested(event, now)
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
            self._ended(event.termination)

    def _publish_requested(self, event: PublishRequested, now: float) -> None:
        connection = self.connection
        if connection.terminated:
            return  # a later message in the same read ended it: there is no one to answer
        failures = self.admission.failures
        penalty = failures.refusal(self.address, now)
        if penalty is not None:
            # Its key is not even looked at: a guess made now would be free.
            name = event.name.partition("?")[0]
            decision = PublishDecision(name, penalty, PUBLISH_DENIED)
        else:
            decision = self.context.keys.authorize(event.name)
        if decision.key_refused:
            delay = failures.record(self.address, now)
            logger.warning(
                "publish refused",
                extra=self._fields(
                    stream=decision.name, code=decision.code, reason=decision.refusal, delay=delay
                ),
            )
            self._refusal = _PendingRefusal(now + delay, event.stream_id, decision)
            return
        code, refusal, description = decision.code, decision.refusal, decision.description
        if decision.allowed and self.app != self.context.app:
            code, refusal = PUBLISH_BAD_NAME, f"application {self.app!r} is not served"
            description = f"{decision.name}: {refusal}"
        stream = None
        publisher = PublisherInfo(self.peer, self.protocol, now + self.wall_offset, self.id)
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
            connection.reject_publish(event.stream_id, code, description)
            return
        self.stream, self.publisher = stream, publisher
        self.tracks = FlvTracks()
        self.admission.proven(self.address, self.id)
        connection.accept_publish(event.stream_id)
        self._events.append(PublishingStarted(stream.name))
        logger.info(
            "publish started",
            extra=self._fields(stream=stream.name, republish=stream.stats.publishes > 1),
        )

    def _media(self, timestamp: int, payload: bytes, *, video: bool) -> None:
        stream = self.stream
        if stream is None or self.connection.terminated:
            return
        tracks = self.tracks
        try:
            if video:
                frame = tracks.video_tag(timestamp, payload)
            else:
                frame = tracks.audio_tag(timestamp, payload)
        except IngestError as exc:
            kind = "video" if video else "audio"
            self._fail_publish(f"unreadable {kind} tag: {exc}", exc)
            return
        if frame is not None and tracks.changed:
            # Sequence headers come in one by one; the first frame after them sees them all.
            tracks.changed = False
            try:
                stream.configure(tracks.video, tracks.audio)
            except (CodecError, Fmp4Error) as exc:
                # Parameter sets that parse but that the segment format cannot describe (an SPS
                # wider than an fMP4 sample entry holds): this publisher's stream, not the server.
                self._fail_publish(f"track configuration cannot be packaged: {exc}", exc)
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

    def _fail_publish(self, detail: str, exc: Exception) -> None:
        """The publisher sent media we cannot take: end the connection through the protocol
        (what is queued is still sent)."""
        self.connection.close(Termination(Cause.PROTOCOL_ERROR, detail, error=exc))

    # -- lifecycle ---------------------------------------------------------------------------------

    def _stop_publishing(self, reason: str) -> None:
        stream, publisher = self.stream, self.publisher
        if stream is None or publisher is None:
            return
        self.stream = self.publisher = None
        self.context.registry.release(stream, publisher)
        logger.info("publish stopped", extra=self._fields(stream=stream.name, reason=reason))

    def _ended(self, termination: Termination) -> None:
        if self._termination is not None:
            return
        self._termination = termination
        self._refusal = None
        if termination.cause in (Cause.TIMED_OUT, Cause.PROTOCOL_ERROR, Cause.OVERLOAD):
            # Ours to report: the peer broke the protocol, ran out of time or of our patience.
            # A peer that left, a refusal (logged as it was decided) and our own close are not.
            logger.warning("connection closed", extra=self._fields(reason=termination.detail))
        else:
            logger.debug("connection closed", extra=self._fields(reason=termination.detail))
        try:
            self._stop_publishing(termination.detail)
        finally:
            self._release()
            self._events.append(IngestEnded(termination))

    def _release(self) -> None:
        """Give the connection's slot back, once."""
        if self._admitted:
            self._admitted = False
            self.admission.release(self.address, self.id)

    # -- logging -----------------------------------------------------------------------------------

    def _fields(self, **fields: object) -> dict[str, object]:
        return {"connection": self.id, "peer": self.peer, "protocol": self.protocol, **fields}
