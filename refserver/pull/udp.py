"""The sockets of RTP and RTCP over UDP for one pulled stream: a pair of bound ports, or the
pair of a multicast group the stream was joined on.

The RTP port is even and the RTCP port the next one up (RFC 3550 §11). What the datagrams mean
(whose they are, their reordering, the punch packets and receiver reports) is the sans-IO
attempt's business (:mod:`refserver.pull.attempt`); this module only binds and carries them.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
from collections.abc import Callable
from typing import cast

from wire.rtsp import PortRange

PAIR_ATTEMPTS = 64
RECEIVE_BUFFER_SIZE = 2 * 1024 * 1024

Address = tuple[str, int]
Receive = Callable[[bytes, Address, float], None]


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


class UdpReceiver(asyncio.DatagramProtocol):
    """One socket of a stream's pair: each datagram goes to ``receive(data, addr, now)``, after
    which ``transmit()`` lets the session's owner send what it led to and re-arm its timer."""

    def __init__(self, receive: Receive, transmit: Callable[[], None]) -> None:
        self._receive = receive
        self._transmit = transmit
        self._loop = asyncio.get_running_loop()
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # The selector loop's datagram transport does not derive from DatagramTransport.
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: Address) -> None:
        self._receive(data, addr, self._loop.time())
        self._transmit()

    def error_received(self, exc: Exception) -> None:
        """ICMP unreachable after a punch packet: the camera's port is not open yet."""

    def send(self, data: bytes, addr: Address) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(data, addr)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def open_pair(
    host: str, rtp: Receive, rtcp: Receive, transmit: Callable[[], None]
) -> tuple[PortRange, UdpReceiver, UdpReceiver]:
    """Bind a pair on ``host`` (raises OSError) and receive on it; the pair's ports and its two
    receivers, RTP then RTCP."""
    sockets = bind_pair(host)
    ports = PortRange(sockets[0].getsockname()[1], sockets[1].getsockname()[1])
    rtp_receiver, rtcp_receiver = await _receive_on(sockets, rtp, rtcp, transmit)
    return ports, rtp_receiver, rtcp_receiver


def join_group(group: str, ports: PortRange, interface: str) -> tuple[socket.socket, socket.socket]:
    """Two UDP sockets bound to ``group`` on its RTP and RTCP ports, members of it on the
    interface whose address is ``interface`` (the one the camera was reached from).

    Each is bound to the group's address, not the wildcard: a camera sends every track to its
    own group on the same ports (gortsplib does), and a wildcard bind would hear them all. The
    address is shared (SO_REUSEADDR), as every pull of the same group on this host binds it too.
    Closing the sockets leaves the group.
    """
    address = ipaddress.ip_address(group)
    if address.version != 4 or not address.is_multicast:
        raise OSError(f"{group} is not an IPv4 multicast group")
    last = ports.last if ports.last is not None else ports.first + 1
    membership = socket.inet_aton(group) + socket.inet_aton(interface)
    sockets: list[socket.socket] = []
    try:
        for port in (ports.first, last):
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((group, port))
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, membership)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER_SIZE)
            # Our receiver reports go to the group's RTCP port, from the interface we joined on.
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(interface))
            sock.setblocking(False)
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return sockets[0], sockets[1]


async def open_group(
    group: str, ports: PortRange, interface: str, rtp: Receive, rtcp: Receive,
    transmit: Callable[[], None],
) -> tuple[UdpReceiver, UdpReceiver]:  # fmt: skip
    """Join ``group`` (raises OSError) and receive on its pair; the two receivers, RTP then
    RTCP."""
    return await _receive_on(join_group(group, ports, interface), rtp, rtcp, transmit)


async def _receive_on(
    sockets: tuple[socket.socket, socket.socket],
    rtp: Receive,
    rtcp: Receive,
    transmit: Callable[[], None],
) -> tuple[UdpReceiver, UdpReceiver]:
    loop = asyncio.get_running_loop()
    receivers: list[UdpReceiver] = []
    try:
        for sock, receive in zip(sockets, (rtp, rtcp), strict=True):
            _, receiver = await loop.create_datagram_endpoint(
                functools.partial(UdpReceiver, receive, transmit), sock=sock
            )
            receivers.append(receiver)
    except BaseException:
        for receiver in receivers:
            receiver.close()
        for sock in sockets[len(receivers) :]:
            sock.close()
        raise
    return receivers[0], receivers[1]
