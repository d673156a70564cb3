"""One RTSP connection to a camera, from OPTIONS to TEARDOWN: a thin pump around
``wire.rtsp.RtspClientConnection``.

Media is received interleaved on the RTSP connection (RFC 2326 §10.12), two channels per
stream: RTP on the even one, RTCP on the odd one; or over UDP, on a pair of ports per stream,
reordered by a jitter buffer. The session sends a receiver report for every
stream every few seconds, keeps the RTSP session alive on the connection's own timer, and fails
with a :class:`PullError` that says in plain words what went wrong: the camera is unreachable,
refused us, sent nothing, or hung up.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import unquote, urlsplit, urlunsplit

from refserver.hls import Frame
from refserver.pull.tracks import Presentation, Track, presentation_from_sdp
from refserver.pull.udp import UdpChannel
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

DEFAULT_PORT = 554
READ_SIZE = 65536
REPORT_INTERVAL = 5.0
"""Seconds between RTCP receiver reports (RFC 3550 §6.2 allows 5 s as the minimum)."""
TICK = 0.25


class PullError(Exception):
    """Pulling failed; the message says why in words an operator understands."""


@dataclass(frozen=True, slots=True)
class CameraAddress:
    """An ``rtsp://`` URL split into what we connect to and the credentials in it."""

    url: str
    """Without user information: the Request-URI we send."""
    host: str
    port: int
    username: str | None
    password: str

    @classmethod
    def parse(cls, url: str) -> CameraAddress:
        """Raises ``ValueError`` for anything but an ``rtsp://host[:port]/...`` URL."""
        parts = urlsplit(url)
        if parts.scheme.lower() != "rtsp":
            raise ValueError(f"{url!r} is not an rtsp:// URL")
        host = parts.hostname
        if not host:
            raise ValueError(f"{url!r} has no host")
        port = parts.port or DEFAULT_PORT  # raises ValueError for a bad port
        netloc = f"[{host}]" if ":" in host else host
        if parts.port is not None:
            netloc += f":{parts.port}"
        bare = urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
        username = unquote(parts.username) if parts.username is not None else None
        return cls(bare, host, port, username, unquote(parts.password or ""))


class MediaSink(Protocol):
    """Where a session delivers what it receives."""

    def started(self, presentation: Presentation, peer: str) -> None:
        """PLAY succeeded; frames follow."""

    def frame(self, track: Track, frame: Frame, size: int) -> None:
        """One frame of ``track``; ``size`` is the RTP payload bytes it took."""


@dataclass(frozen=True, slots=True)
class SessionTimeouts:
    connect: float = 5.0
    request: float = 5.0
    media: float = 5.0
    """Silence after PLAY (no RTP at all) after which the camera is taken for gone."""


