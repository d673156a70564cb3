"""One publishing connection as a sans-IO session: phases, deadlines, media and how it ended.

:class:`PublishConnection` wraps :class:`wire.rtmp.RtmpClientConnection` with what an encoder
adds to the protocol: the order of the dialog (RTMP handshake, ``connect`` → ``_result``,
``releaseStream``/``FCPublish``/``createStream``, ``publish`` → NetStream.Publish.Start, media,
then ``FCUnpublish``/``deleteStream`` and close), a deadline for every phase, stall detection
while streaming, the media itself, and one :class:`~wire.session.Termination` at the end. It owns
no socket and no clock: the asyncio owner (:mod:`camsim.encoder.publisher`) opens the TCP
connection and runs TLS, reports both in with the time (:meth:`~PublishConnection.
transport_connected`, :meth:`~PublishConnection.tls_established`), and drives the rest through
:class:`wire.asyncio.pump.StreamPump`. Pacing stays on the fleet's shared scheduler
(:class:`~camsim.encoder.pacer.Pacer`): the session asks for it with :class:`PacingWanted` and
sends what is due in :meth:`~PublishConnection.send_due`.

Every deadline is ``timeout`` seconds from the start of its phase, so a test with a fake clock
walks each of them::

    session = PublishConnection(target, MediaClock(plan, 0), stats, now=0.0, timeout=10)
    session.transport_connected(0.01)        # phase RTMP handshake; C0+C1 in data_to_send()
    session.handle_timer(10.01)              # nothing came back
    assert session.termination.cause is Cause.TIMED_OUT
"""

from __future__ import annotations

import enum
import ssl
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from camsim.encoder.flv_source import FlvPlan, TagCursor
from camsim.encoder.stats import PhaseTimings, StreamState, StreamStats
from camsim.encoder.target import PushTarget
from wire.flv import TAG_TYPE_VIDEO
from wire.rtmp import RtmpClientConnection
from wire.rtmp.client import DEFAULT_FLASH_VER
from wire.rtmp.events import (
    ConnectAccepted,
    ConnectionTerminated,
    ConnectRejected,
    HandshakeCompleted,
    PublishRejected,
    PublishStarted,
    StatusReceived,
    StreamCreated,
)
from wire.session import Cause, Termination

DEFAULT_CHUNK_SIZE = 4096
"""What OBS and FFmpeg announce with Set Chunk Size before ``connect``."""
DEFAULT_TIMEOUT = 10.0
"""Seconds allowed for each phase, and for a server that stops reading."""


class Phase(enum.Enum):
    """Where a publishing connection is; each phase until STREAMING has its own deadline."""

    TCP = "TCP connect"
    TLS = "TLS handshake"
    RTMP_HANDSHAKE = "RTMP handshake"
    CONNECT = "RTMP connect"
    PUBLISH = "publish"
    """releaseStream, FCPublish, createStream, publish, up to NetStream.Publish.Start."""
    STREAMING = "streaming"
    CLOSING = "closing"


class MediaClock:
    """Where a stream is in its media, kept across reconnects so timestamps keep running.

    ``origin`` is the time of media time zero, fixed when the first publish starts. After a
    reconnect the stream resumes at the first keyframe not yet due, with timestamps that still
    follow the clock, as a live encoder that kept encoding during the outage would.
    """

    def __init__(self, plan: FlvPlan, start_timestamp: int) -> None:
        self.plan = plan
        self.cursor = TagCursor(plan, start_timestamp)
        self.origin: float | None = None

    def start(self, now: float) -> None:
        if self.origin is None:
            self.origin = now - self.cursor.due_ms / 1000
        else:
            self.cursor.seek_keyframe(int((now - self.origin) * 1000) + 1)


# -- events for the owner ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PacingWanted:
    """Media may flow: call :meth:`PublishConnection.send_due` at ``at`` (publish started, or
    the server reads again after a pause)."""

    at: float


@dataclass(frozen=True, slots=True)
class SessionEnded:
    """The session ended; what it still has to send is its last word."""

    termination: Termination


@dataclass(frozen=True, slots=True)
class TransportClosed:
    """The transport is gone: the attempt is over."""

    termination: Termination


PublishEvent = PacingWanted | SessionEnded | TransportClosed


