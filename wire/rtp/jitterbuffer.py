"""A reordering buffer for one RTP source, with no timer inside.

Packets go in as they arrive and come out in sequence order. A missing packet holds back the
ones behind it until the buffer is full or the caller, who owns the clock, decides the wait is
over and calls :meth:`JitterBuffer.skip_gap`.

Where the stream starts is the one thing order alone cannot tell: the first packet to arrive
is not the first one sent when the network reorders (a keyframe goes out in a burst, and a few
milliseconds of jitter shuffle it). Taken as the start, it makes every packet sent before it
"late", and those are the parameter sets and the head of the first keyframe. RTSP announces
the first sequence number in ``RTP-Info`` (RFC 2326 §12.33; Retina forms its expectation the
same way), so the caller passes it to :meth:`JitterBuffer.expect` and the buffer waits for it
as for any missing packet.
"""

from __future__ import annotations

from wire.rtp.packet import RtpPacket
from wire.rtp.sequence import seq_diff
from wire.rtp.stats import MAX_DROPOUT, MAX_MISORDER


class JitterBuffer:
    """Reorders packets by sequence number; holds at most ``capacity`` packets.

    A packet far outside the window (more than ``MAX_DROPOUT`` ahead or more than the window
    behind) is taken for a stray from an older session and dropped, unless the next packet
    follows it in sequence: then the source restarted and the buffer follows it (the rule of
    RFC 3550 A.1).
    """

    def __init__(self, capacity: int = 128) -> None:
        if capacity < 1:
            raise ValueError(f"jitter buffer capacity must be at least 1, got {capacity}")
        self.capacity = capacity
        self._held: dict[int, RtpPacket] = {}  # keyed by extended sequence number
        self._next: int | None = None  # extended sequence number expected next
        self._stray: RtpPacket | None = None
        self._expected: int | None = None  # the announced first sequence number
        self.skipped = 0  # sequence numbers given up on
        self.dropped = 0  # duplicates, late packets and strays

    def __len__(self) -> int:
        return len(self._held)

    @property
    def has_gap(self) -> bool:
        """True when packets are held back waiting for a missing one."""
        return bool(self._held)

    def expect(self, sequence_number: int) -> None:
        """The stream is announced to start at ``sequence_number`` (``RTP-Info`` seq).

        Heeded only before the first packet, and only if that packet falls within
        ``capacity`` after it: an announcement the packets contradict (cameras announce
        numbers they never send, as retina and mediamtx report) is ignored, and the first
        packet starts the stream as it would without one.
        """
        if self._next is None:
            self._expected = sequence_number & 0xFFFF

    def push(self, packet: RtpPacket) -> list[RtpPacket]:
        """Add a packet; returns the packets that are now ready, in order."""
        if self._next is None:
            self._next = self._start(packet.sequence_number)
        delta = seq_diff(packet.sequence_number, self._next & 0xFFFF)
        if delta >= MAX_DROPOUT or delta < -max(self.capacity, MAX_MISORDER):
            return self._push_stray(packet)
        self._stray = None
        if delta < 0 or self._next + delta in self._held:
            self.dropped += 1
            return []
        self._held[self._next + delta] = packet
        ready = self._release()
        while len(self._held) > self.capacity:
            ready += self.skip_gap()
        return ready

    def skip_gap(self) -> list[RtpPacket]:
        """Give up on the missing packet(s) before the oldest held one; returns what follows."""
        if not self._held or self._next is None:
            return []
        oldest = min(self._held)
        self.skipped += oldest - self._next
        self._next = oldest
        return self._release()

    def flush(self) -> list[RtpPacket]:
        """Everything held, in order, skipping any gaps."""
        ready: list[RtpPacket] = []
        while self._held:
            ready += self.skip_gap()
        return ready

    def _start(self, sequence_number: int) -> int:
        """The sequence number expected first, given the first packet to arrive."""
        expected, self._expected = self._expected, None
        if expected is not None and 0 <= seq_diff(sequence_number, expected) < self.capacity:
            # The packets sent before this one are on their way: wait for them.
            return sequence_number - seq_diff(sequence_number, expected)
        return sequence_number

    def _release(self) -> list[RtpPacket]:
        assert self._next is not None
        ready = []
        while self._next in self._held:
            ready.append(self._held.pop(self._next))
            self._next += 1
        return ready

    def _push_stray(self, packet: RtpPacket) -> list[RtpPacket]:
        stray = self._stray
        if stray is None or seq_diff(packet.sequence_number, stray.sequence_number) != 1:
            self._stray = packet
            self.dropped += 1
            return []
        # Two packets in sequence far from the window: the source restarted.
        self._stray = None
        self.dropped -= 1
        ready = self.flush()
        base = stray.sequence_number
        self._held = {base: stray, base + 1: packet}
        self._next = base
        return ready + self._release()
