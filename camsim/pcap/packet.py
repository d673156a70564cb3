"""From a captured frame to a TCP segment or a UDP datagram: link layer, IP, transport header.

Link types (https://www.tcpdump.org/linktypes.html): Ethernet with any number of 802.1Q/802.1ad
tags, Linux cooked capture v1 (SLL) and v2 (SLL2), raw IP, BSD and OpenBSD loopback. IPv4 with
options, IPv6 with extension headers; fragments of either are reassembled (RFC 791, RFC 8200
§4.5) and the whole datagram is decoded once its last piece arrives.

Decoding is plain ``struct`` on the capture's buffer: one call per packet returns a
:data:`Segment` tuple, and only fragments are ever copied.
"""

from __future__ import annotations

import mmap
import struct
from collections import OrderedDict
from dataclasses import dataclass, field

LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW_OLD = 12
LINKTYPE_RAW_OLD_BSD = 14
LINKTYPE_RAW = 101
LINKTYPE_LOOP = 108
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
LINKTYPE_LINUX_SLL2 = 276

ETHERTYPE_IPV4 = 0x0800
ETHERTYPE_IPV6 = 0x86DD
ETHERTYPE_VLAN = (0x8100, 0x88A8, 0x9100)

IPPROTO_TCP = 6
IPPROTO_UDP = 17
IPV6_HOP_BY_HOP = 0
IPV6_ROUTING = 43
IPV6_FRAGMENT = 44
IPV6_AH = 51
IPV6_DESTINATION = 60

TCP_FIN = 0x01
TCP_SYN = 0x02
TCP_RST = 0x04
TCP_PSH = 0x08
TCP_ACK = 0x10

# BSD loopback address families: AF_INET, and AF_INET6 as NetBSD/FreeBSD/macOS number it.
_NULL_IPV4 = (2,)
_NULL_IPV6 = (10, 24, 28, 30)

MAX_PENDING_DATAGRAMS = 1024
"""Fragmented datagrams waiting for their other pieces; the oldest is given up beyond this."""

_IPV4 = struct.Struct("!BBHHHBBH4s4s")
_IPV6 = struct.Struct("!IHBB16s16s")
_PORTS = struct.Struct("!HH")
_UDP = struct.Struct("!HHH")
_TCP = struct.Struct("!HHIIBB")
_U16 = struct.Struct("!H")

Buffer = bytes | mmap.mmap | memoryview
"""What packets are read from: a capture's memory map, or bytes made by reassembly."""

Segment = tuple[int, bytes, int, bytes, int, Buffer, int, int, int, int, int]
"""``(protocol, source address, source port, destination address, destination port, data,
start, end, tcp sequence, tcp acknowledgement, tcp flags)``: the transport payload is
``data[start:end]``; addresses are 4 or 16 bytes; the TCP fields are 0 for UDP."""


@dataclass
class DecodeCounters:
    """What could not be decoded, and how much was reassembled."""

    not_ip: int = 0
    truncated: int = 0
    other_transport: int = 0
    fragments: int = 0
    reassembled: int = 0
    link_types: set[int] = field(default_factory=set)
    """Link types this decoder does not know."""


@dataclass
class _Datagram:
    pieces: dict[int, tuple[bytes, bool]] = field(default_factory=dict)
    first_packet: int = 0
    last_packet: int = 0


