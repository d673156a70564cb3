"""Impairments applied to a capture's packets: what a bad network (or a bad capture) does.

Each function takes and returns a list of (time in ns, IP packet) pairs, as
:mod:`camsim.pcap.synth` makes them. Dropping, reordering and duplicating work on any packet; for
TCP, :func:`split_segment` cuts a segment in two and :func:`retransmit` sends one again later,
both with correct sequence numbers and checksums, so that a reassembler has to do its job.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from camsim.pcap.packet import IPPROTO_TCP, IPPROTO_UDP, LINKTYPE_RAW, PacketDecoder
from wire.pcapng import tcp_packet, udp_packet

Packet = tuple[int, bytes]


def drop(packets: list[Packet], indexes: Iterable[int]) -> list[Packet]:
    """Without the packets at ``indexes``."""
    gone = set(indexes)
    return [packet for i, packet in enumerate(packets) if i not in gone]


def swap(packets: list[Packet], index: int) -> list[Packet]:
    """Packets ``index`` and ``index + 1`` exchanged (times kept in place)."""
    result = list(packets)
    (t1, p1), (t2, p2) = result[index], result[index + 1]
    result[index], result[index + 1] = (t1, p2), (t2, p1)
    return result


def duplicate(packets: list[Packet], index: int, later: int = 1) -> list[Packet]:
    """Packet ``index`` sent again ``later`` positions after itself."""
    result = list(packets)
    position = min(index + later, len(result) - 1)
    result.insert(position + 1, (result[position][0], packets[index][1]))
    return result


def tcp_fields(packet: bytes) -> tuple[bytes, int, bytes, int, int, int, int, bytes] | None:
    """(src, sport, dst, dport, seq, ack, flags, payload) of a raw-IP TCP packet."""
    segment = PacketDecoder().decode(LINKTYPE_RAW, packet, 0, len(packet), 0)
    if segment is None or segment[0] != IPPROTO_TCP:
        return None
    _, src, sport, dst, dport, data, start, end, seq, ack, flags = segment
    return src, sport, dst, dport, seq, ack, flags, bytes(data[start:end])


def split_segment(packets: list[Packet], index: int, at: int) -> list[Packet]:
    """The TCP segment at ``index`` cut after ``at`` bytes of its payload."""
    fields = tcp_fields(packets[index][1])
    if fields is None or not 0 < at < len(fields[7]):
        raise ValueError(f"packet {index} is not a TCP segment with more than {at} bytes")
    src, sport, dst, dport, seq, ack, flags, payload = fields
    time = packets[index][0]
    first = tcp_packet(src, sport, dst, dport, seq, ack, flags & ~0x08, payload[:at])
    second = tcp_packet(src, sport, dst, dport, seq + at, ack, flags, payload[at:])
    return [*packets[:index], (time, first), (time, second), *packets[index + 1 :]]


def retransmit(packets: list[Packet], index: int, later: int) -> list[Packet]:
    """The segment at ``index`` sent once more, ``later`` positions after it."""
    return duplicate(packets, index, later)


def is_tcp_payload(packet: bytes) -> bool:
    fields = tcp_fields(packet)
    return fields is not None and bool(fields[7])


def udp_fields(packet: bytes) -> tuple[bytes, int, bytes, int, bytes] | None:
    """(src, sport, dst, dport, payload) of a raw-IP UDP packet."""
    segment = PacketDecoder().decode(LINKTYPE_RAW, packet, 0, len(packet), 0)
    if segment is None or segment[0] != IPPROTO_UDP:
        return None
    _, src, sport, dst, dport, data, start, end, _, _, _ = segment
    return src, sport, dst, dport, bytes(data[start:end])


def rewrite_udp(
    packets: list[Packet], destination_port: int, edit: Callable[[int, bytearray], bytes | None]
) -> list[Packet]:
    """Each datagram to ``destination_port`` (the n-th given as n) replaced by what ``edit``
    returns from a copy of its payload; None drops it. Checksums are computed afresh."""
    result = []
    count = 0
    for time, packet in packets:
        fields = udp_fields(packet)
        if fields is None or fields[3] != destination_port:
            result.append((time, packet))
            continue
        src, sport, dst, dport, payload = fields
        edited = edit(count, bytearray(payload))
        count += 1
        if edited is not None:
            result.append((time, udp_packet(src, sport, dst, dport, bytes(edited))))
    return result
