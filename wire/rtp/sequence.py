"""Modular arithmetic on 16-bit sequence numbers and 32-bit timestamps (RFC 3550 §5.1)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from wire import speedups

SEQ_MOD = 1 << 16
TIMESTAMP_MOD = 1 << 32


def seq_diff(a: int, b: int) -> int:
    """``a - b`` modulo 2^16, as a signed value in -32768..32767."""
    return ((a - b + 0x8000) & 0xFFFF) - 0x8000


def seq_lt(a: int, b: int) -> bool:
    """True when ``a`` comes before ``b`` in modular sequence order."""
    return seq_diff(a, b) < 0


def seq_add(seq: int, delta: int) -> int:
    return (seq + delta) & 0xFFFF


def timestamp_diff(a: int, b: int) -> int:
    """``a - b`` modulo 2^32, as a signed value."""
    return ((a - b + 0x8000_0000) & 0xFFFF_FFFF) - 0x8000_0000


class PyTimestampUnwrapper:
    """Extends 32-bit RTP timestamps into a monotonic-where-possible integer timeline.

    Each timestamp is taken as the nearest value to the previous one (a step of less than 2^31
    either way), so wrap-around is invisible and a jump of hours forward or back at 90 kHz
    (RFC 3550 allows any random start) moves the timeline by exactly that amount.
    """

    def __init__(self) -> None:
        self._last: int | None = None
        self._extended = 0

    def unwrap(self, timestamp: int) -> int:
        timestamp &= 0xFFFF_FFFF
        if self._last is None:
            self._extended = timestamp
        else:
            self._extended += timestamp_diff(timestamp, self._last)
        self._last = timestamp
        return self._extended

    def reset(self) -> None:
        self._last = None


# The compiled class when it is built (wire/rtp/_timeline.pyx): the same code without the frames.
_ext = speedups.extension("wire.rtp._timeline")
if TYPE_CHECKING:
    TimestampUnwrapper = PyTimestampUnwrapper
else:
    TimestampUnwrapper = _ext.TimestampUnwrapper if _ext is not None else PyTimestampUnwrapper
