"""TCP reassembly, one direction at a time (RFC 9293 sequence space).

:class:`TcpDirection` turns the segments of one direction, in capture order, into the byte
stream the receiving application read: a retransmission is dropped, an overlap delivers only its
new tail, an out-of-order segment waits for the bytes before it. Bytes the capture never saw
become a :class:`Hole`, reported to the sink with the packet numbers around it, and the stream
goes on after it (the parser above resynchronises at the next message boundary it can find).

A hole is declared as soon as it is certain: when the peer has acknowledged bytes that were never
captured (the capture missed them; no retransmission will come), when the segments waiting
behind it exceed a bound, or when the connection ends. Sequence numbers are compared modulo
2^32, so a stream may wrap.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from camsim.pcap.packet import TCP_FIN, TCP_RST, TCP_SYN

MAX_PENDING_BYTES = 4 * 1024 * 1024
MAX_PENDING_SEGMENTS = 4096


def seq_distance(a: int, b: int) -> int:
    """``a - b`` in TCP sequence space, as a signed 32-bit value."""
    return ((a - b + 0x8000_0000) & 0xFFFF_FFFF) - 0x8000_0000


@dataclass(frozen=True, slots=True)
class Hole:
    """Bytes of a stream the capture does not have."""

    offset: int
    """Stream offset of the first missing byte."""
    size: int
    after_packet: int
    """The last packet whose bytes came before the hole (0 if none)."""
    before_packet: int
    """The packet whose bytes come right after it (0 at the end of the stream)."""


class StreamSink(Protocol):
    """Where a direction's reassembled bytes go."""

    def data(self, chunk: bytes, number: int, time: float) -> None:
        """Bytes in stream order, from the packet ``number`` captured at ``time``."""

    def hole(self, hole: Hole) -> None:
        """Bytes the capture misses; the next :meth:`data` continues after them."""


@dataclass
class DirectionCounters:
    segments: int = 0
    bytes: int = 0
    retransmissions: int = 0
    out_of_order: int = 0
    overlaps: int = 0
    missing_bytes: int = 0


