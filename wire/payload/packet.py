"""The output of the packetizers: RTP payloads without their RTP headers."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PayloadPacket:
    """One RTP payload and its marker bit.

    ``unit_index`` is the position, among the units given to the packetizer, of the first unit
    the packet carries; it places the packet's RTP timestamp when one call packs several units
    (AAC), and is 0 for video, where a call is one access unit.
    """

    payload: bytes
    marker: bool
    unit_index: int = 0
