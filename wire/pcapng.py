"""pcapng capture files written from the application's side, sans I/O.

A program that sends and receives through sockets never sees the packets on the wire, and
capturing them needs privileges. Its traffic can still be recorded as a capture any tool reads:
the blocks of a pcapng file (draft-ietf-opsawg-pcapng) around IPv4/IPv6 datagrams whose UDP and
TCP headers are made up here, with real checksums (RFC 768, RFC 9293 §3.1, RFC 1071). A
:class:`TcpConversation` numbers the bytes of both directions of one connection (handshake,
data cut at the MSS, FIN) so that the result reassembles like a real connection.

Everything returns bytes; the caller writes them to a file. Addresses are text (``127.0.0.1``,
``::1``) and the family follows from them.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

BLOCK_SECTION_HEADER = 0x0A0D0D0A
BLOCK_INTERFACE_DESCRIPTION = 0x00000001
BLOCK_ENHANCED_PACKET = 0x00000006
BYTE_ORDER_MAGIC = 0x1A2B3C4D

OPTION_END = 0
OPTION_SHB_USERAPPL = 4
OPTION_IF_NAME = 2
OPTION_IF_TSRESOL = 9
TSRESOL_NANOSECONDS = 9

LINKTYPE_RAW = 101
"""Raw IPv4 or IPv6, no link layer: what an application-level capture holds."""

IPPROTO_TCP = 6
IPPROTO_UDP = 17

TCP_FIN = 0x01
TCP_SYN = 0x02
TCP_RST = 0x04
TCP_PSH = 0x08
TCP_ACK = 0x10

DEFAULT_TTL = 64
DEFAULT_MSS = 1460
DEFAULT_WINDOW = 65535
MAX_SNAPLEN = 262144

_IPV4_HEADER = struct.Struct("!BBHHHBBH4s4s")
_IPV6_HEADER = struct.Struct("!IHBB16s16s")
_UDP_HEADER = struct.Struct("!HHHH")
_TCP_HEADER = struct.Struct("!HHIIBBHHH")


def _pad(data: bytes) -> bytes:
    return data + bytes(-len(data) % 4)


def _option(code: int, value: bytes) -> bytes:
    return struct.pack("<HH", code, len(value)) + _pad(value)


def _block(block_type: int, body: bytes) -> bytes:
    length = 12 + len(body)
    return struct.pack("<II", block_type, length) + body + struct.pack("<I", length)


def section_header(application: str | None = None) -> bytes:
    """A Section Header Block (little-endian, version 1.0, section length unknown)."""
    options = b""
    if application:
        options = _option(OPTION_SHB_USERAPPL, application.encode()) + _option(OPTION_END, b"")
    body = struct.pack("<IHHq", BYTE_ORDER_MAGIC, 1, 0, -1) + options
    return _block(BLOCK_SECTION_HEADER, body)


def interface_description(
    link_type: int = LINKTYPE_RAW, *, name: str | None = None, snaplen: int = MAX_SNAPLEN
) -> bytes:
    """An Interface Description Block with nanosecond timestamps (``if_tsresol`` = 9)."""
    options = _option(OPTION_IF_TSRESOL, bytes([TSRESOL_NANOSECONDS]))
    if name:
        options += _option(OPTION_IF_NAME, name.encode())
    options += _option(OPTION_END, b"")
    body = struct.pack("<HHI", link_type, 0, snaplen) + options
    return _block(BLOCK_INTERFACE_DESCRIPTION, body)


def enhanced_packet(
    timestamp_ns: int, data: bytes, *, interface: int = 0, original_length: int | None = None
) -> bytes:
    """An Enhanced Packet Block; the timestamp is in nanoseconds since the Unix epoch."""
    if timestamp_ns < 0:
        raise ValueError(f"timestamp {timestamp_ns} ns is before the epoch")
    original = len(data) if original_length is None else original_length
    header = struct.pack(
        "<IIIII", interface, timestamp_ns >> 32, timestamp_ns & 0xFFFFFFFF, len(data), original
    )
    return _block(BLOCK_ENHANCED_PACKET, header + _pad(data))


def file_header(application: str | None = None, *, link_type: int = LINKTYPE_RAW) -> bytes:
    """What a file of one interface starts with: a section header and the interface."""
    return section_header(application) + interface_description(link_type)


# Checksums and headers.


def internet_checksum(data: bytes) -> int:
    """The 16-bit ones' complement of the ones' complement sum (RFC 1071).

    2^16 is 1 modulo 0xFFFF, so the sum of the 16-bit words is congruent to the whole buffer
    read as one big number: one conversion and one remainder, both in C, whatever the length.
    """
    if len(data) % 2:
        data += b"\x00"
    total = int.from_bytes(data, "big") % 0xFFFF
    if total == 0 and any(data):
        total = 0xFFFF  # ones' complement "negative zero": the sum of non-zero words
    return ~total & 0xFFFF


def pack_address(host: str) -> bytes:
    """4 or 16 bytes of an IPv4 or IPv6 address in text form."""
    if ":" in host:
        return socket.inet_pton(socket.AF_INET6, host.strip("[]").split("%", 1)[0])
    return socket.inet_pton(socket.AF_INET, host)


def ip_packet(src: bytes, dst: bytes, protocol: int, payload: bytes, *, ident: int = 0) -> bytes:
    """An IPv4 (20-byte header, checksummed, DF set) or IPv6 datagram around ``payload``."""
    if len(src) != len(dst):
        raise ValueError("source and destination addresses of different families")
    if len(src) == 4:
        total = 20 + len(payload)
        if total > 0xFFFF:
            raise ValueError(f"IPv4 datagram of {total} bytes exceeds 65535")
        header = _IPV4_HEADER.pack(
            0x45, 0, total, ident & 0xFFFF, 0x4000, DEFAULT_TTL, protocol, 0, src, dst
        )
        checksum = internet_checksum(header)
        return header[:10] + struct.pack("!H", checksum) + header[12:] + payload
    if len(payload) > 0xFFFF:
        raise ValueError(f"IPv6 payload of {len(payload)} bytes exceeds 65535")
    return _IPV6_HEADER.pack(6 << 28, len(payload), protocol, DEFAULT_TTL, src, dst) + payload


def _pseudo_header(src: bytes, dst: bytes, protocol: int, length: int) -> bytes:
    if len(src) == 4:
        return src + dst + struct.pack("!BBH", 0, protocol, length)
    return src + dst + struct.pack("!IxxxB", length, protocol)


def udp_packet(
    src: str | bytes, sport: int, dst: str | bytes, dport: int, payload: bytes, *, ident: int = 0
) -> bytes:
    """An IP datagram carrying one UDP datagram, checksums included."""
    src_bytes = pack_address(src) if isinstance(src, str) else src
    dst_bytes = pack_address(dst) if isinstance(dst, str) else dst
    length = 8 + len(payload)
    header = _UDP_HEADER.pack(sport, dport, length, 0)
    checksum = internet_checksum(
        _pseudo_header(src_bytes, dst_bytes, IPPROTO_UDP, length) + header + payload
    )
    # A computed zero is sent as all ones: zero means "no checksum" (RFC 768).
    header = header[:6] + struct.pack("!H", checksum or 0xFFFF)
    return ip_packet(src_bytes, dst_bytes, IPPROTO_UDP, header + payload, ident=ident)


def tcp_packet(
    src: bytes,
    sport: int,
    dst: bytes,
    dport: int,
    seq: int,
    ack: int,
    flags: int,
    payload: bytes = b"",
    *,
    window: int = DEFAULT_WINDOW,
    ident: int = 0,
) -> bytes:
    """An IP datagram carrying one TCP segment (20-byte header, no options)."""
    header = _TCP_HEADER.pack(
        sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 5 << 4, flags, window, 0, 0
    )
    length = len(header) + len(payload)
    checksum = internet_checksum(_pseudo_header(src, dst, IPPROTO_TCP, length) + header + payload)
    header = header[:16] + struct.pack("!H", checksum) + header[18:]
    return ip_packet(src, dst, IPPROTO_TCP, header + payload, ident=ident)


@dataclass
class _Side:
    address: bytes
    port: int
    next_seq: int
    fin_sent: bool = False


class TcpConversation:
    """The packets of one TCP connection, numbered as a real stack would number them.

    ``open()`` gives the three-way handshake, ``send()`` the segments of a write (at most
    ``mss`` bytes each, acknowledging everything the other side sent), ``close()`` a FIN and
    the peer's acknowledgement. Initial sequence numbers are the caller's choice, so a test can
    place them near the 2^32 wrap.
    """

    def __init__(
        self,
        client: tuple[str, int],
        server: tuple[str, int],
        *,
        client_isn: int = 0x1000,
        server_isn: int = 0x8000,
        mss: int = DEFAULT_MSS,
    ) -> None:
        if mss < 1:
            raise ValueError(f"MSS {mss} must be positive")
        self.mss = mss
        self.client = _Side(pack_address(client[0]), client[1], client_isn & 0xFFFFFFFF)
        self.server = _Side(pack_address(server[0]), server[1], server_isn & 0xFFFFFFFF)
        self._ident = 0

    def _sides(self, from_client: bool) -> tuple[_Side, _Side]:
        return (self.client, self.server) if from_client else (self.server, self.client)

    def _packet(self, sender: _Side, receiver: _Side, flags: int, payload: bytes = b"") -> bytes:
        self._ident += 1
        ack = receiver.next_seq if flags & TCP_ACK else 0
        return tcp_packet(
            sender.address,
            sender.port,
            receiver.address,
            receiver.port,
            sender.next_seq,
            ack,
            flags,
            payload,
            ident=self._ident,
        )

    def open(self) -> list[bytes]:
        """SYN, SYN-ACK, ACK."""
        client, server = self.client, self.server
        packets = [self._packet(client, server, TCP_SYN)]
        client.next_seq = (client.next_seq + 1) & 0xFFFFFFFF
        packets.append(self._packet(server, client, TCP_SYN | TCP_ACK))
        server.next_seq = (server.next_seq + 1) & 0xFFFFFFFF
        packets.append(self._packet(client, server, TCP_ACK))
        return packets

    def send(self, from_client: bool, data: bytes) -> list[bytes]:
        """The segments carrying ``data`` from one side, PSH on the last."""
        sender, receiver = self._sides(from_client)
        packets = []
        for start in range(0, len(data), self.mss):
            piece = data[start : start + self.mss]
            last = start + self.mss >= len(data)
            packets.append(
                self._packet(sender, receiver, TCP_ACK | (TCP_PSH if last else 0), piece)
            )
            sender.next_seq = (sender.next_seq + len(piece)) & 0xFFFFFFFF
        return packets

    def close(self, from_client: bool = True) -> list[bytes]:
        """A FIN from one side and the other's FIN-ACK, then the last ACK."""
        sender, receiver = self._sides(from_client)
        packets = [self._packet(sender, receiver, TCP_FIN | TCP_ACK)]
        sender.next_seq = (sender.next_seq + 1) & 0xFFFFFFFF
        packets.append(self._packet(receiver, sender, TCP_FIN | TCP_ACK))
        receiver.next_seq = (receiver.next_seq + 1) & 0xFFFFFFFF
        packets.append(self._packet(sender, receiver, TCP_ACK))
        sender.fin_sent = receiver.fin_sent = True
        return packets

    def reset(self, from_client: bool = True) -> bytes:
        """An RST from one side (a connection torn down without FIN)."""
        sender, receiver = self._sides(from_client)
        return self._packet(sender, receiver, TCP_RST | TCP_ACK)


