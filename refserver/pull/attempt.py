"""One try at pulling a camera, sans I/O: OPTIONS, DESCRIBE, SETUP per stream, PLAY, then media
until TEARDOWN.

:class:`PullAttempt` is a state machine around ``wire.rtsp.RtspClientConnection``. It takes the
camera's bytes and datagrams with the time they came, hands out bytes to send and events, and
says when it must next be woken (:meth:`PullAttempt.get_timer`); it never touches a socket, a
clock or an event loop. Its owner (:mod:`refserver.pull.session`) drives the RTSP link with
``wire.asyncio.pump.StreamPump`` and does what the attempt cannot do itself, told by events:
bind a pair of UDP ports (:class:`UdpPortsWanted`, answered by :meth:`PullAttempt.udp_ports_bound`),
join a multicast group (:class:`MulticastGroupWanted`, answered by
:meth:`PullAttempt.multicast_joined`), send a datagram (:class:`DatagramOut`), transcode audio
on a worker thread (:class:`TranscodeWanted`, answered by :meth:`PullAttempt.transcoded`).

Media is received interleaved on the link (RFC 2326 §10.12), two channels per stream: RTP on the
even one, RTCP on the odd one; or over UDP, on a pair of ports per stream, reordered by a jitter
buffer; or over UDP multicast, on the group and port pair the camera's SETUP answer names,
through the same jitter buffer. Every deadline is one of the attempt's timers, each checked in
:meth:`handle_timer`:

- the answer to each request, ``request`` seconds (:attr:`SessionTimeouts.request`);
- the keepalive, GET_PARAMETER or OPTIONS within the session timeout (the connection's timer);
- a receiver report per stream every :data:`REPORT_INTERVAL` seconds (RFC 3550 §6.2);
- silence: no RTP for ``media`` seconds after PLAY ends the attempt;
- the UDP probe: with ``probe`` set, media is held back until the first packet, and none
  within ``probe`` seconds of PLAY ends the attempt with ``udp_unavailable`` set, so that the
  plan tries TCP;
- the jitter buffer: a gap still open :data:`GAP_WAIT` seconds after it opened is given up on.

The attempt ends once, with a :class:`wire.session.Termination` in an :class:`AttemptEnded`
event; its owner acts on the cause, on ``udp_unavailable`` and on ``silent`` (the camera never
sent a byte), and shows ``detail``.

What the camera sent that could only be read by bending a rule (an SDP ``o=`` line of seven
fields, an ``RTP-Info`` value that does not read) goes to the sink as a warning.
"""

from __future__ import annotations

import enum
import logging
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar, Protocol

from refserver.config import DEFAULT_MEDIA_TIMEOUT, PullTransport
from refserver.hls import Frame
from refserver.pull.address import CameraAddress
from refserver.pull.errors import PullError
from refserver.pull.tracks import Presentation, Track, presentation_from_sdp
from refserver.pull.worker import Transcoder
from wire.rtp import (
    JitterBuffer,
    RtcpReceiverReport,
    RtcpSdes,
    RtcpSenderReport,
    RtpError,
    RtpPacket,
    SdesChunk,
    SdesItem,
    parse_compound,
    serialize_compound,
)
from wire.rtp.rtcp import SDES_CNAME
from wire.rtp.sequence import seq_diff
from wire.rtsp import (
    ClientConfig,
    ConnectionTerminated,
    Event,
    InterleavedFrameReceived,
    MalformedResponse,
    PortRange,
    RemoteProtocolError,
    RequestReceived,
    Response,
    ResponseReceived,
    RtspClientConnection,
    StatusCode,
    TransportSpec,
)
from wire.sdp import SdpError, SessionDescription
from wire.session import Cause, Termination

logger = logging.getLogger(__name__)

REPORT_INTERVAL = 5.0
"""Seconds between RTCP receiver reports (RFC 3550 §6.2 allows 5 s as the minimum)."""
GAP_WAIT = 0.25
"""Seconds a UDP stream's jitter buffer waits for a missing packet before giving up on it."""
MAX_HELD_PACKETS = 4096
"""RTP packets kept while the start is not yet announced; later ones are dropped."""
PUNCH_RTP = RtpPacket(payload_type=0, sequence_number=0, timestamp=0, ssrc=0).serialize()
PUNCH_RTCP = bytes((0x80, 201, 0x00, 0x01, 0, 0, 0, 0))  # an empty receiver report

