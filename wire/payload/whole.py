"""Audio payload formats whose RTP payload is the unit itself, with no payload header.

G.711 (PCMU, PCMA; RFC 3551 §4.5.14) carries one octet per sample, as many samples as the
packetization interval holds, and the timestamp of the first. Opus (RFC 7587 §4.2) carries
exactly one Opus packet, which decodes to its own duration from its TOC byte. Either way a
packet is one :class:`~wire.payload.events.AudioAccessUnit` with the packet's timestamp.
"""

from __future__ import annotations

from wire.payload.events import AudioAccessUnit, PacketLoss, PayloadDiscarded, PayloadEvent
from wire.rtp.packet import RtpPacket
from wire.rtp.sequence import seq_diff


class WholePayloadDepacketizer:
    """Audio units from RTP packets that each carry one (G.711 samples, an Opus packet).

    ``receive`` never raises: a repeated packet is dropped, any other step in sequence numbers
    than one is a :class:`PacketLoss` (as for AAC), and an empty payload is a
    :class:`PayloadDiscarded` (RFC 7587 §4.2 allows a zero-length Opus packet; it carries
    nothing to decode).
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._last_seq: int | None = None

    def receive(self, packet: RtpPacket) -> list[PayloadEvent]:
        events: list[PayloadEvent] = []
        seq = packet.sequence_number
        if self._last_seq is not None:
            delta = seq_diff(seq, self._last_seq)
            if delta == 0:
                return events  # a duplicate
            if delta != 1:
                events.append(PacketLoss((self._last_seq + 1) & 0xFFFF, seq))
        self._last_seq = seq
        if not packet.payload:
            events.append(PayloadDiscarded(packet.timestamp, "empty payload"))
            return events
        events.append(AudioAccessUnit(packet.payload, packet.timestamp))
        return events