class TcpDirection:
    """The bytes one endpoint sent, reassembled."""

    def __init__(
        self,
        sink: StreamSink,
        *,
        max_pending_bytes: int = MAX_PENDING_BYTES,
        max_pending_segments: int = MAX_PENDING_SEGMENTS,
    ) -> None:
        self.sink = sink
        self.max_pending_bytes = max_pending_bytes
        self.max_pending_segments = max_pending_segments
        self.counters = DirectionCounters()
        self.holes: list[Hole] = []
        self.next_seq: int | None = None
        """Sequence number of the next byte to deliver."""
        self.offset = 0
        """Stream offset of the next byte to deliver (bytes delivered plus holes)."""
        self.syn_seen = False
        self.fin_seq: int | None = None
        self.reset = False
        self.first_packet = 0
        self.last_packet = 0
        self._last_delivered = 0
        self._acked: int | None = None
        self._pending: dict[int, tuple[bytes, int, float]] = {}
        self._pending_bytes = 0

    def segment(self, seq: int, flags: int, data: bytes, number: int, time: float) -> None:
        """One captured segment of this direction."""
        counters = self.counters
        counters.segments += 1
        if not self.first_packet:
            self.first_packet = number
        self.last_packet = number
        if flags & TCP_SYN:
            if not self.syn_seen or self.next_seq is None:
                self.syn_seen = True
                self.next_seq = (seq + 1) & 0xFFFF_FFFF
            seq = (seq + 1) & 0xFFFF_FFFF  # data on a SYN follows the SYN's sequence number
        if flags & TCP_RST:
            self.reset = True
        if flags & TCP_FIN:
            self.fin_seq = (seq + len(data)) & 0xFFFF_FFFF
        if not data:
            return
        if self.next_seq is None:
            self.next_seq = seq  # the capture started in the middle of the connection
        counters.bytes += len(data)
        distance = seq_distance(seq, self.next_seq)
        if distance > 0:
            self._hold(seq, data, number, time)
            if self._acked is not None and seq_distance(self._acked, seq) >= 0:
                # The peer already had the bytes before this segment: they will not come again.
                self._skip_to_pending()
            elif (
                self._pending_bytes > self.max_pending_bytes
                or len(self._pending) > self.max_pending_segments
            ):
                self._skip_to_pending()
            return
        if distance + len(data) <= 0:
            counters.retransmissions += 1
            return
        if distance < 0:
            counters.overlaps += 1
            data = data[-distance:]
        self._deliver(data, number, time)
        if self._pending:
            self._drain()

    def acked(self, ack: int) -> None:
        """The other direction acknowledged ``ack``: bytes before it reached the peer."""
        if self._acked is None or seq_distance(ack, self._acked) > 0:
            self._acked = ack
        if self._pending and self.next_seq is not None:
            next_seq = self.next_seq
            earliest = min(self._pending, key=lambda s: seq_distance(s, next_seq))
            if seq_distance(ack, earliest) >= 0:
                # The peer has the bytes before a segment still held: the capture missed them.
                self._skip_to_pending()

    def finish(self) -> None:
        """End of the connection or of the capture: whatever waits behind a hole goes out."""
        while self._pending:
            self._skip_to_pending()
        if self.next_seq is None or self._acked is None:
            return
        missing = seq_distance(self._acked, self.next_seq)
        if self.fin_seq is not None and seq_distance(self._acked, self.fin_seq) > 0:
            missing -= 1  # the FIN takes a sequence number but carries no byte
        if missing > 0:
            self._report_hole(missing, 0)
            self.next_seq = (self.next_seq + missing) & 0xFFFF_FFFF

    @property
    def complete(self) -> bool:
        """True when the stream had no hole."""
        return not self.holes

    def _deliver(self, data: bytes, number: int, time: float) -> None:
        assert self.next_seq is not None
        self.next_seq = (self.next_seq + len(data)) & 0xFFFF_FFFF
        self.offset += len(data)
        self._last_delivered = number
        self.sink.data(data, number, time)

    def _hold(self, seq: int, data: bytes, number: int, time: float) -> None:
        held = self._pending.get(seq)
        if held is None:
            self.counters.out_of_order += 1
        else:
            self.counters.retransmissions += 1  # a segment already waiting, sent again
            if len(held[0]) >= len(data):
                return
            self._pending_bytes -= len(held[0])
        self._pending[seq] = (data, number, time)
        self._pending_bytes += len(data)

    def _drain(self) -> None:
        """Deliver held segments that now continue the stream."""
        progress = True
        while progress and self._pending:
            progress = False
            assert self.next_seq is not None
            for seq in list(self._pending):
                distance = seq_distance(seq, self.next_seq)
                if distance > 0:
                    continue
                data, number, time = self._pending.pop(seq)
                self._pending_bytes -= len(data)
                if distance + len(data) <= 0:
                    self.counters.retransmissions += 1
                    continue
                if distance < 0:
                    self.counters.overlaps += 1
                    data = data[-distance:]
                self._deliver(data, number, time)
                progress = True

    def _skip_to_pending(self) -> None:
        """Declare the hole before the earliest held segment and go on from it."""
        assert self.next_seq is not None
        next_seq = self.next_seq
        seq = min(self._pending, key=lambda s: seq_distance(s, next_seq))
        size = seq_distance(seq, next_seq)
        if size > 0:
            self._report_hole(size, self._pending[seq][1])
            self.next_seq = seq
        self._drain()

    def _report_hole(self, size: int, before: int) -> None:
        hole = Hole(self.offset, size, self._last_delivered, before)
        self.holes.append(hole)
        self.counters.missing_bytes += size
        self.offset += size
        self.sink.hole(hole)
