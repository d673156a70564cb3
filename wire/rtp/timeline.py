"""The media timeline of one received RTP stream: where each timestamp falls, in clock ticks.

RTP timestamps start at a random value and wrap (RFC 3550 §5.1); a receiver wants a count of
ticks from the start of what it plays. The start is the ``rtptime`` of the stream's ``RTP-Info``
(RFC 2326 §12.33) when the camera's PLAY answer gives one and the first packet agrees with it,
else the first packet's own timestamp: cameras announce values their packets do not carry
(Hikvision, Tapo; retina), and a first packet that comes before the announced start, or with
another sequence number than announced, proves the announcement wrong.

A step of more than ``max_step`` seconds between successive timestamps is not media time but a
camera whose clock was reset (NTP mid-stream, mediamtx PR #6255): the timeline carries on one
step after the last timestamp, as if the jump never happened, instead of opening a gap of hours.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from wire import speedups
from wire.rtp.sequence import PyTimestampUnwrapper, seq_diff

MAX_STEP_SECONDS = 10.0
"""Longer than any pause a camera recovers from: a media timeout ends the session first."""


class PyRtpTimeline:
    """Timestamps of one stream in, ticks since the stream's start (same clock) out.

    Call :meth:`announce` with the stream's ``RTP-Info`` (optional), :meth:`first_packet`
    with every packet (only the first one counts), then :meth:`ticks` with each access unit's
    timestamp in order.
    """

    def __init__(self, clock_rate: int, *, max_step: float = MAX_STEP_SECONDS) -> None:
        if clock_rate <= 0:
            raise ValueError(f"clock rate {clock_rate} is not positive")
        self.clock_rate = clock_rate
        self.max_step = round(max_step * clock_rate)
        self.reset()

    def reset(self) -> None:
        """A new session: no announcement, no packet seen."""
        self._unwrapper = PyTimestampUnwrapper()
        self._announced: tuple[int, int | None] | None = None
        self._origin: int | None = None
        self._last: int | None = None
        self._step = 0
        self.jumps = 0
        """Clock jumps smoothed over so far."""
        self.announcement_ignored = False
        """The ``RTP-Info`` disagreed with the first packet (or came after it)."""

    def announce(self, rtptime: int, seq: int | None = None) -> None:
        """The ``rtptime`` (and ``seq``) the PLAY answer gives for this stream."""
        if self._origin is not None:
            self.announcement_ignored = True  # media came first: too late to anchor on it
            return
        self._announced = (rtptime & 0xFFFF_FFFF, seq)

    def first_packet(self, seq: int, timestamp: int) -> None:
        """A packet of the stream; the first one fixes where the timeline starts."""
        if self._origin is not None:
            return
        announced = self._announced
        if announced is not None:
            rtptime, announced_seq = announced
            start = self._unwrapper.unwrap(rtptime)
            offset = self._unwrapper.unwrap(timestamp) - start
            agrees = announced_seq is None or seq_diff(seq, announced_seq) == 0
            if agrees and 0 <= offset <= self.max_step:
                self._origin = start
                return
            self.announcement_ignored = True
        self._origin = self._unwrapper.unwrap(timestamp)

    def ticks(self, timestamp: int) -> int:
        """Where ``timestamp`` falls: ticks since the start, clock jumps taken out."""
        unwrapped = self._unwrapper.unwrap(timestamp)
        if self._origin is None:
            self._origin = unwrapped
        last = self._last
        if last is not None:
            step = unwrapped - last
            if abs(step) > self.max_step:
                self._origin += step - self._step
                self.jumps += 1
            elif step > 0:
                self._step = step
        self._last = unwrapped
        return unwrapped - self._origin


# The compiled class when it is built (wire/rtp/_timeline.pyx): the same code without the frames.
_ext = speedups.extension("wire.rtp._timeline")
if TYPE_CHECKING:
    RtpTimeline = PyRtpTimeline
else:
    RtpTimeline = _ext.RtpTimeline if _ext is not None else PyRtpTimeline
