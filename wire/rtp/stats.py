"""Per-source reception statistics (RFC 3550 Appendix A.1, A.3 and A.8).

The algorithms follow the RFC's reference C code line by line; the variable names are the
RFC's. No clock: the caller passes each packet's arrival time in RTP clock units (for jitter)
and ``now`` in seconds when a report block is due (for DLSR).

``PyReceiverStatistics`` is the pure-Python reference; ``ReceiverStatistics`` is the compiled
class of ``wire/rtp/_stats.pyx`` when it is built (same attributes, results and exceptions, see
:mod:`wire.speedups`), this one otherwise.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from wire import speedups
from wire.rtp.ntp import ntp_middle32, seconds_to_ntp_short
from wire.rtp.rtcp import ReportBlock, RtcpSenderReport
from wire.rtp.sequence import SEQ_MOD, TIMESTAMP_MOD

MAX_DROPOUT = 3000
MAX_MISORDER = 100
MIN_SEQUENTIAL = 2

_LOST_MAX = 0x7FFFFF
_LOST_MIN = -0x800000
_HALF = TIMESTAMP_MOD // 2


class PyReceiverStatistics:
    """Reception state of one synchronization source, as seen by a receiver.

    ``update()`` per RTP packet, ``on_sender_report()`` per SR from the source, and
    ``report_block(now)`` when an RR or SR is sent. Packets of another session that keep
    arriving with unrelated sequence numbers are rejected by the A.1 rules until two of them
    arrive in sequence, which the RFC treats as a restarted source.
    """

    def __init__(self, ssrc: int, *, min_sequential: int = MIN_SEQUENTIAL) -> None:
        self.ssrc = ssrc
        self._min_sequential = min_sequential
        self.max_seq = 0
        self.cycles = 0
        self.base_seq = 0
        self.bad_seq = SEQ_MOD + 1
        self.probation = min_sequential
        self.received = 0
        self.expected_prior = 0
        self.received_prior = 0
        self.transit: float | None = None
        self.jitter = 0.0
        self._started = False
        self._last_sr: int | None = None
        self._last_sr_arrival = 0.0

    @property
    def valid(self) -> bool:
        """True once the source has passed probation."""
        return self._started and self.probation == 0

    @property
    def extended_max_sequence(self) -> int:
        return self.cycles + self.max_seq

    @property
    def expected(self) -> int:
        return self.extended_max_sequence - self.base_seq + 1 if self.valid else 0

    @property
    def lost(self) -> int:
        """Cumulative packets lost; negative when duplicates arrived (A.3)."""
        return self.expected - self.received

    def update(self, seq: int, timestamp: int, arrival: float) -> bool:
        """Account for one RTP packet; False when it must not count for this source.

        ``arrival`` is the arrival time in RTP timestamp units (seconds x clock rate).
        """
        if not self._started:
            self._init_seq(seq)
            self._started = True
            if self.probation:
                self.max_seq = (seq - 1) & 0xFFFF
            else:
                self.received = 1
                self._update_jitter(timestamp, arrival)
                return True
        if not self._update_seq(seq):
            return False
        self._update_jitter(timestamp, arrival)
        return True

    def on_sender_report(self, report: RtcpSenderReport, now: float) -> None:
        """Remember the SR's NTP time and its arrival (``now``, seconds) for LSR/DLSR."""
        self._last_sr = ntp_middle32(report.ntp_timestamp)
        self._last_sr_arrival = now

    def report_block(self, now: float) -> ReportBlock | None:
        """The reception report for this source, closing the current interval (A.3).

        None until the source is valid: there is nothing to report yet.
        """
        if not self.valid:
            return None
        expected = self.expected
        lost = max(_LOST_MIN, min(expected - self.received, _LOST_MAX))
        expected_interval = expected - self.expected_prior
        self.expected_prior = expected
        received_interval = self.received - self.received_prior
        self.received_prior = self.received
        lost_interval = expected_interval - received_interval
        if expected_interval == 0 or lost_interval <= 0:
            fraction = 0
        else:
            fraction = (lost_interval << 8) // expected_interval
        lsr = dlsr = 0
        if self._last_sr is not None:
            lsr = self._last_sr
            dlsr = seconds_to_ntp_short(now - self._last_sr_arrival)
        return ReportBlock(
            ssrc=self.ssrc,
            fraction_lost=fraction,
            packets_lost=lost,
            highest_sequence=self.extended_max_sequence & 0xFFFF_FFFF,
            jitter=int(self.jitter),
            lsr=lsr,
            dlsr=dlsr,
        )

    def _init_seq(self, seq: int) -> None:
        self.base_seq = seq
        self.max_seq = seq
        self.bad_seq = SEQ_MOD + 1  # so seq == bad_seq is false
        self.cycles = 0
        self.received = 0
        self.received_prior = 0
        self.expected_prior = 0
        self.transit = None

    def _update_seq(self, seq: int) -> bool:
        udelta = (seq - self.max_seq) & 0xFFFF
        if self.probation:
            # Source not valid until MIN_SEQUENTIAL packets in sequence have been received.
            if seq == (self.max_seq + 1) & 0xFFFF:
                self.probation -= 1
                self.max_seq = seq
                if self.probation == 0:
                    self._init_seq(seq)
                    self.received += 1
                    return True
            else:
                self.probation = self._min_sequential - 1
                self.max_seq = seq
            return False
        if udelta < MAX_DROPOUT:
            # In order, with permissible gap.
            if seq < self.max_seq:
                self.cycles += SEQ_MOD
            self.max_seq = seq
        elif udelta <= SEQ_MOD - MAX_MISORDER:
            # The sequence number made a very large jump.
            if seq == self.bad_seq:
                # Two sequential packets: assume the other side restarted without telling us.
                self._init_seq(seq)
            else:
                self.bad_seq = (seq + 1) & 0xFFFF
                return False
        # else: duplicate or reordered packet, counted as received (A.1)
        self.received += 1
        return True

    def _update_jitter(self, timestamp: int, arrival: float) -> None:
        # A.8: transit times differ by a constant offset; only their change matters.
        transit = arrival - timestamp
        if self.transit is not None:
            # Fold into ±2^31 so a timestamp wrap-around between two packets is harmless.
            d = abs((transit - self.transit + _HALF) % TIMESTAMP_MOD - _HALF)
            self.jitter += (d - self.jitter) / 16
        self.transit = transit


# The compiled class when it is built: same constructor, attributes, results and exceptions.
_ext = speedups.extension("wire.rtp._stats")
if TYPE_CHECKING:
    ReceiverStatistics = PyReceiverStatistics
else:
    ReceiverStatistics = _ext.ReceiverStatistics if _ext is not None else PyReceiverStatistics