class RtspPullSession:
    """Pull one camera over TCP-interleaved RTP until :meth:`stop` or a failure."""

    def __init__(
        self,
        address: CameraAddress,
        sink: MediaSink,
        *,
        timeouts: SessionTimeouts | None = None,
        base: Callable[[], int] = lambda: 0,
        transport: str = "tcp",
    ) -> None:
        self.address = address
        self.transport = transport
        self.sink = sink
        self.timeouts = timeouts or SessionTimeouts()
        self.base = base
        self.connection = RtspClientConnection(
            address.url, ClientConfig(username=address.username, password=address.password)
        )
        self.loop = asyncio.get_running_loop()
        self.presentation: Presentation | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._waiting: dict[int, asyncio.Future[ResponseReceived]] = {}
        self._rtp: dict[int, Track] = {}
        self._rtcp: dict[int, Track] = {}
        self._udp: dict[UdpChannel, Track] = {}
        self._ended: str | None = None
        self._stopping = asyncio.Event()
        self._last_media = 0.0
        self._ssrc = struct.unpack("!I", os.urandom(4))[0]

    def stop(self) -> None:
        """End :meth:`run` with a TEARDOWN."""
        self._stopping.set()

    async def run(self) -> None:
        """Connect, set up, play and receive; returns after :meth:`stop`, raises PullError."""
        address = self.address
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(address.host, address.port), self.timeouts.connect
            )
        except TimeoutError:
            raise PullError(f"no answer from {address.host}:{address.port}") from None
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise PullError(f"cannot connect to {address.host}:{address.port}: {reason}") from None
        self._writer = writer
        pump = asyncio.create_task(self._read(reader))
        try:
            await self._set_up()
            await self._receive()
        finally:
            await self._teardown()
            for channel in self._udp:
                channel.close()
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump
            writer.close()

    # -- requests ---------------------------------------------------------------------------------

    async def _set_up(self) -> None:
        connection = self.connection
        await self._exchange(connection.options(), require_ok=False)
        described = await self._exchange(connection.describe())
        try:
            sdp = SessionDescription.parse(described.response.body)
        except SdpError as exc:
            raise PullError(f"the camera's session description is unreadable: {exc}") from None
        presentation = presentation_from_sdp(sdp)
        if not presentation.tracks:
            found = ", ".join(presentation.skipped) or "no media"
            raise PullError(f"nothing we can package: the camera offers {found}")
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
                    track.anchor(entry.rtptime)
        self.presentation = presentation
        self._last_media = self.loop.time()
        self.sink.started(presentation, f"{self.address.host}:{self.address.port}")

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
        connection, writer = self.connection, self._writer
        assert writer is not None
        peer, local = writer.get_extra_info("peername"), writer.get_extra_info("sockname")
        channel = UdpChannel(peer[0])
        self._udp[channel] = track
        try:
            await channel.open(
                local[0],
                lambda data: self._udp_rtp(channel, track, data),
                lambda data: self._rtcp_received(track, data),
            )
        except OSError as exc:
            raise PullError(f"cannot open UDP ports: {exc.strerror or exc}") from None
        spec = TransportSpec(delivery="unicast", client_port=channel.client_port)
        answer = await self._exchange(connection.setup(connection.control_url(track.control), spec))
        chosen = answer.transport.first if answer.transport is not None else None
        if chosen is None or chosen.server_port is None:
            raise PullError("the camera's SETUP answer gives no server_port for UDP")
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
        response = answer.response
        if require_ok and not response.ok:
            answered = f"{answer.request.method} answered {response.status_code} {response.reason}"
            if response.status_code == StatusCode.UNAUTHORIZED:
                who = "no credentials" if self.address.username is None else "the credentials"
                raise PullError(f"the camera refused {who} ({answered})")
            raise PullError(f"the camera refused us ({answered})")
        return answer

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
            if now - self._last_media >= self.timeouts.media:
                raise PullError(f"the camera sent no media for {self.timeouts.media:g} s")
            self.connection.handle_timer(now)
            for channel, track in self._udp.items():
                self._deliver(track, channel.overdue(), now)
            if now >= next_report:
                self._report(now)
                next_report = now + REPORT_INTERVAL
            self._flush()

    async def _read(self, reader: asyncio.StreamReader) -> None:
        connection = self.connection
        while not connection.closed:
            try:
                data = await reader.read(READ_SIZE)
            except OSError as exc:
                connection.close(f"the connection broke: {exc.strerror or exc}")
                data = b""
            if data:
                connection.receive_data(data, self.loop.time())
            else:
                connection.receive_eof()
            self._dispatch()
            self._flush()

    def _dispatch(self) -> None:
        connection = self.connection
        while (event := connection.next_event()) is not None:
            if isinstance(event, ResponseReceived):
                future = self._waiting.get(event.cseq)
                if future is not None and not future.done():
                    future.set_result(event)
                elif not event.response.ok:
                    self._end(f"the camera refused a keepalive: {event.response.status_code}")
            elif isinstance(event, MalformedResponse):
                self._end(f"the camera sent a malformed response: {event.reason}")
            elif isinstance(event, RequestReceived):
                connection.send_response(event.request, Response(200))
            elif isinstance(event, ConnectionTerminated):
                reason = event.reason
                self._end("the camera closed the connection" if "peer" in reason else reason)
            elif isinstance(event, InterleavedFrameReceived):
                self._interleaved(event.channel, event.payload)

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
            for frame in track.receive(packet, now):
                self.sink.frame(track, frame, len(packet.payload))

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
        writer = self._writer
        data = self.connection.data_to_send()
        if data and writer is not None and not writer.is_closing():
            writer.write(data)
