"""The server's shared UDP sockets: one RTP and one RTCP port for every camera and client.

RTP leaves through the RTP socket (a full buffer drops the packet, as on a real network). The
RTCP socket sends sender reports and hears the clients' receiver reports, which keep their
sessions alive (gortsplib and the ONVIF streaming spec count them as keepalives). Datagrams that
clients send to open NAT state ("punch" packets, RFC 2326 says nothing of them) are ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
from collections.abc import Callable

from camsim.camera.sender import Address, UdpSink
from wire.rtp import RtcpReceiverReport, RtcpSenderReport, RtpError, parse_compound
from wire.rtsp import PortRange

logger = logging.getLogger(__name__)

SOCKET_BUFFER_SIZE = 4 * 1024 * 1024
_PORT_PAIR_ATTEMPTS = 64

ReportCallback = Callable[[float], None]


class _Receiver(asyncio.DatagramProtocol):
    def __init__(self, handle: Callable[[bytes, Address], None]) -> None:
        self._handle = handle

    def datagram_received(self, data: bytes, addr: Address) -> None:
        self._handle(data, addr)

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable from a client that went away: nothing to do.
        logger.debug("UDP error: %s", exc)


class UdpMedia:
    """An RTP/RTCP socket pair on consecutive ports (RTP even, RFC 3550 §11)."""

    def __init__(self, rtp_socket: socket.socket, rtcp_socket: socket.socket) -> None:
        self.rtp_socket = rtp_socket
        self.rtcp_socket = rtcp_socket
        self.server_port = PortRange(rtp_socket.getsockname()[1], rtcp_socket.getsockname()[1])
        self.malformed_rtcp = 0
        self._by_address: dict[Address, ReportCallback] = {}
        self._by_ssrc: dict[int, ReportCallback] = {}
        self._transports: list[asyncio.BaseTransport] = []
        self.tap: Callable[[UdpSink], UdpSink] | None = None
        """Wraps each sink to record what it sends (``--capture``, camsim.pcap.tap)."""

    @classmethod
    async def open(cls, host: str) -> UdpMedia:
        """Bind a fresh pair on ``host`` and start listening for RTCP."""
        rtp_socket, rtcp_socket = _bind_pair(host)
        media = cls(rtp_socket, rtcp_socket)
        loop = asyncio.get_running_loop()
        for sock, handle in ((rtp_socket, media._rtp_received), (rtcp_socket, media._rtcp)):
            media._transports.append(await _listen(loop, sock, handle))
        return media

    def sink(self, rtp: Address, rtcp: Address) -> UdpSink:
        sink = UdpSink(self.rtp_socket, self.rtcp_socket, rtp, rtcp)
        return sink if self.tap is None else self.tap(sink)

    def watch(self, rtcp: Address, ssrc: int, callback: ReportCallback) -> None:
        """Call ``callback(now)`` on RTCP from ``rtcp`` or reporting on our ``ssrc``."""
        self._by_address[rtcp] = callback
        self._by_ssrc[ssrc] = callback

    def unwatch(self, rtcp: Address, ssrc: int) -> None:
        self._by_address.pop(rtcp, None)
        self._by_ssrc.pop(ssrc, None)

    def close(self) -> None:
        for transport in self._transports:
            transport.close()
        self._transports.clear()

    def _rtp_received(self, data: bytes, addr: Address) -> None:
        """Punch packets and stray RTP: nothing to do."""

    def _rtcp(self, data: bytes, addr: Address) -> None:
        now = asyncio.get_running_loop().time()
        try:
            packets = parse_compound(data)
        except RtpError:
            # Punch packets are often not RTCP at all; a malformed report refreshes nothing.
            self.malformed_rtcp += 1
            return
        callback = self._by_address.get(addr)
        if callback is None:
            for packet in packets:
                if isinstance(packet, RtcpReceiverReport | RtcpSenderReport):
                    for block in packet.reports:
                        callback = callback or self._by_ssrc.get(block.ssrc)
        if callback is not None:
            callback(now)


async def _listen(
    loop: asyncio.AbstractEventLoop, sock: socket.socket, handle: Callable[[bytes, Address], None]
) -> asyncio.BaseTransport:
    receiver = _Receiver(handle)
    transport, _ = await loop.create_datagram_endpoint(lambda: receiver, sock=sock)
    return transport


def _bind_pair(host: str) -> tuple[socket.socket, socket.socket]:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for _ in range(_PORT_PAIR_ATTEMPTS):
        rtp = _udp_socket(family)
        rtp.bind((host, 0))
        port = rtp.getsockname()[1]
        if port % 2 == 0 and port < 0xFFFF:
            rtcp = _udp_socket(family)
            try:
                rtcp.bind((host, port + 1))
            except OSError as error:
                rtcp.close()
                if error.errno != errno.EADDRINUSE:
                    rtp.close()
                    raise
            else:
                return rtp, rtcp
        rtp.close()
    raise OSError(f"no free RTP/RTCP port pair on {host} after {_PORT_PAIR_ATTEMPTS} attempts")


def _udp_socket(family: socket.AddressFamily) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.setblocking(False)
    for option in (socket.SO_SNDBUF, socket.SO_RCVBUF):
        with contextlib.suppress(OSError):  # the kernel caps it; the default still works
            sock.setsockopt(socket.SOL_SOCKET, option, SOCKET_BUFFER_SIZE)
    return sock


def multicast_socket(host: str, ttl: int) -> socket.socket:
    """A UDP socket that sends to multicast groups with ``ttl``, out of ``host``'s interface."""
    sock = _udp_socket(socket.AF_INET)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, ttl)
    # Clients on the camera's own host (a local recorder, tests) hear the groups too.
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
    if host not in ("", "0.0.0.0"):
        with contextlib.suppress(OSError):  # a name, not an address: the route decides
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(host))
    sock.bind((host, 0))
    return sock