class RecordedConnection:
    """One TCP connection of a :class:`PcapngRecorder`: each call returns the blocks to append."""

    def __init__(self, conversation: TcpConversation) -> None:
        self.conversation = conversation
        self.open_sent = False
        self.closed = False

    def open(self, timestamp_ns: int) -> bytes:
        """The handshake, once."""
        if self.open_sent:
            return b""
        self.open_sent = True
        return _blocks(timestamp_ns, self.conversation.open())

    def data(self, timestamp_ns: int, from_client: bool, data: bytes) -> bytes:
        """Bytes one side wrote (the handshake first if it was not recorded yet)."""
        if self.closed or not data:
            return b""
        return self.open(timestamp_ns) + _blocks(
            timestamp_ns, self.conversation.send(from_client, data)
        )

    def close(self, timestamp_ns: int, from_client: bool = True) -> bytes:
        """FIN from ``from_client``'s side and the answer, once."""
        if self.closed:
            return b""
        self.closed = True
        return self.open(timestamp_ns) + _blocks(timestamp_ns, self.conversation.close(from_client))


class PcapngRecorder:
    """Turns what an application sent and received into pcapng bytes.

    The caller timestamps each event (nanoseconds since the epoch) and appends the returned
    bytes to a file; :meth:`header` comes first. Traffic goes on one raw-IP interface.
    """

    def __init__(self, application: str | None = None, *, mss: int = DEFAULT_MSS) -> None:
        self.application = application
        self.mss = mss
        self._ident = 0

    def header(self) -> bytes:
        return file_header(self.application)

    def udp(
        self,
        timestamp_ns: int,
        source: tuple[str, int],
        destination: tuple[str, int],
        payload: bytes,
    ) -> bytes:
        """One datagram from ``source`` to ``destination`` (host, port)."""
        self._ident = (self._ident + 1) & 0xFFFF
        packet = udp_packet(
            source[0], source[1], destination[0], destination[1], payload, ident=self._ident
        )
        return enhanced_packet(timestamp_ns, packet)

    def connection(
        self,
        client: tuple[str, int],
        server: tuple[str, int],
        *,
        client_isn: int = 0x1000,
        server_isn: int = 0x8000,
    ) -> RecordedConnection:
        """A TCP connection between two (host, port) endpoints, not yet opened."""
        return RecordedConnection(
            TcpConversation(
                client, server, client_isn=client_isn, server_isn=server_isn, mss=self.mss
            )
        )


def _blocks(timestamp_ns: int, packets: list[bytes]) -> bytes:
    return b"".join(enhanced_packet(timestamp_ns, packet) for packet in packets)
