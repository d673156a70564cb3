"""What depacketizers emit: frozen dataclasses, in stream order."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class VideoAccessUnit:
    """One H.264/H.265 access unit: its NAL units (no start codes) and RTP timestamp."""

    nal_units: tuple[bytes, ...]
    timestamp: int
    keyframe: bool


@dataclass(frozen=True, slots=True)
class AudioAccessUnit:
    """One AAC access unit (a raw_data_block) with its own RTP timestamp."""

    data: bytes
    timestamp: int


@dataclass(frozen=True, slots=True)
class PacketLoss:
    """A discontinuity in sequence numbers between two packets fed to a depacketizer."""

    expected_sequence: int
    received_sequence: int

    @property
    def lost(self) -> int:
        """Packets missing, counting forward from the expected sequence number."""
        return (self.received_sequence - self.expected_sequence) & 0xFFFF


@dataclass(frozen=True, slots=True)
class PayloadDiscarded:
    """Data thrown away: a malformed payload or an incomplete fragmented unit, and why."""

    timestamp: int
    reason: str


PayloadEvent = VideoAccessUnit | AudioAccessUnit | PacketLoss | PayloadDiscarded
