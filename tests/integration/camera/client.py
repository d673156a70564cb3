"""An RTSP client for the camera tests: :class:`wire.rtsp.RtspClientConnection` over a socket.

It records every event in order (so a test can tell what arrived before what), answers
:meth:`RtspTestClient.request` with the matching :class:`ResponseReceived`, and queues
interleaved frames and UDP datagrams for the test to read.
"""

from __future__ import annotations

import asyncio
import functools
import socket
import ssl
import time
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from wire.rtp import RtcpPacket, RtpPacket, parse_compound
from wire.rtsp import (
    ClientConfig,
    ConnectionTerminated,
    Event,
    InterleavedFrameReceived,
    PortRange,
    ResponseReceived,
    RtspClientConnection,
    RtspReader,
    Transport,
    TransportSpec,
)
from wire.sdp import SessionDescription

TIMEOUT = 5.0


class RtspTestClient:
    """One RTSP connection to ``url``."""

    def __init__(
        self,
        url: str,
        *,
        username: str | None = None,
        password: str = "",
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.url = url
        self.connection = RtspClientConnection(
            url, ClientConfig(username=username, password=password)
        )
        self.events: list[Event] = []
        self.frames: asyncio.Queue[InterleavedFrameReceived] = asyncio.Queue()
        self.closed = asyncio.Event()
        self._ssl = ssl_context
        self._answers: dict[int, asyncio.Future[ResponseReceived]] = {}
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> RtspTestClient:
        parts = urlsplit(self.url)
        reader, self._writer = await asyncio.open_connection(
            parts.hostname, parts.port, ssl=self._ssl
        )
        self._task = asyncio.create_task(self._read(reader))
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._writer is not None:
            self._writer.close()
        if self._task is not None:
            self._task.cancel()

    async def request(
        self,
        method: str,
        url: str | None = None,
        headers: Iterable[tuple[str, str]] = (),
        body: bytes = b"",
        timeout: float = TIMEOUT,
    ) -> ResponseReceived:
        cseq = self.connection.request(method, url, headers, body)
        future = self._answers[cseq] = asyncio.get_running_loop().create_future()
        self._flush()
        return await asyncio.wait_for(future, timeout)

    async def describe(self) -> tuple[ResponseReceived, SessionDescription]:
        answer = await self.request("DESCRIBE", headers=[("Accept", "application/sdp")])
        assert answer.response.status_code == 200, answer.response
        return answer, SessionDescription.parse(answer.response.body)

    async def setup(self, control: str, spec: TransportSpec | str) -> ResponseReceived:
        value = spec if isinstance(spec, str) else spec.serialize()
        return await self.request(
            "SETUP", self.connection.control_url(control), [("Transport", value)]
        )

    async def setup_tcp(self, control: str, channel: int) -> ResponseReceived:
        spec = TransportSpec(
            lower_transport="TCP",
            delivery="unicast",
            interleaved=PortRange(channel, channel + 1),
        )
        answer = await self.setup(control, spec)
        assert answer.response.status_code == 200, answer.response
        return answer

    async def play(self) -> ResponseReceived:
        answer = await self.request(
            "PLAY", self.connection.aggregate_url, [("Range", "npt=0.000-")]
        )
        assert answer.response.status_code == 200, answer.response
        return answer

    async def start_tcp(
        self,
    ) -> tuple[SessionDescription, list[ResponseReceived], ResponseReceived]:
        """DESCRIBE, SETUP every track interleaved (channels 0-1, 2-3, ...) and PLAY."""
        _, sdp = await self.describe()
        setups = []
        for index, media in enumerate(sdp.media):
            assert media.control is not None
            setups.append(await self.setup_tcp(media.control, 2 * index))
        return sdp, setups, await self.play()

    async def rtp(self, channel: int, count: int, timeout: float = TIMEOUT) -> list[RtpPacket]:
        """The next ``count`` RTP packets on ``channel`` (frames on other channels are kept)."""
        packets: list[RtpPacket] = []
        deadline = time.monotonic() + timeout
        kept = []
        while len(packets) < count:
            frame = await asyncio.wait_for(self.frames.get(), deadline - time.monotonic())
            if frame.channel == channel:
                packets.append(RtpPacket.parse(frame.payload))
            else:
                kept.append(frame)
        for frame in kept:
            self.frames.put_nowait(frame)
        return packets

    async def rtcp(self, channel: int, timeout: float = TIMEOUT) -> list[RtcpPacket]:
        """The next compound RTCP packet on ``channel``."""
        deadline = time.monotonic() + timeout
        while True:
            frame = await asyncio.wait_for(self.frames.get(), deadline - time.monotonic())
            if frame.channel == channel:
                return parse_compound(frame.payload)

    def send_raw(self, data: bytes) -> None:
        assert self._writer is not None
        self._writer.write(data)

    def send_interleaved(self, channel: int, payload: bytes) -> None:
        self.connection.send_interleaved(channel, payload)
        self._flush()

    def drain_frames(self) -> int:
        count = 0
        while not self.frames.empty():
            self.frames.get_nowait()
            count += 1
        return count

    def _flush(self) -> None:
        data = self.connection.data_to_send()
        if data and self._writer is not None:
            self._writer.write(data)

    async def _read(self, reader: asyncio.StreamReader) -> None:
        loop = asyncio.get_running_loop()
        while True:
            data = await reader.read(65536)
            if not data:
                self.connection.receive_eof()
            else:
                self.connection.receive_data(data, loop.time())
            while (event := self.connection.next_event()) is not None:
                self.events.append(event)
                if isinstance(event, ResponseReceived):
                    future = self._answers.pop(event.cseq, None)
                    if future is not None and not future.done():
                        future.set_result(event)
                elif isinstance(event, InterleavedFrameReceived):
                    self.frames.put_nowait(event)
                elif isinstance(event, ConnectionTerminated):
                    self.closed.set()
                    return
            self._flush()


@dataclass
class UdpPorts:
    """A client's RTP and RTCP sockets and what arrived on them."""

    rtp: asyncio.Queue[bytes]
    rtcp: asyncio.Queue[bytes]
    rtp_socket: socket.socket
    rtcp_socket: socket.socket

    @property
    def client_port(self) -> PortRange:
        return PortRange(self.rtp_socket.getsockname()[1], self.rtcp_socket.getsockname()[1])

    def transport(self) -> TransportSpec:
        return TransportSpec(delivery="unicast", client_port=self.client_port)

    async def rtp_packets(self, count: int, timeout: float = TIMEOUT) -> list[RtpPacket]:
        deadline = time.monotonic() + timeout
        return [
            RtpPacket.parse(await asyncio.wait_for(self.rtp.get(), deadline - time.monotonic()))
            for _ in range(count)
        ]

    def close(self) -> None:
        self.rtp_socket.close()
        self.rtcp_socket.close()


class _Collector(asyncio.DatagramProtocol):
    def __init__(self, queue: asyncio.Queue[bytes]) -> None:
        self.queue = queue

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.queue.put_nowait(data)


async def open_udp_ports() -> UdpPorts:
    loop = asyncio.get_running_loop()
    queues: list[asyncio.Queue[bytes]] = [asyncio.Queue(), asyncio.Queue()]
    sockets = []
    for queue in queues:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        sock.setblocking(False)
        await loop.create_datagram_endpoint(functools.partial(_Collector, queue), sock=sock)
        sockets.append(sock)
    return UdpPorts(queues[0], queues[1], sockets[0], sockets[1])


def transport_of(answer: ResponseReceived) -> TransportSpec:
    assert answer.transport is not None, answer.response
    return answer.transport.first


def parse_transport(value: str) -> Transport:
    return Transport.parse(value)


async def read_raw_responses(
    reader: asyncio.StreamReader, count: int, timeout: float = TIMEOUT
) -> list[object]:
    """Read ``count`` messages or frames with the wire reader (for raw-socket tests)."""
    framer = RtspReader()
    messages: list[object] = []
    deadline = time.monotonic() + timeout
    while len(messages) < count:
        message = framer.next_message()
        if message is not None:
            messages.append(message)
            continue
        data = await asyncio.wait_for(reader.read(65536), deadline - time.monotonic())
        if not data:
            break
        framer.receive_data(data)
    return messages
