"""One accepted connection of a camera server, sans-IO: what it turns out to be, and every
deadline it owns.

A :class:`CameraConnection` is a :class:`wire.asyncio.pump.StreamSession`: bytes and the time
go in, bytes to send and events come out, and :meth:`~CameraConnection.get_timer` /
:meth:`~CameraConnection.handle_timer` serve each of its deadlines. It reads no clock, touches no
socket and imports no event loop; :class:`camsim.camera.server.CameraServerProtocol` drives it
on a :class:`~wire.asyncio.pump.StreamPump`.

The first bytes decide what the connection is (:class:`Phase`): ``GET``/``POST`` open a leg of
an RTSP-over-HTTP tunnel (the QuickTime way), anything else is RTSP, answered by an
:class:`~camsim.camera.control.RtspControl`. The deadlines, each one a timer here:

- before the first byte, the idle timeout; once a request has started (a tunnel's head, or the
  first bytes of one), the request timeout (slowloris);
- on RTSP, the control's own: the request deadline, idleness without a session, each session's
  timeout (kept by any request, and by RTCP receiver reports), the RTCP sender-report interval,
  the ``media-stall`` quirk;
- a connection over the server's caps gets :data:`REFUSAL_GRACE` to send the request it is
  answered ``503`` to;
- tunnel legs: a GET leg waits ``request_timeout`` for its first POST leg (FFmpeg, VLC and
  QuickTime open it at once), then the control's timeouts take over; a POST leg that sends
  nothing for ``max(idle_timeout, session_timeout)`` is closed (a client keeps its session alive
  through it well within the session timeout, so a longer silence means the leg is dead or
  abandoned for a newer one); the GET leg and its sessions stay. When the GET leg ends, its POST
  legs end with it.

Interleaved RTP leaves through the connection's :class:`OrderedOutput`: straight to the transport
on the camera's hot path, behind any answer still queued, so an answer always reaches the
client before the RTP it announces.
"""

from __future__ import annotations

import enum
import logging
import random
import re
from collections import deque
from dataclasses import dataclass
from typing import Protocol

from camsim.camera.control import CameraDirectory, ControlCounters, RtspControl, ServerSettings
from camsim.camera.sender import StreamWriter
from wire.rtsp import Headers, RemoteProtocolError, Response, StatusCode
from wire.rtsp.tunnel import TunnelDecoder, parse_tunnel_request, tunnel_response
from wire.session import Termination

logger = logging.getLogger(__name__)

REFUSAL_GRACE = 1.0
"""Seconds a connection over a cap has to send the request it is answered 503 to."""

_TUNNEL_STARTS = (b"GET ", b"POST ")
_CSEQ_RE = re.compile(rb"^CSeq[ \t]*:[ \t]*(\d{1,9})[ \t]*\r?$", re.IGNORECASE | re.MULTILINE)
_HEAD_END = re.compile(rb"\r?\n\r?\n")


class Phase(enum.Enum):
    """What a connection is, once its first bytes said so."""

    OPENING = "the first request"
    REFUSING = "a request over the connection caps"
    TUNNEL_HEAD = "an HTTP tunnel request"
    RTSP = "RTSP"
    TUNNEL_GET = "an HTTP tunnel's GET leg"
    TUNNEL_POST = "an HTTP tunnel's POST leg"


class TunnelHost(CameraDirectory, Protocol):
    """A camera server as its connections see it: cameras by path, the control connections it
    counts, and tunnels' GET legs by their ``x-sessioncookie``."""

    tunnels: dict[str, CameraConnection]

    def adopt(self, connection: CameraConnection) -> None:
        """Count a connection that speaks RTSP (plain or as a GET leg) as the server's."""

    def forget(self, connection: CameraConnection) -> None:
        """The connection has closed."""


@dataclass(frozen=True, slots=True)
class LegChanged:
    """Another connection (a tunnel's other leg) has something to send or has ended: its owner
    must write and re-arm it (:meth:`wire.asyncio.pump.StreamPump.transmit`)."""

    leg: CameraConnection


@dataclass(frozen=True, slots=True)
class ConnectionEnded:
    """The connection ended, for this reason."""

    termination: Termination


Event = LegChanged | ConnectionEnded


