"""One try at pulling a camera: one link, one lower transport, from OPTIONS to TEARDOWN.

A thin pump around ``wire.rtsp.RtspClientConnection``. Media is received interleaved on the
link (RFC 2326 §10.12), two channels per stream: RTP on the even one, RTCP on the odd one; or
over UDP, on a pair of ports per stream, reordered by a jitter buffer. The attempt sends a
receiver report for every stream every few seconds, keeps the RTSP session alive on the
connection's own timer, and fails with a :class:`PullError` that says in plain words what went
wrong: the camera refused us, sent nothing, or hung up.

Media is held back until the sink has been told that the presentation started: right after
PLAY, or, when the attempt is probing whether UDP gets through, at the first packet. A probe
that sees nothing fails with :class:`UdpUnavailable` and the session tries TCP instead.

What the camera sent that could only be read by bending a rule (an SDP ``o=`` line of seven
fields, an ``RTP-Info`` value that does not read) goes to the sink as a warning. G.711 and Opus
audio is transcoded to AAC on a worker thread (:class:`~refserver.pull.worker.TranscodeQueue`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Protocol

from refserver.config import DEFAULT_MEDIA_TIMEOUT
from refserver.hls import Frame
from refserver.pull.address import CameraAddress
from refserver.pull.errors import PullError, UdpUnavailable
from refserver.pull.link import Link
from refserver.pull.tracks import Presentation, Track, presentation_from_sdp
from refserver.pull.udp import UdpChannel
from refserver.pull.worker import TranscodeQueue
from wire.rtp import (
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
from wire.rtsp import (
    ClientConfig,
    ConnectionTerminated,
    InterleavedFrameReceived,
    MalformedResponse,
    PortRange,
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
TICK = 0.25
MAX_HELD_PACKETS = 4096
"""RTP packets kept while the start is not yet announced; later ones are dropped."""


class MediaSink(Protocol):
    """Where a session delivers what it receives."""

    def started(self, presentation: Presentation, peer: str) -> None:
        """PLAY succeeded and media flows; frames follow."""

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


class PullAttempt:
    """Set up ``address`` over ``link`` with ``transport`` (``tcp`` or ``udp``) and receive."""

    connection_class: ClassVar[type[RtspClientConnection]] = RtspClientConnection
    """The sans-IO connection each attempt drives: an extension point for a subclass that
    overrides its public methods (``benchmarks.discarding`` drops media unparsed this way)."""

    def __init__(
        self,
        address: CameraAddress,
        link: Link,
        sink: MediaSink,
        *,
        transport: str,
        timeouts: SessionTimeouts,
        base: Callable[[], int],
        stopping: asyncio.Event,
        probe: float | None = None,
        transcode_audio: bool = True,
    ) -> None:
        self.address = address
        self.link = link
        self.sink = sink
        self.transport = transport
        self.transcode_audio = transcode_audio
        self.timeouts = timeouts
        self.base = base
        self.probe = probe
        self.connection = self.connection_class(
            address.url, ClientConfig(username=address.username, password=address.password)
        )
        self.loop = asyncio.get_running_loop()
        self.presentation: Presentation | None = None
        self._stopping = stopping
        self._waiting: dict[int, asyncio.Future[ResponseReceived]] = {}
        self._rtp: dict[int, Track] = {}
        self._rtcp: dict[int, Track] = {}
        self._udp: dict[UdpChannel, Track] = {}
        self._ended: str | None = None
        self._announced = False
        self._held: list[tuple[Track, RtpPacket, float]] = []
        self._played_at = 0.0
        self._last_media = 0.0
        self._ssrc = struct.unpack("!I", os.urandom(4))[0]
        self._transcoding: TranscodeQueue | None = None
        self._transcoded_bytes: dict[Track, int] = {}  # received, not yet in a frame

    async def run(self) -> None:
        """Set up, play and receive until the session is stopped; raises PullError."""
        pump = asyncio.create_task(self._read())
        try:
            await self._set_up()
            await self._receive()
        finally:
            await self._teardown()
            if self._transcoding is not None:
                self._transcoding.close()
            for channel in self._udp:
                channel.close()
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump
            self.link.close()

    # -- requests ---------------------------------------------------------------------------------

    async def _set_up(self) -> None:
        connection = self.connection
        await self._exchange(connection.options(), require_ok=False)
        described = await self._exchange(connection.describe())
        try:
            sdp = SessionDescription.parse(described.response.body)
        except SdpError as exc:
            raise PullError(f"the camera's session description is unreadable: {exc}") from None
        for warning in sdp.warnings:
            self.sink.warning(warning)
        presentation = presentation_from_sdp(sdp, transcode_audio=self.transcode_audio)
        if not presentation.tracks:
            found = "; ".join(presentation.left_out) or "no media"
            raise PullError(f"nothing we can package: {found}")
        if any(track.transcoder is not None for track in presentation.tracks):
            self._transcoding = TranscodeQueue(self.loop)
        base = self.base()
        for index, track in enumerate(presentation.tracks):
            track.prepare(base)
            if self.transport == "udp":
                await self._set_up_udp(track)
            else:
                await self._set_up_interleaved(track, index)
        for channel in self._udp:
            channel.punch()
        played = await self._exchange(connection.play())
        if played.rtp_info is not None:
            for track in presentation.tracks:
                entry = played.rtp_info.for_url(connection.control_url(track.control))
                if entry is not None and entry.rtptime is not None:
                    track.anchor(entry.rtptime, entry.seq)
        self.presentation = presentation
        self._played_at = self._last_media = self.loop.time()
        if self.probe is None:
            self._announce()

    async def _set_up_interleaved(self, track: Track, index: int) -> None:
        connection = self.connection
        spec = TransportSpec(
            lower_transport="TCP",
            delivery="unicast",
            interleaved=PortRange(2 * index, 2 * index + 1),
        )
        answer = await self._exchange(connection.setup(connection.control_url(track.control), spec))
        chosen = answer.transport.first if answer.transport is not None else spec
        channels = chosen.interleaved or spec.interleaved
        assert channels is not None
        self._rtp[channels.first] = track
        self._rtcp[channels.last if channels.last is not None else channels.first + 1] = track

    async def _set_up_udp(self, track: Track) -> None:
        connection = self.connection
        channel = UdpChannel(self.link.peer_host)
        self._udp[channel] = track
        try:
            await channel.open(
                self.link.local_host,
                lambda data: self._udp_rtp(channel, track, data),
                lambda data: self._rtcp_received(track, data),
            )
        except OSError as exc:
            raise PullError(f"cannot open UDP ports: {exc.strerror or exc}") from None
        spec = TransportSpec(delivery="unicast", client_port=channel.client_port)
        cseq = connection.setup(connection.control_url(track.control), spec)
        answer = await self._exchange(cseq, require_ok=False)
        if answer.response.status_code == StatusCode.UNSUPPORTED_TRANSPORT:
            raise UdpUnavailable(
                "the camera refused UDP (SETUP answered 461 Unsupported Transport)"
            )
        self._require_ok(answer)
        chosen = answer.transport.first if answer.transport is not None else None
        if chosen is not None and chosen.server_port is not None and chosen.server_port.first:
            channel.server_port = chosen.server_port

    async def _exchange(self, cseq: int, *, require_ok: bool = True) -> ResponseReceived:
        self._flush()
        future: asyncio.Future[ResponseReceived] = self.loop.create_future()
        self._waiting[cseq] = future
        try:
            answer = await asyncio.wait_for(future, self.timeouts.request)
        except TimeoutError:
            raise PullError(f"no answer to a request within {self.timeouts.request:g} s") from None
        finally:
            self._waiting.pop(cseq, None)
        if require_ok:
            self._require_ok(answer)
        return answer

    def _require_ok(self, answer: ResponseReceived) -> None:
        response = answer.response
        if response.ok:
            return
        answered = f"{answer.request.method} answered {response.status_code} {response.reason}"
        if response.status_code == StatusCode.UNAUTHORIZED:
            who = "no credentials" if self.address.username is None else "the credentials"
            raise PullError(f"the camera refused {who} ({answered})")
        raise PullError(f"the camera refused us ({answered})")

    async def _teardown(self) -> None:
        connection = self.connection
        if connection.session is None or connection.closed or self._ended is not None:
            return
        with contextlib.suppress(PullError):
            await self._exchange(connection.teardown(), require_ok=False)

    # -- receiving --------------------------------------------------------------------------------

    async def _receive(self) -> None:
        next_report = self.loop.time() + REPORT_INTERVAL
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), TICK)
            if self._ended is not None:
                raise PullError(self._ended)
            now = self.loop.time()
            if not self._announced:
                self._probe(now)
            elif now - self._last_media >= self.timeouts.media:
                raise PullError(f"the camera sent no media for {self.timeouts.media:g} s")
            self.connection.handle_timer(now)
            for channel, track in self._udp.items():
                self._deliver(track, channel.overdue(), now)
            if now >= next_report:
                self._report(now)
                next_report = now + REPORT_INTERVAL
            self._flush()

    def _probe(self, now: float) -> None:
        """While UDP is on probation: the first packet settles it, silence fails it."""
        assert self.probe is not None
        if self._held:
            self._announce()
        elif now - self._played_at >= self.probe:
            raise UdpUnavailable(f"no RTP over UDP within {self.probe:g} s of PLAY")

    def _announce(self) -> None:
        assert self.presentation is not None
        self._announced = True
        self.sink.started(self.presentation, self.address.where)
        held, self._held = self._held, []
        for track, packet, arrival in held:
            self._deliver(track, [packet], arrival)

    async def _read(self) -> None:
        connection = self.connection
        while not connection.closed:
            try:
                data = await self.link.read()
            except OSError as exc:
                broke = f"the connection broke: {exc.strerror or exc}"
                connection.close(Termination.peer_closed(broke, error=exc))
                data = b""
            self._received(data)

    def _received(self, data: bytes) -> None:
        """What one read brought (empty: the end of the stream), then what it asks us to send."""
        if data:
            self.connection.receive_data(data, self.loop.time())
        else:
            self.connection.receive_eof()
        self._dispatch()
        self._flush()

    def _dispatch(self) -> None:
        connection = self.connection
        while (event := connection.next_event()) is not None:
            if isinstance(event, InterleavedFrameReceived):  # by far the most frequent
                self._interleaved(event.channel, event.payload)
            elif isinstance(event, ResponseReceived):
                for warning in event.warnings:
                    self.sink.warning(f"{event.request.method} answer: {warning}")
                future = self._waiting.get(event.cseq)
                if future is not None and not future.done():
                    future.set_result(event)
                elif not event.response.ok:
                    self._refused_while_playing(event)
            elif isinstance(event, MalformedResponse):
                self._end(f"the camera sent a malformed response: {event.reason}")
            elif isinstance(event, RequestReceived):
                connection.send_response(event.request, Response(200))
            elif isinstance(event, ConnectionTerminated):
                ended = event.termination
                # A plain end of stream is the camera hanging up; a broken read says how.
                hung_up = ended.cause is Cause.PEER_CLOSED and ended.error is None
                self._end("the camera closed the connection" if hung_up else ended.detail)

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

    def _interleaved(self, channel: int, payload: bytes) -> None:
        track = self._rtp.get(channel)
        if track is not None:
            try:
                packet = RtpPacket.parse(payload)
            except RtpError:
                return
            self._deliver(track, [packet], self.loop.time())
            return
        track = self._rtcp.get(channel)
        if track is not None:
            self._rtcp_received(track, payload)

    def _udp_rtp(self, channel: UdpChannel, track: Track, data: bytes) -> None:
        self._deliver(track, channel.reorder(data), self.loop.time())

    def _deliver(self, track: Track, packets: list[RtpPacket], now: float) -> None:
        for packet in packets:
            self._last_media = now
            if not self._announced:
                if len(self._held) < MAX_HELD_PACKETS:
                    self._held.append((track, packet, now))
                continue
            for frame in track.receive(packet, now):
                size = track.take_payload_bytes()
                transcoder = track.transcoder
                if transcoder is None:
                    self.sink.frame(track, frame, size)
                elif self._transcoding is not None:
                    deliver = functools.partial(self._transcoded, track)
                    self._transcoding.submit(transcoder, frame, size, deliver)

    def _transcoded(self, track: Track, frames: list[Frame], size: int) -> None:
        """AAC frames made of a unit that took ``size`` bytes; an AAC frame spans several
        units, so bytes wait for the next frame to carry them."""
        size += self._transcoded_bytes.pop(track, 0)
        if not frames:
            self._transcoded_bytes[track] = size
            return
        for frame in frames:
            self.sink.frame(track, frame, size)
            size = 0

    def _rtcp_received(self, track: Track, payload: bytes) -> None:
        statistics = track.statistics
        if statistics is None:
            return
        try:
            packets = parse_compound(payload)
        except RtpError:
            return
        for rtcp in packets:
            if isinstance(rtcp, RtcpSenderReport) and rtcp.ssrc == statistics.ssrc:
                statistics.on_sender_report(rtcp, self.loop.time())

    def _report(self, now: float) -> None:
        """An RR and SDES CNAME per stream on its RTCP channel (RFC 3550 §6.1: compound)."""
        if self.connection.closed:
            return
        for channel, track in self._rtcp.items():
            self.connection.send_interleaved(channel, self._receiver_report(track, now))
        for udp, track in self._udp.items():
            udp.send_rtcp(self._receiver_report(track, now))

    def _receiver_report(self, track: Track, now: float) -> bytes:
        statistics = track.statistics
        block = statistics.report_block(now) if statistics is not None else None
        report = RtcpReceiverReport(self._ssrc, [block] if block is not None else [])
        cname = SdesChunk(self._ssrc, [SdesItem(SDES_CNAME, b"refserver")])
        return serialize_compound([report, RtcpSdes([cname])])

    def _end(self, reason: str) -> None:
        if self._ended is None:
            self._ended = reason
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(PullError(reason))

    def _flush(self) -> None:
        data = self.connection.data_to_send()
        if data:
            self.link.write(data)
