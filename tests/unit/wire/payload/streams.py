from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from wire.payload import PayloadEvent, PayloadPacket
from wire.rtp import RtpPacket


def rtp(
    payloads: Iterable[PayloadPacket | tuple[bytes, bool]],
    *,
    timestamp: int = 90000,
    first_sequence: int = 1000,
) -> list[RtpPacket]:
    """RTP packets in sequence for payloads (as packetized, or (payload, marker) pairs)."""
    packets = []
    for i, item in enumerate(payloads):
        payload, marker = (item.payload, item.marker) if isinstance(item, PayloadPacket) else item
        packets.append(
            RtpPacket(96, (first_sequence + i) & 0xFFFF, timestamp, 0x1234, payload, marker)
        )
    return packets


class Depacketizer(Protocol):
    def receive(self, packet: RtpPacket) -> list[PayloadEvent]: ...


def receive_all(depacketizer: Depacketizer, packets: Iterable[RtpPacket]) -> list[PayloadEvent]:
    """Every event the depacketizer emits for the packets, in order."""
    events: list[PayloadEvent] = []
    for packet in packets:
        events += depacketizer.receive(packet)
    return events