class PublishConnection:
    """One connection attempt of one stream, sans-IO (a :class:`wire.asyncio.pump.
    StreamSession`).

    ``wallclock_us`` gives the time written into each frame's SEI stamp (microseconds since the
    Unix epoch); it is the owner's clock, injected, so tests choose it.
    """

    def __init__(
        self,
        target: PushTarget,
        clock: MediaClock,
        stats: StreamStats,
        *,
        now: float,
        timeout: float = DEFAULT_TIMEOUT,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        flash_ver: str = DEFAULT_FLASH_VER,
        wallclock_us: Callable[[], int] = lambda: 0,
    ) -> None:
        self.target = target
        self.clock = clock
        self.stats = stats
        self.timeout = timeout
        self.timings = stats.timings = PhaseTimings()
        """This attempt's phase timings (also the stream's latest, in ``stats``)."""
        self._wallclock_us = wallclock_us
        fourccs = [clock.plan.fourcc] if clock.plan.fourcc else []
        # The connection's own deadlines are a backstop only: ours, one per phase, always come
        # first (it counts the handshake and connect as one phase).
        self.connection = RtmpClientConnection(
            app=target.app,
            tc_url=target.tc_url,
            flash_ver=flash_ver,
            fourcc_list=fourccs,
            chunk_size=chunk_size,
            connect_timeout=3 * timeout,
            publish_timeout=3 * timeout,
        )
        self.phase = Phase.TCP
        self._phase_started = now
        self._deadline: float | None = now + timeout
        self._stall_deadline: float | None = None
        self._paused = False
        self._early = bytearray()
        self._events: deque[PublishEvent] = deque()
        self._termination: Termination | None = None
        self._refusal: tuple[str, str, str] | None = None
        self._published_at: float | None = None
        self._create_stream_sent = self._publish_sent = now

    # -- what the owner reports -------------------------------------------------------------------

    def transport_connected(self, now: float, *, tls: bool = False) -> None:
        """TCP is up; with ``tls`` the TLS handshake runs next, else the RTMP handshake starts."""
        if self._termination is not None:
            return
        self.timings.tcp_connect_ms = self.stats.tcp_connect_ms = self._elapsed_ms(now)
        if tls:
            self._enter(Phase.TLS, now)
        else:
            self._start_handshake(now)

    def tls_established(self, now: float) -> None:
        """The TLS handshake completed: the RTMP handshake starts."""
        if self._termination is not None:
            return
        self.timings.tls_handshake_ms = self.stats.tls_handshake_ms = self._elapsed_ms(now)
        self._start_handshake(now)

    def connect_failed(self, now: float, error: OSError) -> None:
        """The TCP connection could not be opened (refused, unreachable...)."""
        target = self.target
        detail = f"TCP connect to {target.host}:{target.port} failed: {error}"
        self._end(Termination.peer_closed(detail, error=error, phase=Phase.TCP.value))

    def stop(self, now: float) -> None:
        """Unpublish (when publishing) and close; the session ends with LOCAL_CLOSE."""
        if self._termination is not None:
            return
        if self.phase in (Phase.TCP, Phase.TLS):
            detail = f"stopped during {self.phase.value}"
            self._end(Termination.local_close(detail, phase=self.phase.value))
            return
        self._enter(Phase.CLOSING, now)
        self._deadline = None
        self.connection.close()  # FCUnpublish and deleteStream go out first when publishing
        self._process_events(now)

    # -- state ------------------------------------------------------------------------------------

    @property
    def established(self) -> bool:
        """True once TCP (and TLS) are up: from then on :meth:`stop` unpublishes."""
        return self.phase not in (Phase.TCP, Phase.TLS)

    @property
    def published(self) -> bool:
        """True when this attempt got as far as sending media."""
        return self._published_at is not None

    @property
    def pacing(self) -> bool:
        """True while media may be sent: streaming, the server reading, not ended."""
        return self.phase is Phase.STREAMING and not self._paused and self._termination is None

    # -- StreamSession ----------------------------------------------------------------------------

    @property
    def termination(self) -> Termination | None:
        return self._termination

    @property
    def wants_data(self) -> bool:
        return True  # the RTMP connection caps what it buffers itself

    def receive_data(self, data: bytes, now: float) -> None:
        if self.phase in (Phase.TCP, Phase.TLS):
            self._early += data  # the server spoke first; the handshake will judge it
            return
        self.connection.receive_data(data, now)
        self._process_events(now)

    def receive_eof(self, now: float) -> None:
        self.connection.receive_eof()
        self._process_events(now)

    def connection_lost(self, now: float, exc: Exception | None) -> None:
        if self._termination is None:
            detail = f"server closed the connection during {self.phase.value}"
            if exc is not None:
                detail += f": {exc}"
            self._end(Termination.peer_closed(detail, error=exc, phase=self.phase.value))
        assert self._termination is not None
        self._events.append(TransportClosed(self._termination))

    def data_to_send(self) -> bytes:
        data = self.connection.data_to_send()
        self.stats.bytes_sent += len(data)
        return data

    def get_timer(self) -> float | None:
        # Called after every paced write: kept to a few comparisons while streaming, where the
        # stall is the only deadline (the connection's own end with the publish).
        if self._termination is not None:
            return None
        if self.phase is Phase.STREAMING:
            return self._stall_deadline
        timer = self.connection.get_timer()
        for deadline in (self._deadline, self._stall_deadline):
            if deadline is not None and (timer is None or deadline < timer):
                timer = deadline
        return timer

    def handle_timer(self, now: float) -> None:
        if self._termination is not None:
            return
        if self._stall_deadline is not None and now >= self._stall_deadline:
            detail = f"the server stopped reading for {self.timeout:g} s while streaming"
            self._end(Termination.timed_out(Phase.STREAMING.value, detail))
        elif self._deadline is not None and now >= self._deadline:
            self._end(self._timed_out())
        else:
            self.connection.handle_timer(now)
            self._process_events(now)

    def next_event(self) -> PublishEvent | None:
        return self._events.popleft() if self._events else None

    def writing_paused(self, now: float) -> None:
        self._paused = True
        if self.phase is Phase.STREAMING:
            self._stall_deadline = now + self.timeout

    def writing_resumed(self, now: float) -> None:
        self._paused = False
        self._stall_deadline = None
        if self.pacing:
            self._events.append(PacingWanted(now))

    def close(self, termination: Termination) -> None:
        """End at once for ``termination`` (the pump's: a failed TLS handshake, overload, a bug
        of ours); a TLS failure is told in the words of this session's other failures."""
        if self._termination is not None:
            return
        if self.phase is Phase.TLS:
            termination = self._tls_failure(termination)
        self._end(termination)

    # -- media ------------------------------------------------------------------------------------

    def send_due(self, now: float) -> float | None:
        """Send every frame due at ``now``; return when the next one is due, or None while
        media may not flow (the owner's pacer calls this, then flushes)."""
        if not self.pacing:
            return None
        clock = self.clock
        cursor = clock.cursor
        origin = clock.origin
        assert origin is not None
        media_ms = (now - origin) * 1000
        if cursor.due_ms <= media_ms:
            connection, stats = self.connection, self.stats
            wallclock_us = self._wallclock_us()
            if self.timings.first_frame_ms is None and self._published_at is not None:
                self.timings.first_frame_ms = (now - self._published_at) * 1000
            while cursor.due_ms <= media_ms:
                if cursor.frame.type_id == TAG_TYPE_VIDEO:
                    connection.send_video(cursor.timestamp, cursor.body(wallclock_us))
                    stats.video_frames += 1
                else:
                    connection.send_audio(cursor.timestamp, cursor.body(wallclock_us))
                    stats.audio_frames += 1
                cursor.advance()
        return origin + cursor.due_ms / 1000

    def _start_media(self, now: float) -> None:
        clock, connection = self.clock, self.connection
        clock.start(now)
        timestamp = clock.cursor.timestamp
        connection.send_metadata(clock.plan.metadata, timestamp=timestamp)
        connection.send_video(timestamp, clock.plan.video_header)
        if clock.plan.audio_header is not None:
            connection.send_audio(timestamp, clock.plan.audio_header)
        self._published_at = self.stats.publishing_since = now
        self.stats.state = StreamState.PUBLISHING
        self.stats.error = None
        if self._paused:  # the server stopped reading before the media even started
            self._stall_deadline = now + self.timeout
        else:
            self._events.append(PacingWanted(now))

    # -- the dialog -------------------------------------------------------------------------------

    def _start_handshake(self, now: float) -> None:
        self._enter(Phase.RTMP_HANDSHAKE, now)
        self.connection.initiate(now)
        if self._early:
            early, self._early = bytes(self._early), bytearray()
            self.connection.receive_data(early, now)
        self._process_events(now)

    def _process_events(self, now: float) -> None:
        connection, timings = self.connection, self.timings
        while (event := connection.next_event()) is not None:
            if isinstance(event, ConnectionTerminated):
                self._terminated(event.termination)
            elif isinstance(event, ConnectRejected):
                self._refusal = ("connect", event.code, event.description)
            elif isinstance(event, PublishRejected):
                self._refusal = ("publish", event.code, event.description)
            elif connection.terminated or self._termination is not None:
                continue  # queued before the end: nothing more to answer
            elif isinstance(event, HandshakeCompleted):
                # connect goes out with C2
                timings.rtmp_handshake_ms = self.stats.rtmp_handshake_ms = self._elapsed_ms(now)
                self._enter(Phase.CONNECT, now)
            elif isinstance(event, ConnectAccepted):
                timings.connect_ms = self._elapsed_ms(now)
                self._enter(Phase.PUBLISH, now)
                self._create_stream_sent = now
                connection.publish(self.target.stream_name, now)
            elif isinstance(event, StreamCreated):
                timings.create_stream_ms = (now - self._create_stream_sent) * 1000
                self._publish_sent = now  # publish goes out with the createStream answer
            elif isinstance(event, PublishStarted):
                timings.publish_ms = (now - self._publish_sent) * 1000
                self.stats.connect_to_publish_ms = timings.connect_to_publish_ms
                self._enter(Phase.STREAMING, now)
                self._deadline = None
                self._start_media(now)
            elif isinstance(event, StatusReceived) and event.level == "error":
                self._refusal = ("stream", event.code, event.description)
                connection.close(Termination.refused(event.code, event.description))

    def _terminated(self, ended: Termination) -> None:
        """The RTMP connection ended: say why in this session's words."""
        phase = self.phase.value
        if self._refusal is not None:
            command, code, description = self._refusal
            detail = f"{command} rejected: {code}" + (f": {description}" if description else "")
            self.stats.status_code, self.stats.status_description = code, description
            self._end(Termination.refused(code, detail, phase=phase))
        elif self.phase is Phase.CLOSING:
            self._end(ended)
        elif ended.cause is Cause.TIMED_OUT:
            self._end(self._timed_out())
        elif ended.cause is Cause.PEER_CLOSED:
            detail = f"server closed the connection during {phase}"
            self._end(Termination.peer_closed(detail, error=ended.error, phase=phase))
        else:
            detail = f"protocol error during {phase}: {ended.detail}"
            self._end(Termination(ended.cause, detail, ended.status, ended.error, phase))

    # -- internals --------------------------------------------------------------------------------

    def _enter(self, phase: Phase, now: float) -> None:
        self.phase = phase
        self._phase_started = now
        self._deadline = now + self.timeout

    def _elapsed_ms(self, now: float) -> float:
        return (now - self._phase_started) * 1000

    def _timed_out(self) -> Termination:
        target, phase = self.target, self.phase.value
        detail = f"{phase} with {target.host}:{target.port} timed out after {self.timeout:g} s"
        return Termination.timed_out(phase, detail)

    def _tls_failure(self, ended: Termination) -> Termination:
        where = f"{self.target.host}:{self.target.port}"
        error = ended.error
        if ended.cause is Cause.TIMED_OUT:
            return self._timed_out()
        if isinstance(error, ssl.SSLCertVerificationError):
            detail = f"TLS certificate of {where} rejected: {error.verify_message}"
            return Termination(Cause.PROTOCOL_ERROR, detail, error=error, phase=Phase.TLS.value)
        if ended.cause in (Cause.PROTOCOL_ERROR, Cause.PEER_CLOSED):
            detail = f"TLS handshake with {where} failed: {error or 'closed'}"
            return Termination(ended.cause, detail, error=error, phase=Phase.TLS.value)
        return ended

    def _end(self, termination: Termination) -> None:
        if self._termination is not None:
            return
        self._termination = termination
        self._deadline = self._stall_deadline = None
        if not self.connection.terminated:
            self.connection.close(termination)
            while self.connection.next_event() is not None:
                pass  # what it still had to say, and our own ConnectionTerminated
        if termination.cause is not Cause.LOCAL_CLOSE:
            self.stats.error = termination.detail
        self._events.append(SessionEnded(termination))
