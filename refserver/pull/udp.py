"""RTP and RTCP over UDP for one pulled stream: a pair of bound sockets and a jitter buffer.

The RTP port is even and the RTCP port the next one up (RFC 3550 §11). Only datagrams from the
camera's address are taken, from whatever port they come. Before PLAY a small datagram goes
from each socket to the camera's ports, so a NAT between us opens its mapping ("punch" packets:
RFC 2326 says nothing of them, but gortsplib and FFmpeg send them and cameras ignore them).

Some cameras leave ``server_port`` out of their SETUP answer (mediamtx#407, #691): then there is
nothing to punch, and receiver reports go to the port the camera's RTCP comes from.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

from wire.rtp import JitterBuffer, RtpError, RtpPacket
from wire.rtsp import PortRange

PAIR_ATTEMPTS = 64
RECEIVE_BUFFER_SIZE = 2 * 1024 * 1024
PUNCH_RTP = RtpPacket(payload_type=0, sequence_number=0, timestamp=0, ssrc=0).serialize()
PUNCH_RTCP = bytes((0x80, 201, 0x00, 0x01, 0, 0, 0, 0))  # an empty receiver report

Address = tuple[str, int]
Handler = Callable[[bytes], None]


def bind_pair(host: str) -> tuple[socket.socket, socket.socket]:
    """Two UDP sockets on consecutive ports of ``host``, the first even."""
    for _ in range(PAIR_ATTEMPTS):
        rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        rtp.bind((host, 0))
        port = rtp.getsockname()[1]
        if port % 2 == 0 and port < 0xFFFF:
            rtcp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                rtcp.bind((host, port + 1))
            except OSError:
                rtcp.close()
            else:
                for sock in (rtp, rtcp):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER_SIZE)
                    sock.setblocking(False)
                return rtp, rtcp
        rtp.close()
    raise OSError(f"no free pair of UDP ports on {host}")


class _Receiver(asyncio.DatagramProtocol):
    def __init__(self, source: str, handle: Handler) -> None:
        self.source = source
        self.handle = handle
        self.source_port: int | None = None  # where the camera last sent from

    def datagram_received(self, data: bytes, addr: Address) -> None:
        if addr[0] == self.source:
            self.source_port = addr[1]
            self.handle(data)

    def error_received(self, exc: Exception) -> None:
        """ICMP unreachable after a punch packet: the camera's port is not open yet."""


class UdpChannel:
    """The two sockets of one stream, the camera's ports, and the reordering of its RTP."""

    def __init__(self, camera_host: str) -> None:
        self.camera_host = camera_host
        self.client_port = PortRange(0, 0)
        self.server_port: PortRange | None = None
        self.jitter = JitterBuffer()
        self._transports: list[asyncio.DatagramTransport] = []
        self._receivers: list[_Receiver] = []
        self._gap_seen = False

    async def open(self, local_host: str, on_rtp: Handler, on_rtcp: Handler) -> None:
        loop = asyncio.get_running_loop()
        rtp, rtcp = bind_pair(local_host)
        self.client_port = PortRange(rtp.getsockname()[1], rtcp.getsockname()[1])
        for sock, handle in ((rtp, on_rtp), (rtcp, on_rtcp)):
            transport, receiver = await loop.create_datagram_endpoint(
                lambda handle=handle: _Receiver(self.camera_host, handle),  # type: ignore[misc]
                sock=sock,
            )
            self._transports.append(transport)
            self._receivers.append(receiver)

    def reorder(self, data: bytes) -> list[RtpPacket]:
        """A datagram from the RTP port; the packets now ready, in sequence order."""
        try:
            packet = RtpPacket.parse(data)
        except RtpError:
            return []
        return self.jitter.push(packet)

    def overdue(self) -> list[RtpPacket]:
        """Called every tick: a gap still open since the last tick is given up on."""
        ready = self.jitter.skip_gap() if self._gap_seen and self.jitter.has_gap else []
        self._gap_seen = self.jitter.has_gap
        return ready

    def punch(self) -> None:
        """Open NAT mappings towards the camera's ports."""
        if self.server_port is not None:
            self.send_rtcp(PUNCH_RTCP)
            self._send(0, PUNCH_RTP, self.server_port.first)

    def send_rtcp(self, data: bytes) -> None:
        """To the camera's RTCP port: the announced one, else where its RTCP comes from."""
        port = self.server_port
        if port is not None:
            self._send(1, data, port.last if port.last is not None else port.first + 1)
        elif len(self._receivers) > 1 and self._receivers[1].source_port is not None:
            self._send(1, data, self._receivers[1].source_port)

    def _send(self, index: int, data: bytes, port: int) -> None:
        if len(self._transports) > index and not self._transports[index].is_closing():
            self._transports[index].sendto(data, (self.camera_host, port))

    def close(self) -> None:
        for transport in self._transports:
            transport.close()
        self._transports.clear()
        self._receivers.clear()
