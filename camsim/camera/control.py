"""The RTSP side of one camera-server connection, sans-IO: the camera's answers to each
method, the media sessions a client set up, and the deadlines they own.

:class:`RtspControl` wraps a :class:`wire.rtsp.RtspServerConnection`. Bytes go in with the time
(:meth:`RtspControl.receive_data`); answers are queued on the connection's output, and
every deadline (the request deadline against slowloris, idleness, each session's timeout, the
RTCP sender-report interval, the ``media-stall`` quirk) is in :meth:`RtspControl.get_timer` and
served by :meth:`RtspControl.handle_timer`. Nothing here reads a clock or touches a socket; the
interleaved RTP goes through the ordered writer the connection hands in, so an answer always
reaches the client before the RTP it announces. The same class serves plain, TLS and
HTTP-tunnelled connections (:class:`camsim.camera.connection.CameraConnection` decides which).
"""

from __future__ import annotations

import logging
import random
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Protocol
from urllib.parse import urlsplit

from camsim.camera.device import Camera, track_control
from camsim.camera.multicast import MulticastPool, PoolExhausted
from camsim.camera.quirks.base import Quirks
from camsim.camera.quirks.timing import cut_frame
from camsim.camera.sender import (
    DEFAULT_MAX_BUFFERED,
    InterleavedSink,
    RtpSender,
    RtpSink,
    StreamWriter,
    TimestampJumpPlan,
)
from camsim.camera.session import (
    MediaPorts,
    MediaSession,
    Stream,
    choose_transport,
    new_session_id,
    new_ssrc,
)
from wire.rtp import RtcpReceiverReport, RtcpSenderReport, RtpError, parse_compound
from wire.rtp.packet import RtpPacket
from wire.rtsp import (
    Authenticator,
    ConnectionTerminated,
    Event,
    Headers,
    InterleavedFrameReceived,
    Method,
    Range,
    ReaderLimits,
    RemoteProtocolError,
    Request,
    RequestReceived,
    RequestRejected,
    Response,
    RtpInfo,
    RtpInfoEntry,
    RtspServerConfig,
    RtspServerConnection,
    SessionExpired,
    StatusCode,
    Transport,
    TransportSpec,
)
from wire.rtsp.server import DEFAULT_SERVER_METHODS
from wire.rtsp.transport import DELIVERY_MULTICAST
from wire.session import Termination

logger = logging.getLogger(__name__)

SDP_CONTENT_TYPE = "application/sdp"
BYE_REASON = b"camera shutting down"


@dataclass(frozen=True)
class ServerSettings:
    """What every connection of a camera server shares.

    ``request_timeout`` bounds a request that has started arriving (slowloris);
    ``idle_timeout`` closes a connection that has no session and sends nothing.
    """

    authenticator: Authenticator | None = None
    session_timeout: int = 60
    request_timeout: float = 10.0
    idle_timeout: float = 60.0
    limits: ReaderLimits = field(default_factory=ReaderLimits)
    max_buffered: int = DEFAULT_MAX_BUFFERED
    report_interval: float = 5.0
    server_name: str = "camsim"
    wallclock: Callable[[], float] = time.time
    """Unix time, which sender reports map RTP time to; the one clock the connections read."""
    loop_clock: Callable[[], float] = time.monotonic
    """The event loop's clock, read with ``wallclock`` to date a loop time in Unix time."""


class CameraDirectory(Protocol):
    """The server a connection belongs to."""

    settings: ServerSettings

    @property
    def udp(self) -> MediaPorts | None:
        """The server's shared UDP pair, when it serves RTP over UDP."""

    @property
    def multicast(self) -> MulticastPool | None:
        """The server's pool of multicast groups, when it sends multicast."""

    def find(self, url: str) -> tuple[Camera, str] | None:
        """The camera ``url`` names and the rest of its path ('' for the camera itself)."""

    def url_of(self, camera: Camera, request_url: str) -> str:
        """The camera's absolute URL as the client addressed the server."""


class ControlOutput(StreamWriter, Protocol):
    """A connection's output: answers are queued (the pump writes them), media is written
    straight out unless answers are still queued in front of it."""

    def queue(self, data: bytes) -> None:
        """Queue an answer after everything before it."""


