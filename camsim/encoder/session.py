"""One publishing connection: TCP, TLS, RTMP handshake, connect, publish, then paced media.

:class:`PublishSession` is the asyncio pump around :class:`wire.rtmp.RtmpClientConnection`: bytes
from the socket go into the connection, its events drive the encoder sequence, whatever it wants
to send is written at once, and its timer is re-armed on the event loop's clock. Every phase has
a deadline: TCP connect and TLS handshake here, handshake+connect and publish in the
connection, and "the server stopped reading" while streaming.
"""

from __future__ import annotations

import asyncio
import enum
import socket
import ssl
import time
from dataclasses import dataclass

from camsim.encoder.errors import CertificateRejected, PublishRefused, PushError
from camsim.encoder.flv_source import FlvPlan, TagCursor
from camsim.encoder.pacer import Pacer
from camsim.encoder.stats import StreamState, StreamStats
from camsim.encoder.target import PushTarget
from camsim.pcap.tap import CaptureTap, TappedTransport
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
)
from wire.session import Cause, Termination

DEFAULT_CHUNK_SIZE = 4096
"""What OBS and FFmpeg announce with Set Chunk Size before ``connect``."""
DEFAULT_TIMEOUT = 10.0


class Phase(enum.Enum):
    TCP = "TCP connect"
    TLS = "TLS handshake"
    RTMP_HANDSHAKE = "RTMP handshake"
    CONNECT = "RTMP connect"
    PUBLISH = "publish"
    STREAMING = "streaming"
    CLOSING = "closing"


@dataclass(frozen=True)
class PublishOptions:
    """How every stream of a run connects and publishes."""

    chunk_size: int = DEFAULT_CHUNK_SIZE
    timeout: float = DEFAULT_TIMEOUT
    """Seconds allowed for each phase."""
    flash_ver: str = DEFAULT_FLASH_VER
    start_timestamp: int = 0
    ssl_context: ssl.SSLContext | None = None
    """Used for ``rtmps://`` targets; verification as configured in it."""
    send_buffer: int | None = None
    """SO_SNDBUF in bytes; ``None`` leaves the kernel's autotuning (up to megabytes) alone.
    Smaller makes a server that stopped reading show sooner, as a stall."""
    capture: CaptureTap | None = None
    """Write each connection's bytes to a pcapng file (``--capture``, camsim.pcap.tap)."""