class OrderedOutput:
    """Everything a connection sends, in order.

    Answers are queued (:meth:`queue`) and handed to the pump by
    :meth:`CameraConnection.data_to_send`. Media (:meth:`write`, the interleaved sinks) goes
    straight to the transport, the camera's hot path, unless answers are queued in front of it.
    """

    def __init__(self) -> None:
        self.pending = bytearray()
        self.transport: StreamWriter | None = None
        self.closed = False

    def queue(self, data: bytes) -> None:
        self.pending += data

    def write(self, data: bytes | bytearray | memoryview) -> None:
        transport = self.transport
        if self.pending or transport is None:
            self.pending += data
        else:
            transport.write(data)

    def is_closing(self) -> bool:
        transport = self.transport
        return self.closed or (transport is not None and transport.is_closing())

    def get_write_buffer_size(self) -> int:
        transport = self.transport
        queued = transport.get_write_buffer_size() if transport is not None else 0
        return queued + len(self.pending)

    def take(self) -> bytes:
        data = bytes(self.pending)
        self.pending.clear()
        return data


class CameraConnection:
    """One connection of a camera server (sans-IO), from its first byte to its end."""

    def __init__(self, server: TunnelHost, now: float, *, rng: random.Random | None = None) -> None:
        self.server = server
        self.peer_host = ""
        self.phase = Phase.OPENING
        self.output = OrderedOutput()
        self.control: RtspControl | None = None
        """The RTSP side: this connection's own, or for a POST leg the GET leg's it feeds."""
        self._rng = rng
        self._events: deque[Event] = deque()
        self._termination: Termination | None = None
        self._deadline: float | None = None  # the phase's own deadline, besides the control's
        self._pending = b""  # the first bytes, or a tunnel leg's head
        self._refusing: str | None = None  # the cap this connection is over
        self._cookie: str | None = None
        self._decoder: TunnelDecoder | None = None  # a POST leg's
        self._get: CameraConnection | None = None  # a POST leg's GET leg
        self._posts: set[CameraConnection] = set()  # a GET leg's POST legs
        self._fed = False  # a GET leg: some POST leg has attached

    def accepted(
        self,
        peer_host: str,
        transport: StreamWriter | None,
        now: float,
        *,
        over: str | None = None,
    ) -> None:
        """The connection is up, from ``peer_host``; ``over`` names the cap it breaks, if any
        (it will be answered 503). ``transport`` takes the media written straight out; without
        it (until a TLS handshake is done) everything waits for :meth:`data_to_send`."""
        self.peer_host = peer_host
        self.output.transport = transport
        if over is None:
            self._deadline = now + self.settings.idle_timeout
        else:
            self.phase = Phase.REFUSING
            self._refusing = over
            self._deadline = now + REFUSAL_GRACE

    def secured(self, transport: StreamWriter, now: float) -> None:
        """The TLS handshake is done: media may go straight to ``transport``, and the time a
        silent peer has (the idle timeout, or the refusal grace) runs from now, not from the
        accept its handshake started at."""
        self.output.transport = transport
        if self._pending or self._termination is not None:
            return
        if self.phase is Phase.OPENING:
            self._deadline = now + self.settings.idle_timeout
        elif self.phase is Phase.REFUSING:
            self._deadline = now + REFUSAL_GRACE

    @property
    def settings(self) -> ServerSettings:
        return self.server.settings

    # -- what the server and the status report read ---------------------------------------------

    @property
    def closed(self) -> bool:
        return self._termination is not None

    @property
    def counters(self) -> ControlCounters:
        return self.control.counters if self.control is not None else ControlCounters()

    @property
    def playing_sessions(self) -> int:
        if self.control is None or self.phase is Phase.TUNNEL_POST:
            return 0
        return self.control.playing_sessions

    @property
    def post_idle_timeout(self) -> float:
        """How long a tunnel's POST leg may stay silent."""
        settings = self.settings
        return max(settings.idle_timeout, float(settings.session_timeout))

    # -- StreamSession ------------------------------------------------------------------------

    @property
    def termination(self) -> Termination | None:
        return self._termination

    @property
    def wants_data(self) -> bool:
        return True  # the RTSP reader and the tunnel head have their own size limits

    def receive_data(self, data: bytes, now: float) -> None:
        if self._termination is not None:
            return
        phase = self.phase
        if phase is Phase.RTSP:
            assert self.control is not None
            self.control.receive_data(data, now)
            self._follow_control()
        elif phase is Phase.TUNNEL_GET:
            pass  # bytes on an established GET leg mean nothing (clients send none)
        elif phase is Phase.TUNNEL_POST:
            self._deadline = now + self.post_idle_timeout
            self._feed(data, now)
        elif phase is Phase.REFUSING:
            self._pending += data
            self._refuse()
        elif phase is Phase.TUNNEL_HEAD:
            self._pending += data
            self._read_head(now)
        else:
            self._pending += data
            self._classify(now)

    def receive_eof(self, now: float) -> None:
        if self._termination is not None:
            return
        if self.phase is Phase.RTSP or self.phase is Phase.TUNNEL_GET:
            assert self.control is not None
            self.control.receive_eof(now)
            self._follow_control()
        else:
            self._end(Termination.peer_closed(phase=self.phase.value))

    def connection_lost(self, now: float, exc: Exception | None) -> None:
        self.output.closed = True
        if self._termination is None:
            ended = Termination.peer_closed("connection lost", error=exc, phase=self.phase.value)
            if self.control is not None and self.phase is not Phase.TUNNEL_POST:
                self.control.close(ended)
            self._end(ended)

    def data_to_send(self) -> bytes:
        return self.output.take() if self.output.pending else b""

    def get_timer(self) -> float | None:
        if self._termination is not None:
            return None
        deadline = self._deadline
        if self.control is not None and self.phase is not Phase.TUNNEL_POST:
            control = self.control.get_timer()
            if control is not None and (deadline is None or control < deadline):
                deadline = control
        return deadline

    def handle_timer(self, now: float) -> None:
        if self._termination is not None:
            return
        if self._deadline is not None and now >= self._deadline:
            self._deadline = None
            self._phase_timed_out(now)
            if self._termination is not None:
                return
        if self.control is not None and self.phase is not Phase.TUNNEL_POST:
            self.control.handle_timer(now)
            self._follow_control()

    def next_event(self) -> Event | None:
        return self._events.popleft() if self._events else None

    def writing_paused(self, now: float) -> None:
        """Nothing to do: the interleaved sinks drop bursts past their own buffer cap."""

    def writing_resumed(self, now: float) -> None:
        """Nothing to do (see :meth:`writing_paused`)."""

    def close(self, termination: Termination) -> None:
        if self._termination is not None:
            return
        if self.control is not None and self.phase is not Phase.TUNNEL_POST:
            self.control.close(termination)
        self._end(termination)

    def shutdown(self, now: float) -> None:
        """The server is stopping: RTCP BYE on every stream that plays, then close."""
        if self._termination is not None:
            return
        if self.control is not None and self.phase is not Phase.TUNNEL_POST:
            self.control.shutdown(now)
            self._follow_control()
        else:
            self._end(Termination.local_close("server shutting down", phase=self.phase.value))

    # -- the first bytes ----------------------------------------------------------------------

    def _classify(self, now: float) -> None:
        pending = self._pending
        if pending.startswith(_TUNNEL_STARTS):
            self.phase = Phase.TUNNEL_HEAD
            self._deadline = now + self.settings.request_timeout
            self._read_head(now)
        elif any(start.startswith(pending) for start in _TUNNEL_STARTS):
            self._deadline = now + self.settings.request_timeout  # wait for more
        else:
            self._pending = b""
            self._deadline = None  # the control keeps its own time from here
            self.phase = Phase.RTSP
            self.control = RtspControl(self.server, self.output, self.peer_host, now, rng=self._rng)
            self.server.adopt(self)
            self.control.receive_data(pending, now)
            self._follow_control()

    def _refuse(self) -> None:
        """Answer 503 to the first request of a connection over a cap, once it is complete."""
        pending = self._pending
        if _HEAD_END.search(pending) is None:
            if len(pending) > self.settings.limits.max_head_bytes:
                self._end(Termination.overload(f"over {self._refusing}; request head too long"))
            return
        name = self.settings.server_name
        if pending.startswith(_TUNNEL_STARTS):
            answer = tunnel_response(StatusCode.SERVICE_UNAVAILABLE, name)
        else:
            headers = Headers()
            cseq = _CSEQ_RE.search(pending)
            if cseq is not None:
                headers.add("CSeq", cseq.group(1).decode())
            headers.add("Server", name)
            answer = Response(StatusCode.SERVICE_UNAVAILABLE, headers=headers).serialize()
        logger.info("refusing a connection from %s: over %s", self.peer_host, self._refusing)
        self._pending = b""
        self.output.queue(answer)
        self._end(Termination.overload(f"over {self._refusing}", phase=self.phase.value))

    # -- tunnel legs --------------------------------------------------------------------------

    def _read_head(self, now: float) -> None:
        max_head = self.settings.limits.max_head_bytes
        try:
            parsed = parse_tunnel_request(self._pending, max_head_bytes=max_head)
        except RemoteProtocolError as error:
            self._refuse_leg(StatusCode.BAD_REQUEST, Termination.protocol_error(error))
            return
        if parsed is None:
            return
        request, rest = parsed
        self._pending = b""
        self._cookie = request.session_cookie
        self._deadline = None
        if request.method == "GET":
            self._open_get(request.session_cookie, now)
        else:
            self._attach_post(request.session_cookie, rest, now)

    def _open_get(self, cookie: str, now: float) -> None:
        existing = self.server.tunnels.get(cookie)
        if existing is not None and existing._termination is None:
            detail = f"cookie {cookie!r} already has a GET leg"
            self._refuse_leg(StatusCode.BAD_REQUEST, Termination.refused(400, detail))
            return
        self.output.queue(tunnel_response(StatusCode.OK, self.settings.server_name))
        self.phase = Phase.TUNNEL_GET
        self.control = RtspControl(self.server, self.output, self.peer_host, now, rng=self._rng)
        self.server.tunnels[cookie] = self
        self.server.adopt(self)
        self._deadline = now + self.settings.request_timeout  # for its first POST leg

    def _attach_post(self, cookie: str, rest: bytes, now: float) -> None:
        get = self.server.tunnels.get(cookie)
        if get is None or get._termination is not None or get.control is None:
            detail = f"no GET leg with cookie {cookie!r}"
            self._refuse_leg(StatusCode.NOT_FOUND, Termination.refused(404, detail))
            return
        self.phase = Phase.TUNNEL_POST
        self.control = get.control
        self._decoder = TunnelDecoder()
        self._get = get
        get._posts.add(self)
        if not get._fed:
            get._fed = True
            get._deadline = None  # from now on the control connection's timeouts apply
        self._deadline = now + self.post_idle_timeout
        if rest:
            self._feed(rest, now)

    def _feed(self, data: bytes, now: float) -> None:
        assert self._decoder is not None
        get = self._get
        assert get is not None
        try:
            decoded = self._decoder.decode(data)
        except RemoteProtocolError as error:
            self._end(Termination.protocol_error(error, phase=self.phase.value))
            return  # the GET leg and its sessions stay
        if decoded and get._termination is None:
            get.feed(decoded, now)
            self._events.append(LegChanged(get))

    def feed(self, data: bytes, now: float) -> None:
        """RTSP from one of this GET leg's POST legs."""
        if self._termination is None and self.control is not None:
            self.control.receive_data(data, now)
            self._follow_control()

    def _refuse_leg(self, status: StatusCode, ended: Termination) -> None:
        logger.debug("refusing HTTP tunnel leg from %s: %s", self.peer_host, ended.detail)
        self.output.queue(tunnel_response(status, self.settings.server_name))
        self._end(ended)

    # -- time and the end ---------------------------------------------------------------------

    def _phase_timed_out(self, now: float) -> None:
        settings = self.settings
        phase = self.phase
        if phase is Phase.OPENING:
            logger.debug("closing silent or unfinished connection from %s", self.peer_host)
            self._end(Termination.timed_out(phase.value))
        elif phase is Phase.REFUSING:
            self._end(Termination.timed_out(phase.value))
        elif phase is Phase.TUNNEL_HEAD:
            detail = f"no complete request head in {settings.request_timeout:g} s"
            self._refuse_leg(StatusCode.REQUEST_TIMEOUT, Termination.timed_out(phase.value, detail))
        elif phase is Phase.TUNNEL_GET:
            assert self.control is not None
            detail = f"no POST leg within {settings.request_timeout:g} s of the GET leg"
            self.control.close(Termination.timed_out("a POST leg", detail))
            self._follow_control()
        elif phase is Phase.TUNNEL_POST:
            detail = f"POST leg silent for {self.post_idle_timeout:g} s"
            self._end(Termination.timed_out(phase.value, detail))

    def _follow_control(self) -> None:
        """The RTSP side may have ended: so does this connection (and a GET leg's POST legs)."""
        control = self.control
        if control is not None and control.closed and self._termination is None:
            self._end(control.termination or Termination.local_close(phase=self.phase.value))

    def _end(self, termination: Termination) -> None:
        if self._termination is not None:
            return
        self._termination = termination
        self._deadline = None
        if self.phase is Phase.RTSP or self.phase is Phase.TUNNEL_GET:
            self.server.forget(self)
        if self.phase is Phase.TUNNEL_GET:
            if self._cookie is not None and self.server.tunnels.get(self._cookie) is self:
                del self.server.tunnels[self._cookie]
            for post in list(self._posts):
                post._end(Termination.local_close("its GET leg closed", phase=post.phase.value))
                self._events.append(LegChanged(post))
            self._posts.clear()
        elif self.phase is Phase.TUNNEL_POST and self._get is not None:
            self._get._posts.discard(self)
        self._events.append(ConnectionEnded(termination))