Address = tuple[str, int]


class PullSink(Protocol):
    """Where a pull attempt delivers what it receives."""

    def started(self, presentation: Presentation, peer: str) -> None:
        """PLAY succeeded and media flows; frames follow. May raise :class:`PullError` to
        refuse the start (the attempt then ends with that reason)."""

    def frame(self, track: Track, frame: Frame, size: int) -> None:
        """One frame of ``track``; ``size`` is the RTP payload bytes it took."""

    def warning(self, message: str) -> None:
        """Something the camera sent was read only by bending a rule, or left out; the session
        goes on."""


@dataclass(frozen=True, slots=True)
class SessionTimeouts:
    connect: float = 5.0
    request: float = 5.0
    media: float = DEFAULT_MEDIA_TIMEOUT
    """Silence after PLAY (no RTP at all) after which the camera is taken for gone."""
    udp_switch: float = 3.0
    """With the ``auto`` transport: no RTP over UDP this long after PLAY means TCP instead."""


class Phase(enum.Enum):
    """Where the attempt is; each phase but PLAYING and ENDED waits for one answer."""

    OPTIONS = "OPTIONS"
    DESCRIBE = "DESCRIBE"
    BINDING = "binding UDP ports"
    SETUP = "SETUP"
    PLAY = "PLAY"
    PLAYING = "playing"
    TEARDOWN = "TEARDOWN"
    ENDED = "ended"


BEFORE_PLAY = frozenset({Phase.BINDING, Phase.SETUP, Phase.PLAY})
"""Phases in which RTP may come before the PLAY answer says where it starts."""


# -- events out -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UdpPortsWanted:
    """Bind an even/odd pair of UDP ports for stream ``channel`` and call
    :meth:`PullAttempt.udp_ports_bound` (or :meth:`PullAttempt.udp_ports_failed`)."""

    channel: int


@dataclass(frozen=True, slots=True)
class DatagramOut:
    """Send ``data`` to ``addr`` from stream ``channel``'s RTCP port (``rtcp``) or RTP port."""

    channel: int
    rtcp: bool
    data: bytes
    addr: Address


@dataclass(frozen=True, slots=True)
class TranscodeWanted:
    """Transcode ``frame`` of ``track`` off the loop; hand the result to
    :meth:`PullAttempt.transcoded`."""

    track: Track
    transcoder: Transcoder
    frame: Frame
    size: int


@dataclass(frozen=True, slots=True)
class AttemptEnded:
    """The attempt is over. ``udp_unavailable``: UDP did not work with this camera (461, or no
    RTP within the probe), so TCP may do better. ``stopped``: it ended because we asked.
    ``silent``: the camera sent not one byte on the link, so its port may be blocked (a
    firewall that accepts and drops, a port forward to nothing) and another endpoint may do
    better."""

    termination: Termination
    udp_unavailable: bool = False
    stopped: bool = False
    silent: bool = False


@dataclass(frozen=True, slots=True)
class MulticastGroupWanted:
    """Join ``group`` on ``ports`` (RTP, RTCP) for stream ``channel`` on the interface that
    reaches the camera, and call :meth:`PullAttempt.multicast_joined` (or
    :meth:`PullAttempt.udp_ports_failed`); closing the sockets leaves the group."""

    channel: int
    group: str
    ports: PortRange


AttemptEvent = UdpPortsWanted | MulticastGroupWanted | DatagramOut | TranscodeWanted | AttemptEnded


@dataclass(slots=True)
class _UdpStream:
    """What the attempt knows of one stream's UDP pair; the sockets are its owner's."""

    track: Track
    camera_host: str = ""
    client_port: PortRange = field(default_factory=lambda: PortRange(0, 0))
    server_port: PortRange | None = None
    rtcp_source_port: int | None = None
    """Where the camera's RTCP comes from, for cameras whose SETUP answer has no server_port
    (mediamtx#407, #691)."""
    group: str | None = None
    """The multicast group the stream is sent to; ``client_port`` is then the group's pair."""
    jitter: JitterBuffer = field(default_factory=JitterBuffer)
    gap_since: float | None = None
    early: list[tuple[RtpPacket, float]] = field(default_factory=list)
    """RTP that beat the PLAY answer, with its arrival: it waits for the ``RTP-Info`` that
    says where the stream starts before it goes into the jitter buffer."""