class MediaClock:
    """Where a stream is in its media, kept across reconnects so timestamps keep running.

    ``origin`` is the loop time of media time zero, fixed when the first publish starts. After a
    reconnect the stream resumes at the first keyframe not yet due, with timestamps that still
    follow the wall clock, as a live encoder that kept encoding during the outage would.
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


class PublishSession(asyncio.Protocol):
    """A single connection attempt; :meth:`run` returns when it ends after :meth:`stop`, and
    raises :class:`PushError` when it fails."""

    def __init__(
        self,
        target: PushTarget,
        clock: MediaClock,
        pacer: Pacer,
        options: PublishOptions,
        stats: StreamStats,
    ) -> None:
        self.target = target
        self.clock = clock
        self.pacer = pacer
        self.options = options
        self.stats = stats
        self.phase = Phase.TCP
        fourccs = [clock.plan.fourcc] if clock.plan.fourcc else []
        self.connection = RtmpClientConnection(
            app=target.app,
            tc_url=target.tc_url,
            flash_ver=options.flash_ver,
            fourcc_list=fourccs,
            chunk_size=options.chunk_size,
            connect_timeout=options.timeout,
            publish_timeout=options.timeout,
        )
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._done: asyncio.Future[None] = self._loop.create_future()
        self._timer: asyncio.TimerHandle | None = None
        self._stall_timer: asyncio.TimerHandle | None = None
        self._close_timer: asyncio.TimerHandle | None = None
        self._failure: PushError | None = None
        self._paused = False
        self._early = bytearray()
        self._tapped: TappedTransport | None = None
        self._phase_started = self._loop.time()
        self._connect_sent = 0.0
        self._publish_started: float | None = None

    @property
    def publishing(self) -> bool:
        return self.phase is Phase.STREAMING

    @property
    def published(self) -> bool:
        """True when this attempt got as far as sending media."""
        return self._publish_started is not None

    # -- running ----------------------------------------------------------------------------------

    async def run(self) -> None:
        try:
            await self._open()
            self._enter(Phase.RTMP_HANDSHAKE)
            self.connection.initiate(self._loop.time())
            self._flush()
            if self._early:
                self.data_received(bytes(self._early))
            self._arm_timer()
            await self._done
        finally:
            self._teardown()

    @property
    def established(self) -> bool:
        """True once TCP (and TLS) are up: from then on :meth:`stop` closes gracefully."""
        return self.phase not in (Phase.TCP, Phase.TLS)

    def stop(self) -> None:
        """Unpublish (when publishing) and close; :meth:`run` then returns normally.

        Only for an established session; before that, cancel the task running :meth:`run`.
        """
        if self._done.done() or self.phase is Phase.CLOSING:
            return
        self._enter(Phase.CLOSING)
        self.connection.close()
        self._process_events()
        self._flush()

    async def _open(self) -> None:
        target, timeout = self.target, self.options.timeout
        self._enter(Phase.TCP)
        try:
            async with asyncio.timeout(timeout):
                transport, _ = await self._loop.create_connection(
                    lambda: self, target.host, target.port
                )
        except TimeoutError:
            raise PushError(self._timed_out()) from None
        except OSError as exc:
            raise PushError(f"TCP connect to {target.host}:{target.port} failed: {exc}") from None
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        if self.options.capture is not None:
            self._transport = self._tapped = self.options.capture.client(transport)
        if self.options.send_buffer is not None:
            sock = transport.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.options.send_buffer)
        self.stats.tcp_connect_ms = self._elapsed_ms()
        if not target.tls:
            return
        assert self.options.ssl_context is not None
        self._enter(Phase.TLS)
        try:
            async with asyncio.timeout(timeout):
                # server_hostname drives SNI and the name check; Python leaves SNI out for IP
                # literals (RFC 6066 section 3) and checks the certificate's IP addresses instead.
                tls = await self._loop.start_tls(
                    transport,
                    self,
                    self.options.ssl_context,
                    server_hostname=target.host,
                    # Past our own deadline, so that a slow handshake always ends as the
                    # TimeoutError above and never as asyncio's own abort.
                    ssl_handshake_timeout=timeout + 1.0,
                )
        except TimeoutError:
            raise PushError(self._timed_out()) from None
        except ssl.SSLCertVerificationError as exc:
            raise CertificateRejected(
                f"TLS certificate of {target.host}:{target.port} rejected: {exc.verify_message}"
            ) from None
        except (ssl.SSLError, ConnectionError) as exc:
            raise PushError(
                f"TLS handshake with {target.host}:{target.port} failed: {exc}"
            ) from None
        if tls is None:
            raise PushError(f"TLS handshake with {target.host}:{target.port} failed: closed")
        self._transport = tls
        if self._tapped is not None:  # record the cleartext, as the application sees it
            self._transport = self._tapped = self._tapped.over(tls)
        self.stats.tls_handshake_ms = self._elapsed_ms()

    # -- asyncio.Protocol ------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self._tapped is not None:
            self._tapped.received(data)
        if self.phase in (Phase.TCP, Phase.TLS):
            self._early += data  # the server spoke first; the handshake will judge it
            return
        self.connection.receive_data(data, self._loop.time())
        self._process_events()
        self._flush()
        self._arm_timer()

    def eof_received(self) -> bool | None:
        return None  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        if self.phase is Phase.CLOSING:
            self._finish(None)
        elif self.phase not in (Phase.TCP, Phase.TLS):
            cause = f": {exc}" if exc else ""
            self._finish(
                PushError(f"server closed the connection during {self.phase.value}{cause}")
            )

    def pause_writing(self) -> None:
        self._paused = True
        self.pacer.cancel(self)
        self._stall_timer = self._loop.call_later(self.options.timeout, self._stalled)

    def resume_writing(self) -> None:
        self._paused = False
        if self._stall_timer is not None:
            self._stall_timer.cancel()
            self._stall_timer = None
        if self.publishing:
            self.pacer.schedule(self, self._loop.time())

    # -- media ------------------------------------------------------------------------------------

    def pump(self, now: float) -> float | None:
        """Send every frame due at ``now`` in one write; called by the :class:`Pacer`."""
        if not self.publishing or self._paused or self._done.done():
            return None
        clock = self.clock
        cursor = clock.cursor
        origin = clock.origin
        assert origin is not None
        media_ms = (now - origin) * 1000
        if cursor.due_ms <= media_ms:
            connection, stats = self.connection, self.stats
            wallclock_us = time.time_ns() // 1000
            while cursor.due_ms <= media_ms:
                if cursor.frame.type_id == TAG_TYPE_VIDEO:
                    connection.send_video(cursor.timestamp, cursor.body(wallclock_us))
                    stats.video_frames += 1
                else:
                    connection.send_audio(cursor.timestamp, cursor.body(wallclock_us))
                    stats.audio_frames += 1
                cursor.advance()
            self._flush()
            if self._paused:
                return None
        return origin + cursor.due_ms / 1000

    def _start_media(self, now: float) -> None:
        clock, connection = self.clock, self.connection
        clock.start(now)
        timestamp = clock.cursor.timestamp
        connection.send_metadata(clock.plan.metadata, timestamp=timestamp)
        connection.send_video(timestamp, clock.plan.video_header)
        if clock.plan.audio_header is not None:
            connection.send_audio(timestamp, clock.plan.audio_header)
        self._publish_started = self.stats.publishing_since = now
        self.stats.state = StreamState.PUBLISHING
        self.stats.error = None
        self.pacer.schedule(self, now)

    # -- events -----------------------------------------------------------------------------------

    def _process_events(self) -> None:
        connection, stats = self.connection, self.stats
        while (event := connection.next_event()) is not None:
            now = self._loop.time()
            if isinstance(event, ConnectionTerminated):
                self._terminated(event.termination)
            elif isinstance(event, ConnectRejected):
                self._failure = PublishRefused("connect", event.code, event.description)
            elif isinstance(event, PublishRejected):
                self._failure = PublishRefused("publish", event.code, event.description)
            elif isinstance(event, HandshakeCompleted):
                stats.rtmp_handshake_ms = self._elapsed_ms()
                self._connect_sent = now  # connect goes out with C2
                self._enter(Phase.CONNECT)
            elif connection.terminated:
                continue  # queued before a protocol error ended it: nothing more to answer
            elif isinstance(event, ConnectAccepted):
                self._enter(Phase.PUBLISH)
                connection.publish(self.target.stream_name, now)
            elif isinstance(event, PublishStarted):
                stats.connect_to_publish_ms = (now - self._connect_sent) * 1000
                self._enter(Phase.STREAMING)
                self._start_media(now)
            elif isinstance(event, StatusReceived) and event.level == "error":
                self._failure = PublishRefused("stream", event.code, event.description)
                connection.close()

    def _terminated(self, termination: Termination) -> None:
        self.pacer.cancel(self)
        if self._failure is not None:
            self._finish(self._failure)
        elif self.phase is Phase.CLOSING:
            self._close_transport()
        elif termination.cause is Cause.TIMED_OUT:
            self._finish(PushError(self._timed_out()))
        else:
            detail = termination.detail
            self._finish(PushError(f"protocol error during {self.phase.value}: {detail}"))

    # -- internals --------------------------------------------------------------------------------

    def _enter(self, phase: Phase) -> None:
        self._phase_started = self._loop.time()
        self.phase = phase

    def _elapsed_ms(self) -> float:
        return (self._loop.time() - self._phase_started) * 1000

    def _timed_out(self) -> str:
        return (
            f"{self.phase.value} with {self.target.host}:{self.target.port} timed out "
            f"after {self.options.timeout:g} s"
        )

    def _flush(self) -> None:
        data = self.connection.data_to_send()
        if data and self._transport is not None:
            self._transport.write(data)
            self.stats.bytes_sent += len(data)

    def _arm_timer(self) -> None:
        deadline = self.connection.get_timer()
        if self._timer is not None:
            if deadline is not None and self._timer.when() == deadline:
                return
            self._timer.cancel()
            self._timer = None
        if deadline is not None:
            self._timer = self._loop.call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self.connection.handle_timer(self._loop.time())
        self._process_events()
        self._flush()
        self._arm_timer()

    def _stalled(self) -> None:
        self._stall_timer = None
        self._finish(
            PushError(f"the server stopped reading for {self.options.timeout:g} s while streaming")
        )

    def _close_transport(self) -> None:
        self._flush()  # FCUnpublish and deleteStream go out before the close
        if self._transport is None:
            self._finish(None)
        else:
            # Closing flushes what is buffered; connection_lost then ends the session, or the
            # timeout does when the server does not take the rest.
            self._transport.close()
            self._close_timer = self._loop.call_later(self.options.timeout, self._finish, None)

    def _finish(self, error: PushError | None) -> None:
        self.pacer.cancel(self)
        if self._done.done():
            return
        if error is None:
            self._done.set_result(None)
        else:
            self._done.set_exception(error)

    def _teardown(self) -> None:
        if self._publish_started is not None:
            self.stats.publishing_seconds += self._loop.time() - self._publish_started
            self.stats.publishing_since = None
        self.pacer.cancel(self)
        for timer in (self._timer, self._stall_timer, self._close_timer):
            if timer is not None:
                timer.cancel()
        self._timer = self._stall_timer = self._close_timer = None
        if self._transport is not None:
            self._transport.abort()
            self._transport = None
        if not self._done.done():
            self._done.cancel()
        elif not self._done.cancelled():
            self._done.exception()  # retrieved, so asyncio does not log it
