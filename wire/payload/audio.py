"""Packetizers of the audio formats whose RTP payload is the unit itself (see ``whole``).

G.711 (RFC 3551 §4.5.14): one octet per sample at 8 kHz, as many as the packetization interval
holds; 20 ms (160 samples) is the default interval of RFC 3551 §4.5 and what cameras send.
Opus (RFC 7587 §4.2): exactly one Opus packet per RTP packet, never split and never packed
with another. Neither uses the marker bit for continuous audio (RFC 3551 §4.1 sets it only on
the first packet after a silence, and camsim's cameras are never silent).
"""

from __future__ import annotations

from collections.abc import Sequence

from wire.payload.errors import PayloadError
from wire.payload.packet import PayloadPacket

G711_CLOCK_RATE = 8000
G711_PACKET_SAMPLES = 160
"""20 ms at 8 kHz: RFC 3551 §4.5's default packetization interval."""
OPUS_CLOCK_RATE = 48_000
"""RFC 7587 §4.1: the RTP clock of Opus is 48 kHz whatever the coded bandwidth."""
OPUS_MAX_PACKET = 1275 * 3 + 7
"""The largest Opus packet RFC 6716 §3.2.5 allows (a code 3 packet of 48 frames of 1275
octets is larger, but no encoder makes one within an MTU)."""


def packetize_g711(
    samples: bytes, packet_samples: int = G711_PACKET_SAMPLES
) -> list[PayloadPacket]:
    """G.711 octets (μ-law or A-law alike) as packets of ``packet_samples`` samples.

    Each packet's ``unit_index`` is the offset of its first sample, so its RTP timestamp is
    the first sample's plus ``unit_index`` (one tick per sample at 8 kHz). The last packet holds
    what is left.
    """
    if packet_samples < 1:
        raise ValueError("a G.711 packet holds at least one sample")
    return [
        PayloadPacket(samples[start : start + packet_samples], False, start)
        for start in range(0, len(samples), packet_samples)
    ]


def packetize_opus(packets: Sequence[bytes]) -> list[PayloadPacket]:
    """One RTP payload per Opus packet (RFC 7587 §4.2); ``unit_index`` is the packet's index.

    Raises :class:`PayloadError` for an empty packet (it would say nothing a receiver could
    decode; RFC 7587 §4.2 allows one only as a DTX filler) or one longer than RFC 6716 allows.
    """
    payloads = []
    for index, packet in enumerate(packets):
        if not packet:
            raise PayloadError(f"Opus packet {index} is empty")
        if len(packet) > OPUS_MAX_PACKET:
            raise PayloadError(f"Opus packet {index} has {len(packet)} octets")
        payloads.append(PayloadPacket(bytes(packet), False, index))
    return payloads