class PullAttempt:
    """Set up ``address`` with ``transport`` (TCP interleaved or UDP) and receive.

    ``transport`` is :attr:`PullTransport.TCP` (also for an HTTP tunnel, which interleaves) or
    :attr:`PullTransport.UDP`. ``base`` gives where this attempt's media starts on the stream's
    timeline. The OPTIONS request is queued at construction: the first bytes the owner writes.
    """

    connection_class: ClassVar[type[RtspClientConnection]] = RtspClientConnection
    """The sans-IO connection each attempt drives: an extension point for a subclass that
    overrides its public methods (``benchmarks.discarding`` drops media unparsed this way)."""

    def __init__(
        self,
        address: CameraAddress,
        sink: PullSink,
        *,
        now: float,
        transport: PullTransport = PullTransport.TCP,
        timeouts: SessionTimeouts | None = None,
        base: Callable[[], int] = lambda: 0,
        probe: float | None = None,
        transcode_audio: bool = True,
        ssrc: int | None = None,
        peer: str | None = None,
    ) -> None:
        if transport not in (PullTransport.TCP, PullTransport.UDP, PullTransport.MULTICAST):
            raise ValueError(
                f"an attempt runs over tcp or udp (unicast or multicast), not {transport}"
            )
        self.address = address
        self.sink = sink
        self.transport = transport
        self.timeouts = timeouts or SessionTimeouts()
        self.base = base
        self.probe = probe
        self.transcode_audio = transcode_audio
        self.peer = peer or address.where
        self.connection = self.connection_class(
            address.url, ClientConfig(username=address.username, password=address.password)
        )
        self.presentation: Presentation | None = None
        self.phase = Phase.OPTIONS
        self._ssrc = ssrc if ssrc is not None else _random_ssrc()
        self._events: list[AttemptEvent] = []
        self._termination: Termination | None = None
        self._stopping = False
        self._waiting: int | None = None  # the CSeq whose answer the phase waits for
        self._request_deadline: float | None = None
        self._tracks: list[Track] = []
        self._setting_up = 0  # index of the track whose SETUP comes next
        self._rtp: dict[int, Track] = {}
        self._rtcp: dict[int, Track] = {}
        self._udp: dict[int, _UdpStream] = {}
        self._announced = False
        self._held: list[tuple[Track, RtpPacket, float]] = []
        self._played_at = 0.0
        self._last_media = 0.0
        self._next_report: float | None = None
        self._transcoded_bytes: dict[Track, int] = {}  # received, not yet in a frame
        self._heard = False  # any byte from the camera: its port answers
        self._request(self.connection.options(), now)

    # -- the stream side (wire.asyncio.pump.StreamSession) -----------------------------------------

    def receive_data(self, data: bytes, now: float) -> None:
        """Bytes the camera sent on the RTSP link."""
        if data:
            self._heard = True
        if self._termination is None:
            self.connection.receive_data(data, now)
            self._dispatch(now)

    def receive_eof(self, now: float) -> None:
        """The camera closed its side of the link."""
        if self._termination is None:
            self.connection.receive_eof()
            self._dispatch(now)

    def connection_lost(self, now: float, exc: Exception | None) -> None:
        """The link is gone."""
        if self._termination is not None:
            return
        if exc is not None:
            reason = getattr(exc, "strerror", None) or exc
            self._end(Termination.peer_closed(f"the connection broke: {reason}", error=exc))
        elif self._stopping:
            self._end(Termination.local_close("stopped"))
        else:
            self._end(Termination.peer_closed("the camera closed the connection"))

    def data_to_send(self) -> bytes:
        return self.connection.data_to_send()

    def get_timer(self) -> float | None:
        """The earliest of the attempt's deadlines, or None once it ended."""
        if self._termination is not None:
            return None
        due = self._request_deadline
        if self.phase is not Phase.PLAYING:
            return due
        # Asked after every read while playing: no list built.
        if self._announced:
            watch: float | None = self._last_media + self.timeouts.media
        elif self.probe is not None:
            watch = self._played_at + self.probe
        else:
            watch = None
        keepalive, report = self.connection.get_timer(), self._next_report
        if keepalive is not None and (due is None or keepalive < due):
            due = keepalive
        if report is not None and (due is None or report < due):
            due = report
        if watch is not None and (due is None or watch < due):
            due = watch
        if self._udp:
            for stream in self._udp.values():
                if stream.gap_since and (due is None or stream.gap_since + GAP_WAIT < due):
                    due = stream.gap_since + GAP_WAIT
        return due

    def handle_timer(self, now: float) -> None:
        """Whatever of the deadlines has passed."""
        if self._termination is not None:
            return
        if self._request_deadline is not None and now >= self._request_deadline:
            self._request_timed_out()
            return
        if self.phase is not Phase.PLAYING:
            return
        if not self._announced:
            assert self.probe is not None
            if now >= self._played_at + self.probe:
                detail = f"no RTP over UDP within {self.probe:g} s of PLAY"
                self._end(Termination.timed_out("the UDP probe", detail), udp_unavailable=True)
                return
        elif now >= self._last_media + self.timeouts.media:
            detail = f"the camera sent no media for {self.timeouts.media:g} s"
            self._end(Termination.timed_out("media", detail))
            return
        self.connection.handle_timer(now)
        self._dispatch(now)
        for stream in self._udp.values():
            if stream.gap_since is not None and now >= stream.gap_since + GAP_WAIT:
                self._deliver(stream.track, stream.jitter.skip_gap(), now)
                stream.gap_since = now if stream.jitter.has_gap else None
        if self._next_report is not None and now >= self._next_report:
            self._report(now)
            self._next_report = now + REPORT_INTERVAL

    def next_event(self) -> AttemptEvent | None:
        return self._events.pop(0) if self._events else None

    def writing_paused(self, now: float) -> None:
        """Our writes are requests and reports, a few hundred bytes: nothing to hold back."""

    def writing_resumed(self, now: float) -> None:
        """See :meth:`writing_paused`."""

    @property
    def wants_data(self) -> bool:
        return True

    @property
    def termination(self) -> Termination | None:
        return self._termination

    def close(self, termination: Termination) -> None:
        """End now, without a TEARDOWN (the pump does this when something broke)."""
        self._end(termination)

    # -- the datagram side ---------------------------------------------------------------------

    def udp_ports_bound(
        self, channel: int, client_port: PortRange, camera_host: str, now: float
    ) -> None:
        """The pair asked for by :class:`UdpPortsWanted` is bound at ``client_port``; datagrams
        from ``camera_host`` are the camera's."""
        stream = self._udp.get(channel)
        if self._termination is not None or self.phase is not Phase.BINDING or stream is None:
            return
        stream.client_port, stream.camera_host = client_port, camera_host
        spec = TransportSpec(delivery="unicast", client_port=client_port)
        connection = self.connection
        self.phase = Phase.SETUP
        self._request(connection.setup(connection.control_url(stream.track.control), spec), now)

    def multicast_joined(self, channel: int, camera_host: str, now: float) -> None:
        """The group asked for by :class:`MulticastGroupWanted` is joined; datagrams from
        ``camera_host`` are the camera's."""
        stream = self._udp.get(channel)
        if self._termination is not None or self.phase is not Phase.BINDING or stream is None:
            return
        stream.camera_host = camera_host
        self._setting_up += 1
        self._next_setup(now)

    def udp_ports_failed(self, channel: int, error: OSError, now: float) -> None:
        """No pair could be bound for ``channel``."""
        reason = error.strerror or error
        self._end(Termination.overload(f"cannot open UDP ports: {reason}", phase="SETUP"))

    def receive_datagram(
        self, data: bytes, addr: Address, now: float, channel: int, rtcp: bool
    ) -> None:
        """A datagram on stream ``channel``'s RTCP port (``rtcp``) or RTP port. Only the camera's
        are taken, from whatever port they come."""
        stream = self._udp.get(channel)
        if self._termination is not None or stream is None or addr[0] != stream.camera_host:
            return
        if rtcp:
            stream.rtcp_source_port = addr[1]
            self._rtcp_received(stream.track, data, now)
            return
        try:
            packet = RtpPacket.parse(data)
        except RtpError:
            return
        if self.phase in BEFORE_PLAY:
            if len(stream.early) < MAX_HELD_PACKETS:
                stream.early.append((packet, now))
            self._last_media = now
            return
        self._received_rtp(stream, packet, now)

    def _received_rtp(self, stream: _UdpStream, packet: RtpPacket, now: float) -> None:
        """One RTP packet of a UDP stream, through its jitter buffer."""
        self._deliver(stream.track, stream.jitter.push(packet), now)
        if not stream.jitter.has_gap:
            stream.gap_since = None
        elif stream.gap_since is None:
            stream.gap_since = now

    # -- for the owner -----------------------------------------------------------------------------

    def stop(self, now: float) -> None:
        """End with a TEARDOWN when a session exists (its answer awaited ``request`` seconds),
        at once otherwise."""
        if self._termination is not None or self._stopping:
            return
        self._stopping = True
        if self.connection.session is None or self.connection.closed:
            self._end(Termination.local_close("stopped"))
            return
        self.phase = Phase.TEARDOWN
        self._request(self.connection.teardown(), now)

    def transcoded(self, track: Track, frames: list[Frame], size: int) -> None:
        """AAC frames made of a unit that took ``size`` bytes; an AAC frame spans several
        units, so bytes wait for the next frame to carry them."""
        if self._termination is not None:
            return
        size += self._transcoded_bytes.pop(track, 0)
        if not frames:
            self._transcoded_bytes[track] = size
            return
        for frame in frames:
            self.sink.frame(track, frame, size)
            size = 0

    @property
    def announced(self) -> bool:
        """The sink was told the presentation started."""
        return self._announced

    # -- requests ------------------------------------------------------------------------------

    def _request(self, cseq: int, now: float) -> None:
        self._waiting = cseq
        self._request_deadline = now + self.timeouts.request

    def _request_timed_out(self) -> None:
        if self.phase is Phase.TEARDOWN:
            self._end(Termination.local_close("stopped; TEARDOWN unanswered", phase="TEARDOWN"))
            return
        detail = f"no answer to a request within {self.timeouts.request:g} s"
        self._end(Termination.timed_out(self.phase.value, detail))

    def _answered(self, answer: ResponseReceived, now: float) -> None:
        """The answer the current phase waited for."""
        self._waiting = self._request_deadline = None
        phase = self.phase
        if phase is Phase.TEARDOWN:
            self._end(Termination.local_close("stopped", phase="TEARDOWN"))
        elif phase is Phase.OPTIONS:  # any answer will do: some cameras refuse OPTIONS
            self.phase = Phase.DESCRIBE
            self._request(self.connection.describe(), now)
        elif phase is Phase.DESCRIBE and self._accepted(answer):
            self._described(answer, now)
        elif phase is Phase.SETUP:
            self._set_up(answer, now)
        elif phase is Phase.PLAY and self._accepted(answer):
            self._played(answer, now)

    def _accepted(self, answer: ResponseReceived) -> bool:
        """True for a 2xx; otherwise the attempt ends, refused."""
        response = answer.response
        if response.ok:
            return True
        answered = f"{answer.request.method} answered {response.status_code} {response.reason}"
        if response.status_code == StatusCode.UNAUTHORIZED:
            who = "no credentials" if self.address.username is None else "the credentials"
            detail = f"the camera refused {who} ({answered})"
        else:
            detail = f"the camera refused us ({answered})"
        self._end(Termination.refused(response.status_code, detail, phase=self.phase.value))
        return False

    def _described(self, answer: ResponseReceived, now: float) -> None:
        try:
            sdp = SessionDescription.parse(answer.response.body)
        except SdpError as exc:
            detail = f"the camera's session description is unreadable: {exc}"
            self._end(Termination(Cause.PROTOCOL_ERROR, detail, error=exc, phase="DESCRIBE"))
            return
        for warning in sdp.warnings:
            self.sink.warning(warning)
        presentation = presentation_from_sdp(sdp, transcode_audio=self.transcode_audio)
        if not presentation.tracks:
            found = "; ".join(presentation.left_out) or "no media"
            detail = f"nothing we can package: {found}"
            self._end(Termination(Cause.PROTOCOL_ERROR, detail, phase="DESCRIBE"))
            return
        base = self.base()
        for track in presentation.tracks:
            track.prepare(base)
        self.presentation = presentation
        self._tracks = list(presentation.tracks)
        self._next_setup(now)

    def _next_setup(self, now: float) -> None:
        index = self._setting_up
        if index >= len(self._tracks):
            self._punch()
            self.phase = Phase.PLAY
            self._request(self.connection.play(), now)
            return
        track = self._tracks[index]
        if self.transport is PullTransport.UDP:
            self._udp[index] = _UdpStream(track)
            self.phase = Phase.BINDING
            self._events.append(UdpPortsWanted(index))
            return
        if self.transport is PullTransport.MULTICAST:
            # The camera names the group and ports in its answer (RFC 2326 §12.39): we ask for
            # none, as gortsplib and FFmpeg's udp_multicast do.
            self._udp[index] = _UdpStream(track)
            self.phase = Phase.SETUP
            connection = self.connection
            spec = TransportSpec(delivery="multicast")
            self._request(connection.setup(connection.control_url(track.control), spec), now)
            return
        spec = TransportSpec(
            lower_transport="TCP",
            delivery="unicast",
            interleaved=PortRange(2 * index, 2 * index + 1),
        )
        self.phase = Phase.SETUP
        connection = self.connection
        self._request(connection.setup(connection.control_url(track.control), spec), now)

    def _set_up(self, answer: ResponseReceived, now: float) -> None:
        index = self._setting_up
        track = self._tracks[index]
        if self.transport is PullTransport.MULTICAST:
            self._set_up_multicast(index, answer)
            return
        if self.transport is PullTransport.UDP:
            if answer.response.status_code == StatusCode.UNSUPPORTED_TRANSPORT:
                detail = "the camera refused UDP (SETUP answered 461 Unsupported Transport)"
                ended = Termination.refused(StatusCode.UNSUPPORTED_TRANSPORT, detail, phase="SETUP")
                self._end(ended, udp_unavailable=True)
                return
            if not self._accepted(answer):
                return
            chosen = answer.transport.first if answer.transport is not None else None
            if chosen is not None and chosen.server_port is not None and chosen.server_port.first:
                self._udp[index].server_port = chosen.server_port
        else:
            if not self._accepted(answer):
                return
            asked = PortRange(2 * index, 2 * index + 1)
            chosen = answer.transport.first if answer.transport is not None else None
            channels = (chosen.interleaved if chosen is not None else None) or asked
            self._rtp[channels.first] = track
            self._rtcp[channels.last if channels.last is not None else channels.first + 1] = track
        self._setting_up += 1
        self._next_setup(now)

    def _set_up_multicast(self, index: int, answer: ResponseReceived) -> None:
        """The group and ports of a multicast SETUP's answer, to join before the next SETUP."""
        if answer.response.status_code == StatusCode.UNSUPPORTED_TRANSPORT:
            detail = "the camera refused multicast (SETUP answered 461 Unsupported Transport)"
            ended = Termination.refused(StatusCode.UNSUPPORTED_TRANSPORT, detail, phase="SETUP")
            self._end(ended)
            return
        if not self._accepted(answer):
            return
        chosen = answer.transport.first if answer.transport is not None else None
        group = chosen.destination if chosen is not None else None
        ports = chosen.port if chosen is not None else None
        if chosen is None or not chosen.is_multicast or not group or ports is None:
            detail = f"a multicast SETUP answered without a group and ports: {chosen}"
            self._end(Termination.protocol_error(RemoteProtocolError(detail), phase="SETUP"))
            return
        if ports.last is None:
            ports = PortRange(ports.first, ports.first + 1)
        stream = self._udp[index]
        stream.group, stream.client_port = group, ports
        self.phase = Phase.BINDING
        self._events.append(MulticastGroupWanted(index, group, ports))

    def _played(self, answer: ResponseReceived, now: float) -> None:
        presentation = self.presentation
        assert presentation is not None
        announced: dict[Track, int] = {}
        if answer.rtp_info is not None:
            for track in presentation.tracks:
                entry = answer.rtp_info.for_url(self.connection.control_url(track.control))
                if entry is not None and entry.rtptime is not None:
                    track.anchor(entry.rtptime, entry.seq)
                if entry is not None and entry.seq is not None:
                    announced[track] = entry.seq
        for stream in self._udp.values():
            # Where the stream starts: as announced, else the earliest of what came already.
            start = announced.get(stream.track, _first_sent(stream.early))
            if start is not None:
                stream.jitter.expect(start)
        self.phase = Phase.PLAYING
        self._played_at = self._last_media = now
        self._next_report = now + REPORT_INTERVAL
        early = any(stream.early for stream in self._udp.values())
        if self.probe is None or self._held or early:  # a datagram beat the answer: UDP works
            self._announce()
        for stream in self._udp.values():
            if self._termination is not None:
                return
            held, stream.early = stream.early, []
            for packet, arrival in held:
                self._received_rtp(stream, packet, arrival)

    # -- events of the connection -----------------------------------------------------------------

    def _dispatch(self, now: float) -> None:
        connection = self.connection
        while self._termination is None and (events := connection.next_events()):
            self._handle(events, now)

    def _handle(self, events: list[Event], now: float) -> None:
        """The connection's events, in order, until one ends the attempt (those after it
        are left: nothing reads them once it has ended)."""
        connection = self.connection
        rtp = self._rtp
        for event in events:
            if self._termination is not None:
                return
            if isinstance(event, InterleavedFrameReceived):  # by far the most frequent
                track = rtp.get(event.channel)
                if track is None:
                    self._interleaved(event.channel, event.payload, now)
                    continue
                try:
                    packet = RtpPacket.parse(event.payload)
                except RtpError:
                    continue
                if not self._announced:
                    self._deliver_one(track, packet, now)
                    continue
                # _deliver_one's usual case, spelled out: every packet of every camera.
                self._last_media = now
                frames = track.receive(packet, now)
                if frames:
                    self._frames(track, frames)
            elif isinstance(event, ResponseReceived):
                for warning in event.warnings:
                    self.sink.warning(f"{event.request.method} answer: {warning}")
                if event.cseq == self._waiting:
                    self._answered(event, now)
                elif not event.response.ok:
                    self._refused_while_playing(event)
            elif isinstance(event, MalformedResponse):
                detail = f"the camera sent a malformed response: {event.reason}"
                self._end(Termination(Cause.PROTOCOL_ERROR, detail, phase=self.phase.value))
            elif isinstance(event, RequestReceived):
                connection.send_response(event.request, Response(200))
            elif isinstance(event, ConnectionTerminated):
                ended = event.termination
                # A plain end of stream is the camera hanging up; a broken read says how.
                if self._stopping:
                    self._end(Termination.local_close("stopped", phase=self.phase.value))
                elif ended.cause is Cause.PEER_CLOSED and ended.error is None:
                    self._end(Termination.peer_closed("the camera closed the connection"))
                else:
                    self._end(ended)

    def _refused_while_playing(self, event: ResponseReceived) -> None:
        """A keepalive (or a request given up on) answered with an error: not fatal. The
        session plays on; the client keeps it alive with OPTIONS from now on."""
        response = event.response
        logger.info(
            "request refused while playing",
            extra={
                "url": self.address.url,
                "method": event.request.method,
                "status": f"{response.status_code} {response.reason}",
                "keepalive": self.connection.keepalive_method,
            },
        )

    # -- media ---------------------------------------------------------------------------------

    def _interleaved(self, channel: int, payload: bytes, now: float) -> None:
        """A frame on a channel that is not a track's RTP (those :meth:`_dispatch` takes)."""
        track = self._rtcp.get(channel)
        if track is not None:
            self._rtcp_received(track, payload, now)

    def _deliver(self, track: Track, packets: list[RtpPacket], now: float) -> None:
        for packet in packets:
            self._deliver_one(track, packet, now)

    def _deliver_one(self, track: Track, packet: RtpPacket, now: float) -> None:
        self._last_media = now
        if not self._announced:
            if len(self._held) < MAX_HELD_PACKETS:
                self._held.append((track, packet, now))
            if self.phase is Phase.PLAYING:  # probing: the first packet settles it
                self._announce()
            return
        frames = track.receive(packet, now)
        if frames:  # most packets complete nothing
            self._frames(track, frames)

    def _frames(self, track: Track, frames: list[Frame]) -> None:
        """What ``track``'s last packet completed, to the sink (or the transcoder first)."""
        for frame in frames:
            size = track.take_payload_bytes()
            transcoder = track.transcoder
            if transcoder is None:
                self.sink.frame(track, frame, size)
            else:
                self._events.append(TranscodeWanted(track, transcoder, frame, size))

    def _announce(self) -> None:
        assert self.presentation is not None
        self._announced = True
        try:
            self.sink.started(self.presentation, self.peer)
        except PullError as exc:
            self._end(Termination.local_close(str(exc), phase=self.phase.value))
            return
        held, self._held = self._held, []
        for track, packet, arrival in held:
            self._deliver_one(track, packet, arrival)

    def _rtcp_received(self, track: Track, payload: bytes, now: float) -> None:
        statistics = track.statistics
        if statistics is None:
            return
        try:
            packets = parse_compound(payload)
        except RtpError:
            return
        for rtcp in packets:
            if isinstance(rtcp, RtcpSenderReport) and rtcp.ssrc == statistics.ssrc:
                statistics.on_sender_report(rtcp, now)

    def _report(self, now: float) -> None:
        """An RR and SDES CNAME per stream on its RTCP channel (RFC 3550 §6.1: compound)."""
        if self.connection.closed:
            return
        for channel, track in self._rtcp.items():
            self.connection.send_interleaved(channel, self._receiver_report(track, now))
        for index, stream in self._udp.items():
            self._send_rtcp(index, stream, self._receiver_report(stream.track, now))

    def _receiver_report(self, track: Track, now: float) -> bytes:
        statistics = track.statistics
        block = statistics.report_block(now) if statistics is not None else None
        report = RtcpReceiverReport(self._ssrc, [block] if block is not None else [])
        cname = SdesChunk(self._ssrc, [SdesItem(SDES_CNAME, b"refserver")])
        return serialize_compound([report, RtcpSdes([cname])])

    def _punch(self) -> None:
        """Before PLAY, a small datagram from each of our ports to the camera's, so that a NAT
        between us opens its mapping (gortsplib and FFmpeg do the same; cameras ignore them)."""
        for index, stream in self._udp.items():
            port = stream.server_port
            if port is not None:
                self._send_rtcp(index, stream, PUNCH_RTCP)
                self._events.append(
                    DatagramOut(index, False, PUNCH_RTP, (stream.camera_host, port.first))
                )

    def _send_rtcp(self, index: int, stream: _UdpStream, data: bytes) -> None:
        """To the camera's RTCP port: the announced one, else where its RTCP comes from; for
        multicast, to the group's RTCP port, where every member reports (RFC 3550 §6)."""
        port = stream.server_port
        if stream.group is not None:
            ports = stream.client_port
            target = ports.last if ports.last is not None else ports.first + 1
            self._events.append(DatagramOut(index, True, data, (stream.group, target)))
            return
        if port is not None:
            target = port.last if port.last is not None else port.first + 1
        elif stream.rtcp_source_port is not None:
            target = stream.rtcp_source_port
        else:
            return
        self._events.append(DatagramOut(index, True, data, (stream.camera_host, target)))

    # -- the end -------------------------------------------------------------------------------

    def _end(self, termination: Termination, *, udp_unavailable: bool = False) -> None:
        if self._termination is not None:
            return
        self._termination = termination
        self.phase = Phase.ENDED
        self._waiting = self._request_deadline = None
        connection = self.connection
        if not connection.closed:
            if (
                termination.cause in (Cause.TIMED_OUT, Cause.REFUSED, Cause.LOCAL_CLOSE)
                and connection.session is not None
                and not self._stopping
            ):
                # We give up on a session the camera holds: tell it, without waiting for the
                # answer (the pump flushes the request before it closes the link).
                connection.teardown()
            connection.close(termination)
        stopped = self._stopping and termination.cause is Cause.LOCAL_CLOSE
        self._events.append(AttemptEnded(termination, udp_unavailable, stopped, not self._heard))


def _first_sent(early: list[tuple[RtpPacket, float]]) -> int | None:
    """The sequence number that comes first among ``early`` packets (modular order)."""
    if not early:
        return None
    base = early[0][0].sequence_number
    return min((p.sequence_number for p, _ in early), key=lambda seq: seq_diff(seq, base))


def _random_ssrc() -> int:
    return int(struct.unpack("!I", os.urandom(4))[0])
