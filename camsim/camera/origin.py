"""Where a stream's RTP sequence numbers and timestamps start, when not at random.

RFC 3550 §5.1 has both start at random, and camsim's camera draws them so. A test that wants
to see a client across the 32-bit timestamp wrap or the 16-bit sequence wrap needs them chosen
instead: an :class:`RtpOrigin` gives the first packet of every stream of a new session the
timestamp and sequence number it names, and the stream counts on from there as usual (so it
wraps after ``2**32 - timestamp`` ticks of its own clock). A stream resumed after PAUSE keeps
counting where it stopped.
"""

from __future__ import annotations

from dataclasses import dataclass

TIMESTAMP_MODULUS = 1 << 32
SEQUENCE_MODULUS = 1 << 16


@dataclass(frozen=True, slots=True)
class RtpOrigin:
    """The first RTP timestamp and sequence number of each stream; None leaves it random."""

    timestamp: int | None = None
    sequence: int | None = None

    def __post_init__(self) -> None:
        if self.timestamp is not None and not 0 <= self.timestamp < TIMESTAMP_MODULUS:
            raise ValueError(f"RTP timestamp origin {self.timestamp} is outside 0..2**32-1")
        if self.sequence is not None and not 0 <= self.sequence < SEQUENCE_MODULUS:
            raise ValueError(f"RTP sequence origin {self.sequence} is outside 0..65535")

    @classmethod
    def before_wrap(cls, seconds: float, clock_rate: int, packets: int) -> RtpOrigin:
        """The origin ``seconds`` of a ``clock_rate`` clock before the timestamp wrap, and
        ``packets`` packets before the sequence wrap."""
        ticks = round(seconds * clock_rate)
        if not 0 < ticks < TIMESTAMP_MODULUS or not 0 < packets < SEQUENCE_MODULUS:
            raise ValueError("the wrap must be within one cycle of the timestamp and sequence")
        return cls(TIMESTAMP_MODULUS - ticks, SEQUENCE_MODULUS - packets)

    @property
    def random(self) -> bool:
        return self.timestamp is None and self.sequence is None

    def timestamp_offset(self, ticks: int, drawn: int) -> int:
        """The offset that makes media time ``ticks`` (the first packet's) the origin; the
        ``drawn`` random offset when no timestamp origin is set."""
        if self.timestamp is None:
            return drawn
        return (self.timestamp - ticks) % TIMESTAMP_MODULUS

    def first_sequence(self, drawn: int) -> int:
        """The first sequence number; ``drawn`` when none is set."""
        return drawn if self.sequence is None else self.sequence


def parse_origin(text: str, modulus: int) -> int:
    """A CLI origin: a number (decimal or 0x hex), or ``-N`` for N before the wrap."""
    try:
        value = int(text, 0)
    except ValueError:
        raise ValueError(
            f"{text!r}: expected a number, e.g. 4294787296, 0xFFFD4000 or -180000"
        ) from None
    if value < 0:
        value += modulus
    if not 0 <= value < modulus:
        raise ValueError(f"{text!r} is outside 0..{modulus - 1} (or -{modulus}..-1)")
    return value