class PacketDecoder:
    """Decodes frames to transport segments; holds the fragments awaiting reassembly."""

    def __init__(self) -> None:
        self.counters = DecodeCounters()
        self._pending: OrderedDict[tuple[object, ...], _Datagram] = OrderedDict()
        self.fragmented_packets: list[tuple[int, int]] = []
        """(first, last) packet numbers of each datagram that arrived in fragments."""

    def decode(
        self, link_type: int, buffer: Buffer, offset: int, length: int, number: int
    ) -> Segment | None:
        """The transport segment in the frame at ``buffer[offset:offset+length]``, if any.

        ``number`` (the packet's number in the capture) is remembered for fragments. None for
        anything that is not TCP or UDP over IP, and for a fragment that does not complete a
        datagram.
        """
        end = offset + length
        if link_type == LINKTYPE_ETHERNET:
            pos = offset + 12
            if pos + 2 > end:
                self.counters.truncated += 1
                return None
            (ethertype,) = _U16.unpack_from(buffer, pos)
            pos += 2
            while ethertype in ETHERTYPE_VLAN and pos + 4 <= end:
                (ethertype,) = _U16.unpack_from(buffer, pos + 2)
                pos += 4
        elif link_type == LINKTYPE_LINUX_SLL:
            if length < 16:
                self.counters.truncated += 1
                return None
            (ethertype,) = _U16.unpack_from(buffer, offset + 14)
            pos = offset + 16
        elif link_type == LINKTYPE_LINUX_SLL2:
            if length < 20:
                self.counters.truncated += 1
                return None
            (ethertype,) = _U16.unpack_from(buffer, offset)
            pos = offset + 20
        elif link_type in (LINKTYPE_RAW, LINKTYPE_RAW_OLD, LINKTYPE_RAW_OLD_BSD):
            if length < 1:
                self.counters.truncated += 1
                return None
            ethertype = ETHERTYPE_IPV4 if buffer[offset] >> 4 == 4 else ETHERTYPE_IPV6
            pos = offset
        elif link_type == LINKTYPE_IPV4:
            ethertype, pos = ETHERTYPE_IPV4, offset
        elif link_type == LINKTYPE_IPV6:
            ethertype, pos = ETHERTYPE_IPV6, offset
        elif link_type in (LINKTYPE_NULL, LINKTYPE_LOOP):
            if length < 4:
                self.counters.truncated += 1
                return None
            # DLT_NULL stores the family in the capturing host's byte order, DLT_LOOP in network
            # order: either way it is the one non-zero byte of a small number.
            family = max(buffer[offset : offset + 4])
            if family in _NULL_IPV4:
                ethertype = ETHERTYPE_IPV4
            elif family in _NULL_IPV6:
                ethertype = ETHERTYPE_IPV6
            else:
                ethertype = 0
            pos = offset + 4
        else:
            self.counters.link_types.add(link_type)
            return None
        if ethertype == ETHERTYPE_IPV4:
            # The common case inline (no options, no fragment, UDP or TCP): one call per packet.
            if pos + 20 <= end:
                first, _, total, _, fragment, _, protocol, _, src, dst = _IPV4.unpack_from(
                    buffer, pos
                )
                if first == 0x45 and not fragment & 0x3FFF and pos + total <= end:
                    start = pos + 20
                    end = pos + total if total else end
                    if protocol == IPPROTO_UDP and start + 8 <= end:
                        sport, dport, udp_length = _UDP.unpack_from(buffer, start)
                        stop = start + udp_length if 8 <= udp_length <= end - start else end
                        return IPPROTO_UDP, src, sport, dst, dport, buffer, start + 8, stop, 0, 0, 0
                    return self._transport(protocol, src, dst, buffer, start, end)
            return self._ipv4(buffer, pos, end, number)
        if ethertype == ETHERTYPE_IPV6:
            return self._ipv6(buffer, pos, end, number)
        self.counters.not_ip += 1
        return None

    def _ipv4(self, buffer: Buffer, pos: int, end: int, number: int) -> Segment | None:
        if pos + 20 > end:
            self.counters.truncated += 1
            return None
        first, _, total, ident, fragment, _, protocol, _, src, dst = _IPV4.unpack_from(buffer, pos)
        header = (first & 0x0F) * 4
        if first >> 4 != 4 or header < 20:
            self.counters.not_ip += 1
            return None
        # The total length trims Ethernet padding; a smaller capture length means a snap length.
        datagram_end = pos + total if total else end
        if datagram_end > end:
            self.counters.truncated += 1
            datagram_end = end
        start = pos + header
        if fragment & 0x3FFF:  # MF set or a non-zero offset
            key = (4, src, dst, ident, protocol)
            whole = self._fragment(
                key,
                (fragment & 0x1FFF) * 8,
                bool(fragment & 0x2000),
                bytes(buffer[start:datagram_end]),
                number,
            )
            if whole is None:
                return None
            return self._transport(protocol, src, dst, whole, 0, len(whole))
        return self._transport(protocol, src, dst, buffer, start, datagram_end)

    def _ipv6(self, buffer: Buffer, pos: int, end: int, number: int) -> Segment | None:
        if pos + 40 > end:
            self.counters.truncated += 1
            return None
        _, payload_length, protocol, _, src, dst = _IPV6.unpack_from(buffer, pos)
        start = pos + 40
        datagram_end = start + payload_length if payload_length else end
        if datagram_end > end:
            self.counters.truncated += 1
            datagram_end = end
        while protocol in (IPV6_HOP_BY_HOP, IPV6_ROUTING, IPV6_DESTINATION, IPV6_AH, IPV6_FRAGMENT):
            if start + 8 > datagram_end:
                self.counters.truncated += 1
                return None
            following = buffer[start]
            if protocol == IPV6_FRAGMENT:
                (offset_flags,) = _U16.unpack_from(buffer, start + 2)
                (ident,) = struct.unpack_from("!I", buffer, start + 4)
                start += 8
                key = (6, src, dst, ident)
                whole = self._fragment(
                    key,
                    offset_flags & 0xFFF8,
                    bool(offset_flags & 1),
                    bytes(buffer[start:datagram_end]),
                    number,
                )
                if whole is None:
                    return None
                # The fragmentable part may hold more extension headers: decode it afresh.
                return self._ipv6_tail(following, src, dst, whole)
            size = (
                (buffer[start + 1] + 2) * 4 if protocol == IPV6_AH else (buffer[start + 1] + 1) * 8
            )
            protocol = following
            start += size
        return self._transport(protocol, src, dst, buffer, start, datagram_end)

    def _ipv6_tail(self, protocol: int, src: bytes, dst: bytes, data: bytes) -> Segment | None:
        start = 0
        while protocol in (IPV6_HOP_BY_HOP, IPV6_ROUTING, IPV6_DESTINATION, IPV6_AH):
            if start + 8 > len(data):
                self.counters.truncated += 1
                return None
            following = data[start]
            size = (data[start + 1] + 2) * 4 if protocol == IPV6_AH else (data[start + 1] + 1) * 8
            protocol = following
            start += size
        return self._transport(protocol, src, dst, data, start, len(data))

    def _transport(
        self,
        protocol: int,
        src: bytes,
        dst: bytes,
        buffer: Buffer,
        start: int,
        end: int,
    ) -> Segment | None:
        if protocol == IPPROTO_UDP:
            if start + 8 > end:
                self.counters.truncated += 1
                return None
            sport, dport = _PORTS.unpack_from(buffer, start)
            (udp_length,) = _U16.unpack_from(buffer, start + 4)
            # The UDP length trims trailing bytes; zero is a jumbogram (RFC 2675).
            stop = start + udp_length if 8 <= udp_length <= end - start else end
            return IPPROTO_UDP, src, sport, dst, dport, buffer, start + 8, stop, 0, 0, 0
        if protocol == IPPROTO_TCP:
            if start + 20 > end:
                self.counters.truncated += 1
                return None
            sport, dport, seq, ack, offset_byte, flags = _TCP.unpack_from(buffer, start)
            data_start = start + (offset_byte >> 4) * 4
            if data_start > end:
                self.counters.truncated += 1
                return None
            return IPPROTO_TCP, src, sport, dst, dport, buffer, data_start, end, seq, ack, flags
        self.counters.other_transport += 1
        return None

    def _fragment(
        self, key: tuple[object, ...], offset: int, more: bool, data: bytes, number: int
    ) -> bytes | None:
        """Add one fragment; the whole datagram once every piece is in, else None."""
        self.counters.fragments += 1
        datagram = self._pending.get(key)
        if datagram is None:
            datagram = self._pending[key] = _Datagram(first_packet=number)
            if len(self._pending) > MAX_PENDING_DATAGRAMS:
                self._pending.popitem(last=False)
        datagram.pieces[offset] = (data, more)
        datagram.last_packet = number
        whole = _assemble(datagram.pieces)
        if whole is None:
            return None
        del self._pending[key]
        self.counters.reassembled += 1
        self.fragmented_packets.append((datagram.first_packet, number))
        return whole

    @property
    def incomplete_datagrams(self) -> int:
        """Fragmented datagrams still missing a piece."""
        return len(self._pending)


def _assemble(pieces: dict[int, tuple[bytes, bool]]) -> bytes | None:
    """The datagram when the pieces cover it from 0 to a last piece without MF, else None."""
    position = 0
    parts = []
    for offset in sorted(pieces):
        data, more = pieces[offset]
        if offset > position:
            return None
        # Overlapping fragments: the part already covered is kept (first come, first kept).
        parts.append(data[position - offset :])
        position = max(position, offset + len(data))
        if not more:
            return b"".join(parts)
    return None
