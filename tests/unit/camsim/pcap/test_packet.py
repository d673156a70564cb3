"""Decoding frames to transport segments, checked against packets scapy builds."""

from __future__ import annotations

import random

import pytest
from scapy.layers.inet import IP, TCP, UDP, fragment
from scapy.layers.inet6 import IPv6, IPv6ExtHdrFragment, IPv6ExtHdrHopByHop, fragment6
from scapy.layers.l2 import CookedLinux, CookedLinuxV2, Dot1AD, Dot1Q, Ether, Loopback
from scapy.packet import Packet, Raw

from camsim.pcap.packet import (
    IPPROTO_TCP,
    IPPROTO_UDP,
    LINKTYPE_ETHERNET,
    LINKTYPE_LINUX_SLL,
    LINKTYPE_LINUX_SLL2,
    LINKTYPE_NULL,
    LINKTYPE_RAW,
    TCP_ACK,
    TCP_PSH,
    PacketDecoder,
    Segment,
)
from wire.pcapng import pack_address

UDP_PAYLOAD = b"\x80\x60" + bytes(range(40))


def _decode(
    link_type: int, frame: Packet | bytes, decoder: PacketDecoder | None = None
) -> Segment | None:
    data = bytes(frame)
    return (decoder or PacketDecoder()).decode(link_type, data, 0, len(data), 1)


def _payload(segment: Segment) -> bytes:
    return bytes(segment[5][segment[6] : segment[7]])


def _ipv4_udp() -> Packet:
    return IP(src="192.0.2.1", dst="198.51.100.7") / UDP(sport=5004, dport=6970) / Raw(UDP_PAYLOAD)


@pytest.mark.parametrize(
    ("link_type", "frame"),
    [
        (LINKTYPE_ETHERNET, Ether() / _ipv4_udp()),
        (LINKTYPE_ETHERNET, Ether() / Dot1Q(vlan=7) / _ipv4_udp()),
        (LINKTYPE_ETHERNET, Ether() / Dot1AD(vlan=3) / Dot1Q(vlan=7) / _ipv4_udp()),
        (LINKTYPE_LINUX_SLL, CookedLinux(proto=0x0800) / _ipv4_udp()),
        (LINKTYPE_LINUX_SLL2, CookedLinuxV2(proto=0x0800) / _ipv4_udp()),
        (LINKTYPE_RAW, _ipv4_udp()),
        (LINKTYPE_NULL, Loopback(type=2) / _ipv4_udp()),
    ],
    ids=["ethernet", "vlan", "qinq", "sll", "sll2", "raw", "null"],
)
def test_link_layers(link_type: int, frame: Packet) -> None:
    segment = _decode(link_type, frame)
    assert segment is not None
    assert segment[:5] == (
        IPPROTO_UDP,
        pack_address("192.0.2.1"),
        5004,
        pack_address("198.51.100.7"),
        6970,
    )
    assert _payload(segment) == UDP_PAYLOAD


def test_ethernet_padding_and_ip_options_are_not_payload() -> None:
    short = (
        Ether()
        / IP(src="10.0.0.1", dst="10.0.0.2", options=b"\x01\x01\x01\x00")
        / UDP()
        / Raw(b"abc")
    )
    data = bytes(short) + bytes(20)  # Ethernet pads frames to 60 bytes
    segment = _decode(LINKTYPE_ETHERNET, data)
    assert segment is not None
    assert _payload(segment) == b"abc"


def test_ipv6_with_extension_headers() -> None:
    frame = (
        Ether()
        / IPv6(src="2001:db8::1", dst="2001:db8::2")
        / IPv6ExtHdrHopByHop()
        / UDP(sport=1, dport=2)
        / Raw(UDP_PAYLOAD)
    )
    segment = _decode(LINKTYPE_ETHERNET, frame)
    assert segment is not None
    assert segment[1] == pack_address("2001:db8::1")
    assert _payload(segment) == UDP_PAYLOAD


def test_tcp_fields_and_options() -> None:
    frame = (
        Ether()
        / IP(src="10.0.0.1", dst="10.0.0.2")
        / TCP(
            sport=40000,
            dport=554,
            seq=0xFFFFFFF0,
            ack=77,
            flags="PA",
            options=[("MSS", 1460), ("NOP", None)],
        )
        / Raw(b"OPTIONS * RTSP/1.0\r\n\r\n")
    )
    segment = _decode(LINKTYPE_ETHERNET, frame)
    assert segment is not None
    assert segment[0] == IPPROTO_TCP
    assert segment[8:] == (0xFFFFFFF0, 77, TCP_PSH | TCP_ACK)
    assert _payload(segment) == b"OPTIONS * RTSP/1.0\r\n\r\n"


def test_ipv4_fragments_in_any_order() -> None:
    payload = bytes(random.Random(1).randbytes(4000))
    datagram = IP(src="10.0.0.1", dst="10.0.0.2", id=99) / UDP(sport=1, dport=2) / Raw(payload)
    pieces = fragment(datagram, fragsize=1000)  # type: ignore[no-untyped-call]
    assert len(pieces) == 5
    order = [3, 0, 4, 2, 1]
    decoder = PacketDecoder()
    results = [_decode(LINKTYPE_RAW, pieces[i], decoder) for i in order]
    assert results[:-1] == [None] * 4
    whole = results[-1]
    assert whole is not None
    assert _payload(whole) == payload
    assert decoder.counters.fragments == 5
    assert decoder.counters.reassembled == 1
    assert decoder.incomplete_datagrams == 0


def test_an_incomplete_datagram_waits() -> None:
    datagram = IP(src="10.0.0.1", dst="10.0.0.2", id=5) / UDP() / Raw(bytes(3000))
    pieces = fragment(datagram, fragsize=1000)  # type: ignore[no-untyped-call]
    decoder = PacketDecoder()
    assert [_decode(LINKTYPE_RAW, p, decoder) for p in pieces[:-1]] == [None] * (len(pieces) - 1)
    assert decoder.incomplete_datagrams == 1


def test_ipv6_fragments() -> None:
    payload = bytes(range(256)) * 12
    datagram = (
        IPv6(src="2001:db8::1", dst="2001:db8::2")
        / IPv6ExtHdrFragment(id=7)
        / UDP(sport=9, dport=10)
        / Raw(payload)
    )
    pieces = fragment6(datagram, 1280)  # type: ignore[no-untyped-call]
    decoder = PacketDecoder()
    results = [_decode(LINKTYPE_RAW, p, decoder) for p in reversed(pieces)]
    whole = results[-1]
    assert whole is not None
    assert whole[2] == 9
    assert _payload(whole) == payload


def test_what_is_not_decoded_is_counted() -> None:
    decoder = PacketDecoder()
    assert _decode(LINKTYPE_ETHERNET, Ether(type=0x0806) / Raw(bytes(28)), decoder) is None  # ARP
    assert _decode(LINKTYPE_ETHERNET, bytes(Ether() / _ipv4_udp())[:30], decoder) is None
    assert _decode(147, b"\x00" * 20, decoder) is None
    assert _decode(LINKTYPE_RAW, IP(proto=1) / Raw(bytes(8)), decoder) is None  # ICMP
    assert decoder.counters.not_ip == 1
    assert decoder.counters.truncated == 1
    assert decoder.counters.link_types == {147}
    assert decoder.counters.other_transport == 1