@dataclass
class ControlCounters:
    requests: int = 0
    rejected: int = 0
    malformed_rtcp: int = 0


class RtspControl:
    """One client's RTSP connection to a camera server (sans-IO)."""

    def __init__(
        self,
        server: CameraDirectory,
        output: ControlOutput,
        peer_host: str,
        now: float,
        *,
        rng: random.Random | None = None,
    ) -> None:
        settings = server.settings
        self.server = server
        self.output = output
        """Where the answers, and the interleaved RTP and RTCP after them, go."""
        self.peer_host = peer_host
        self.connection = RtspServerConnection(
            RtspServerConfig(
                methods=DEFAULT_SERVER_METHODS,
                authenticator=settings.authenticator,
                unauthenticated_methods=frozenset({Method.OPTIONS}),
                request_timeout=settings.request_timeout,
                limits=settings.limits,
            )
        )
        self.sessions: dict[str, MediaSession] = {}
        self.counters = ControlCounters()
        self._rng = rng
        self._now = now  # the time of the call being served, for the method handlers
        self._last_activity = now
        self._rtcp_channels: dict[int, str] = {}  # interleaved RTCP channel -> session id
        self._drop_due: float | None = None  # the tcp-drop-mid-frame quirk, once armed
        self._handlers: dict[str, Callable[[Request, MediaSession | None], Response]] = {
            Method.OPTIONS: self._handle_options,
            Method.DESCRIBE: self._handle_describe,
            Method.SETUP: self._handle_setup,
            Method.PLAY: self._handle_play,
            Method.PAUSE: self._handle_pause,
            Method.TEARDOWN: self._handle_teardown,
            Method.GET_PARAMETER: self._handle_parameter,
            Method.SET_PARAMETER: self._handle_parameter,
        }

    @property
    def closed(self) -> bool:
        return self.connection.closed

    @property
    def termination(self) -> Termination | None:
        """Why the RTSP connection ended, once it has."""
        return self.connection.termination

    @property
    def playing_sessions(self) -> int:
        return sum(1 for s in self.sessions.values() if s.playing)

    # Bytes and time in, bytes out.

    def receive_data(self, data: bytes, now: float) -> None:
        """RTSP (and interleaved frames) from the client."""
        self._now = self._last_activity = now
        self.connection.receive_data(data, now)
        self._process()

    def receive_eof(self, now: float) -> None:
        self._now = now
        self.connection.receive_eof()
        self._process()

    def close(self, termination: Termination) -> None:
        """End the connection and every session on it."""
        if not self.connection.closed:
            self.connection.close(termination)
        self._process()

    def shutdown(self, now: float) -> None:
        """Say RTCP BYE on every stream that plays, then close (the server is stopping)."""
        for session in self.sessions.values():
            session.say_bye(now, BYE_REASON)
        self.close(Termination.local_close("server shutting down"))

    def refresh(self, session_id: str, now: float) -> None:
        """RTCP from the client on ``session_id`` (a receiver report): it keeps the session."""
        self.connection.refresh_session(session_id, now)

    def get_timer(self) -> float | None:
        """The earliest of the request deadline, the sessions' timeouts, their sender reports
        and stalls, and (with no session) the idle deadline."""
        if self.connection.closed:
            return None
        deadline = self.connection.get_timer()
        if self.sessions:
            for session in self.sessions.values():
                due = session.get_timer()
                if due is not None and (deadline is None or due < deadline):
                    deadline = due
        else:
            idle = self._last_activity + self.server.settings.idle_timeout
            deadline = idle if deadline is None else min(deadline, idle)
        drop = self._drop_due
        if drop is not None and (deadline is None or drop < deadline):
            deadline = drop
        return deadline

    def handle_timer(self, now: float) -> None:
        """Serve every deadline that has passed."""
        self._now = now
        self.connection.handle_timer(now)
        self._process()
        if self.connection.closed:
            return
        if self._drop_due is not None and now >= self._drop_due:
            self._drop_due = None
            if self._drop_mid_frame(now):
                return
        for session in list(self.sessions.values()):
            session.handle_timer(now)
        idle_timeout = self.server.settings.idle_timeout
        if not self.sessions and now >= self._last_activity + idle_timeout:
            idle = f"no request for {idle_timeout:g} s"
            self.connection.close(Termination.timed_out("a request", idle))
            self._process()

    def _process(self) -> None:
        # Each answer is queued before the next event is handled: in order with what a
        # handler writes itself (a sender report before PLAY's answer) and with the RTP after.
        while (event := self.connection.next_event()) is not None:
            self._handle_event(event)
            self._flush()
        self._flush()
        if self.connection.closed and (self.sessions or self._rtcp_channels):
            for session in self.sessions.values():
                session.close()
            self.sessions.clear()
            self._rtcp_channels.clear()

    # Events.

    def _flush(self) -> None:
        data = self.connection.data_to_send()
        if data:
            self.output.queue(data)

    def _handle_event(self, event: Event) -> None:
        if isinstance(event, RequestReceived):
            self.counters.requests += 1
            self._handle_request(event.request, event.session_id)
        elif isinstance(event, InterleavedFrameReceived):
            self._handle_interleaved(event.channel, event.payload)
        elif isinstance(event, SessionExpired):
            session = self.sessions.pop(event.session_id, None)
            if session is not None:
                logger.info("session %s on %s expired", event.session_id, session.camera.path)
                self._drop_channels(event.session_id)
                session.close()
                self._last_activity = self._now  # idle from now, not from the last request
        elif isinstance(event, RequestRejected):
            self.counters.requests += 1
            self.counters.rejected += 1
            logger.debug("answered %d: %s", event.status_code, event.reason)
        elif isinstance(event, ConnectionTerminated):
            logger.debug("connection from %s closed: %s", self.peer_host, event.termination.detail)

    def _handle_request(self, request: Request, session_id: str | None) -> None:
        session = self.sessions.get(session_id) if session_id is not None else None
        found = self.server.find(request.url)
        camera = session.camera if session is not None else found[0] if found else None
        try:
            response = self._handlers[request.method](request, session)
        except Exception:  # a bug here must cost one answer, not the server
            logger.exception("%s %s failed", request.method, request.url)
            response = Response(StatusCode.INTERNAL_SERVER_ERROR)
        response.headers.add("Server", self.server.settings.server_name)
        quirks = camera.quirks if camera is not None else Quirks()
        edited = quirks.edit_response(request, response)
        if edited is not None:
            self.connection.send_response(request, edited)

    def _handle_interleaved(self, channel: int, payload: bytes) -> None:
        session_id = self._rtcp_channels.get(channel)
        if session_id is None:
            return  # RTP from the client, or a channel we never set up: ignored
        try:
            packets = parse_compound(payload)
        except RtpError:
            self.counters.malformed_rtcp += 1
            return
        if any(isinstance(p, RtcpReceiverReport | RtcpSenderReport) for p in packets):
            self.connection.refresh_session(session_id, self._now)

    def _drop_channels(self, session_id: str) -> None:
        for channel in [c for c, s in self._rtcp_channels.items() if s == session_id]:
            del self._rtcp_channels[channel]

    # Methods.

    def _handle_options(self, request: Request, session: MediaSession | None) -> Response:
        public = ", ".join(m.value for m in Method if m in DEFAULT_SERVER_METHODS)
        return Response(StatusCode.OK, headers=Headers([("Public", public)]))

    def _handle_describe(self, request: Request, session: MediaSession | None) -> Response:
        found = self.server.find(request.url)
        if found is None or found[1]:
            return Response(StatusCode.NOT_FOUND)
        accept = request.headers.get("Accept")
        if accept is not None and not any(
            kind.split(";")[0].strip() in (SDP_CONTENT_TYPE, "application/*", "*/*")
            for kind in accept.split(",")
        ):
            return Response(StatusCode.NOT_ACCEPTABLE)
        camera = found[0]
        base = self.server.url_of(camera, request.url) + "/"
        host = urlsplit(base).hostname or "0.0.0.0"
        headers = Headers([("Content-Base", base), ("Content-Type", SDP_CONTENT_TYPE)])
        body = camera.session_description(host if ":" not in host else "0.0.0.0")
        return Response(StatusCode.OK, headers=headers, body=body)

    def _handle_setup(self, request: Request, session: MediaSession | None) -> Response:
        found = self.server.find(request.url)
        if found is None:
            return Response(StatusCode.NOT_FOUND)
        camera, rest = found
        track = _track_of(camera, rest)
        if track is None:
            # The aggregate URL names a stream only when there is just one (§C.1.1).
            return Response(StatusCode.NOT_FOUND)
        if session is not None and session.camera is not camera:
            return Response(StatusCode.AGGREGATE_OPERATION_NOT_ALLOWED)
        value = request.headers.get("Transport")
        if value is None:
            return Response(StatusCode.BAD_REQUEST, "Transport Header Required")
        try:
            requested = Transport.parse(value)
        except RemoteProtocolError:
            return Response(StatusCode.UNSUPPORTED_TRANSPORT)
        udp = self.server.udp
        pool = self.server.multicast
        reply = choose_transport(requested, track, udp, multicast=pool is not None)
        if reply is None:
            return Response(StatusCode.UNSUPPORTED_TRANSPORT)
        session_id = session.session_id if session is not None else new_session_id()
        if reply.is_multicast:
            assert pool is not None
            return self._setup_multicast(pool, camera, track, session, session_id, requested)
        reply = camera.quirks.edit_transport(replace(reply, ssrc=new_ssrc()), requested.first)
        ssrc = reply.ssrc if reply.ssrc is not None else new_ssrc()
        sink: RtpSink
        rtcp_address = None
        if reply.interleaved is not None:
            channels = reply.interleaved
            rtcp_channel = channels.last if channels.last is not None else channels.first + 1
            sink = InterleavedSink(
                self.output,
                channels.first,
                rtcp_channel,
                max_buffered=self.server.settings.max_buffered,
            )
            self._rtcp_channels[rtcp_channel] = session_id
        else:
            assert udp is not None
            assert reply.client_port is not None
            ports = reply.client_port
            rtcp_address = (self.peer_host, ports.last or ports.first + 1)
            sink = udp.sink((self.peer_host, ports.first), rtcp_address)
            udp.watch(rtcp_address, ssrc, self._refresher(session_id))
        plan = camera.plan.tracks[track]
        sender = RtpSender(
            track,
            plan.clock_rate,
            ssrc,
            sink,
            first_sequence=secrets.randbits(16),
            timestamp_offset=secrets.randbits(32),
            cname=f"{camera.name}@camsim",
        )
        return self._set_up(camera, track, session, session_id, Stream(sender, reply, rtcp_address))

    def _setup_multicast(
        self,
        pool: MulticastPool,
        camera: Camera,
        track: int,
        session: MediaSession | None,
        session_id: str,
        requested: Transport,
    ) -> Response:
        """Make ``session_id`` a member of the camera's multicast stream of ``track``."""
        try:
            shared = pool.join(camera, track, session_id)
        except PoolExhausted:
            # RFC 2326 §11.3.5 453 Not Enough Bandwidth: the pool is the resource that ran out.
            return Response(StatusCode.NOT_ENOUGH_BANDWIDTH)
        reply = TransportSpec(
            lower_transport=None,
            delivery=DELIVERY_MULTICAST,
            destination=shared.group,
            port=shared.ports,
            ttl=shared.ttl,
            ssrc=shared.sender.ssrc,
        )
        stream = Stream(shared.sender, reply, None, shared=shared)
        return self._set_up(camera, track, session, session_id, stream)

    def _set_up(
        self,
        camera: Camera,
        track: int,
        session: MediaSession | None,
        session_id: str,
        stream: Stream,
    ) -> Response:
        if session is None:
            session = self.sessions[session_id] = MediaSession(
                session_id,
                camera,
                self.server.udp,
                report_interval=self.server.settings.report_interval,
                rng=self._rng,
                wallclock=self.server.settings.wallclock,
                loop_clock=self.server.settings.loop_clock,
            )
        session.add(track, stream, self._now)
        headers = Headers(
            [
                ("Transport", camera.quirks.format_transport(stream.reply)),
                ("Session", f"{session_id};timeout={camera.session_timeout}"),
            ]
        )
        return Response(StatusCode.OK, headers=headers)

    def _handle_play(self, request: Request, session: MediaSession | None) -> Response:
        if session is None:
            return Response(StatusCode.SESSION_NOT_FOUND)
        value = request.headers.get("Range")
        if value is not None:
            try:
                Range.parse(value)  # a live camera plays from now whatever the start
            except RemoteProtocolError:
                return Response(StatusCode.INVALID_RANGE)
        camera = session.camera
        now = self._now
        if not session.playing:
            self._prepare_play(session, now)
        first = session.play(now)
        base = self.server.url_of(camera, request.url)
        entries = [
            camera.quirks.edit_rtp_info(
                RtpInfoEntry(f"{base}/{track_control(track)}", seq=seq, rtptime=rtptime)
            )
            for track, (seq, rtptime) in sorted(first.items())
        ]
        headers = Headers(
            [
                ("Range", Range.npt("0.000").serialize()),
                ("RTP-Info", RtpInfo(tuple(entries)).serialize()),
            ]
        )
        return Response(StatusCode.OK, headers=headers)

    def _prepare_play(self, session: MediaSession, now: float) -> None:
        quirks = session.camera.quirks
        jump = quirks.timestamp_jump()
        if jump is not None:
            after, seconds = jump
            for stream in session.streams.values():
                ticks = round(seconds * stream.sender.clock_rate)
                stream.sender.jump = TimestampJumpPlan(now + after, ticks)
        if quirks.sender_report_before_play:
            session.send_reports(now, only_senders=False)
        stall = quirks.media_stall()
        if stall is not None:
            session.stall_at(now + stall)
        drop = quirks.connection_drop()
        if drop is not None and now < session.camera.origin + drop:
            self._drop_due = session.camera.origin + drop

    def _drop_mid_frame(self, now: float) -> bool:
        """The tcp-drop-mid-frame quirk: part of a packet framed on the first interleaved
        channel, then the connection closed. False when nothing plays interleaved here."""
        for session in self.sessions.values():
            for track, stream in session.items():
                sink = stream.sender.sink
                if not session.playing or not isinstance(sink, InterleavedSink):
                    continue
                sender = stream.sender
                packet = RtpPacket(
                    payload_type=session.camera.plan.tracks[track].payload_type,
                    sequence_number=sender.sequence,
                    timestamp=sender.timestamp(session.camera.media_ticks(track, now)),
                    ssrc=sender.ssrc,
                    payload=bytes(1000),
                )
                self.output.write(cut_frame(sink.rtp_channel, packet.serialize()))
                self.close(Termination.local_close("camera quirk tcp-drop-mid-frame"))
                return True
        return False

    def _handle_pause(self, request: Request, session: MediaSession | None) -> Response:
        if session is None:
            return Response(StatusCode.SESSION_NOT_FOUND)
        session.pause()
        return Response(StatusCode.OK)

    def _handle_teardown(self, request: Request, session: MediaSession | None) -> Response:
        if session is not None:
            self.sessions.pop(session.session_id, None)
            self._drop_channels(session.session_id)
            session.close()
        return Response(StatusCode.OK)

    def _handle_parameter(self, request: Request, session: MediaSession | None) -> Response:
        # An empty GET_PARAMETER or SET_PARAMETER is a keepalive (§10.8, ONVIF); a camera
        # without parameters understands none that are named.
        if request.body.strip():
            return Response(StatusCode.PARAMETER_NOT_UNDERSTOOD)
        return Response(StatusCode.OK)

    def _refresher(self, session_id: str) -> Callable[[float], None]:
        def refresh(now: float) -> None:
            self.refresh(session_id, now)

        return refresh


def _track_of(camera: Camera, rest: str) -> int | None:
    """The track a SETUP URL names: its control suffix, or the only track of the camera."""
    if not rest:
        return 0 if camera.track_count == 1 else None
    for track in range(camera.track_count):
        if rest == track_control(track):
            return track
    return None
