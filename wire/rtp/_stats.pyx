# cython: language_level=3, embedsignature=True
"""Compiled :class:`wire.rtp.stats.ReceiverStatistics` (RFC 3550 Appendix A.1, A.3 and A.8).

The reference is ``PyReceiverStatistics`` in :mod:`wire.rtp.stats`: same constructor, attributes,
properties and methods, the same results (the float jitter bit for bit) and the same exceptions;
the differential tests in ``tests/unit/wire/speedups/test_stats.py`` hold it to that. The state
lives in C integers and doubles, and ``update`` (once per RTP packet) runs on them without
creating a Python object.

That needs inputs of the kind RTP carries: a sequence number 0..0xFFFF and a timestamp
0..0xFFFFFFFF as exact ``int``, an arrival that is a ``float`` or an ``int`` within 2^60, and
attributes written by the caller holding the types the class itself stores (an ``int`` within
2^60, a ``float`` jitter, a transit that is None, such an ``int`` or a ``float``). Anything else (a
negative or out-of-range number, a numpy scalar, a bool, a jitter set to an ``int``) hands the
object's state over to a ``PyReceiverStatistics`` once, and that object then does all the work:
what the pure code does with such inputs is by definition the answer, and this one is exact.
"""

cimport cython
from cpython.long cimport PyLong_AsLongLongAndOverflow
from libc.math cimport copysign, fabs, fmod
from libc.stdlib cimport llabs

from wire.rtp.ntp import ntp_middle32, seconds_to_ntp_short
from wire.rtp.rtcp import ReportBlock

cdef enum:
    MAX_DROPOUT = 3000
    MAX_MISORDER = 100
    SEQ_MOD = 1 << 16
    _LOST_MAX = 0x7FFFFF
    _LOST_MIN = -0x800000

MIN_SEQUENTIAL = 2

# Integers the C state takes from the caller: within 2^60, so that no sum or difference the
# algorithms form with them leaves 64 bits.
cdef long long _INT_LIMIT = 1LL << 60
# ``cycles`` grows by 2^16 per wrap; past this the next packet is left to the pure code.
cdef long long _CYCLES_LIMIT = 1LL << 62
cdef long long _HALF = 1LL << 31
cdef double _HALF_F = 2147483648.0
cdef double _TIMESTAMP_MOD_F = 4294967296.0

cdef enum Transit:
    NO_TRANSIT = 0  # None: no packet yet since the last (re)start
    INT_TRANSIT = 1  # arrival and timestamp were both int: Python keeps the difference exact
    FLOAT_TRANSIT = 2


cdef inline bint _int_within(object value, long long low, long long high, long long* out):
    """Whether ``value`` is an exact ``int`` in low..high, stored in ``out`` when it is."""
    cdef int overflow = 0
    cdef long long number
    if type(value) is not int:
        return False
    number = PyLong_AsLongLongAndOverflow(value, &overflow)
    if overflow or number < low or number > high:
        return False
    out[0] = number
    return True


cdef inline double _float_mod(double x, double y) noexcept:
    """Python's ``x % y`` on floats (CPython's ``float_rem``): the sign of the divisor."""
    cdef double mod = fmod(x, y)
    if mod:
        if (y < 0) != (mod < 0):
            mod += y
    else:
        mod = copysign(0.0, y)
    return mod


cdef class ReceiverStatistics:
    """Reception state of one synchronization source, as seen by a receiver.

    ``update()`` per RTP packet, ``on_sender_report()`` per SR from the source, and
    ``report_block(now)`` when an RR or SR is sent. Packets of another session that keep
    arriving with unrelated sequence numbers are rejected by the A.1 rules until two of them
    arrive in sequence, which the RFC treats as a restarted source.
    """

    cdef object _ssrc
    cdef long long _min_sequential
    cdef long long _max_seq
    cdef long long _cycles
    cdef long long _base_seq
    cdef long long _bad_seq
    cdef long long _probation
    cdef long long _received
    cdef long long _expected_prior
    cdef long long _received_prior
    cdef Transit _transit_kind
    cdef long long _transit_int
    cdef double _transit_float
    cdef double _jitter
    cdef bint _started
    cdef object _last_sr
    cdef object _last_sr_arrival
    # The pure-Python reference holding the state once an input left the C domain, else None.
    cdef object _reference

    def __init__(self, ssrc, *, min_sequential=MIN_SEQUENTIAL):
        cdef long long minimum = 0
        self._ssrc = ssrc
        self._last_sr = None
        self._last_sr_arrival = 0.0
        self._reference = None
        if not _int_within(min_sequential, -_INT_LIMIT, _INT_LIMIT, &minimum):
            from wire.rtp.stats import PyReceiverStatistics

            self._reference = PyReceiverStatistics(ssrc, min_sequential=min_sequential)
            return
        self._min_sequential = minimum
        self._max_seq = 0
        self._cycles = 0
        self._base_seq = 0
        self._bad_seq = SEQ_MOD + 1
        self._probation = minimum
        self._received = 0
        self._expected_prior = 0
        self._received_prior = 0
        self._transit_kind = NO_TRANSIT
        self._jitter = 0.0
        self._started = False

    cdef object _fall_back(self):
        """The pure-Python object with this one's state, which holds it from now on."""
        if self._reference is not None:
            return self._reference
        from wire.rtp.stats import PyReceiverStatistics

        reference = PyReceiverStatistics.__new__(PyReceiverStatistics)
        reference.ssrc = self._ssrc
        reference._min_sequential = self._min_sequential
        reference.max_seq = self._max_seq
        reference.cycles = self._cycles
        reference.base_seq = self._base_seq
        reference.bad_seq = self._bad_seq
        reference.probation = self._probation
        reference.received = self._received
        reference.expected_prior = self._expected_prior
        reference.received_prior = self._received_prior
        reference.transit = self._transit()
        reference.jitter = self._jitter
        reference._started = self._started
        reference._last_sr = self._last_sr
        reference._last_sr_arrival = self._last_sr_arrival
        self._reference = reference
        return reference

    cdef object _transit(self):
        if self._transit_kind == INT_TRANSIT:
            return self._transit_int
        if self._transit_kind == FLOAT_TRANSIT:
            return self._transit_float
        return None

    # -- attributes: the C fields, or the reference's once it holds the state ------------------

    @property
    def ssrc(self):
        return self._ssrc if self._reference is None else self._reference.ssrc

    @ssrc.setter
    def ssrc(self, value):
        if self._reference is None:
            self._ssrc = value
        else:
            self._reference.ssrc = value

    @property
    def max_seq(self):
        return self._max_seq if self._reference is None else self._reference.max_seq

    @max_seq.setter
    def max_seq(self, value):
        if self._reference is not None or not _int_within(
            value, -_INT_LIMIT, _INT_LIMIT, &self._max_seq
        ):
            self._fall_back().max_seq = value

    @property
    def cycles(self):
        return self._cycles if self._reference is None else self._reference.cycles

    @cycles.setter
    def cycles(self, value):
        if self._reference is not None or not _int_within(
            value, -_INT_LIMIT, _INT_LIMIT, &self._cycles
        ):
            self._fall_back().cycles = value

    @property
    def base_seq(self):
        return self._base_seq if self._reference is None else self._reference.base_seq

    @base_seq.setter
    def base_seq(self, value):
        if self._reference is not None or not _int_within(
            value, -_INT_LIMIT, _INT_LIMIT, &self._base_seq
        ):
            self._fall_back().base_seq = value

    @property
    def bad_seq(self):
        return self._bad_seq if self._reference is None else self._reference.bad_seq

    @bad_seq.setter
    def bad_seq(self, value):
        if self._reference is not None or not _int_within(
            value, -_INT_LIMIT, _INT_LIMIT, &self._bad_seq
        ):
            self._fall_back().bad_seq = value

    @property
    def probation(self):
        return self._probation if self._reference is None else self._reference.probation

    @probation.setter
    def probation(self, value):
        if self._reference is not None or not _int_within(
            value, -_INT_LIMIT, _INT_LIMIT, &self._probation
        ):
            self._fall_back().probation = value

    @property
    def received(self):
        return self._received if self._reference is None else self._reference.received

    @received.setter
    def received(self, value):
        if self._reference is not None or not _int_within(
            value, -_INT_LIMIT, _INT_LIMIT, &self._received
        ):
            self._fall_back().received = value

    @property
    def expected_prior(self):
        if self._reference is not None:
            return self._reference.expected_prior
        return self._expected_prior

    @expected_prior.setter
    def expected_prior(self, value):
        if self._reference is not None or not _int_within(
            value, -_INT_LIMIT, _INT_LIMIT, &self._expected_prior
        ):
            self._fall_back().expected_prior = value

    @property
    def received_prior(self):
        if self._reference is not None:
            return self._reference.received_prior
        return self._received_prior

    @received_prior.setter
    def received_prior(self, value):
        if self._reference is not None or not _int_within(
            value, -_INT_LIMIT, _INT_LIMIT, &self._received_prior
        ):
            self._fall_back().received_prior = value

    @property
    def transit(self):
        return self._transit() if self._reference is None else self._reference.transit

    @transit.setter
    def transit(self, value):
        if self._reference is None:
            if value is None:
                self._transit_kind = NO_TRANSIT
                return
            if type(value) is float:
                self._transit_float = value
                self._transit_kind = FLOAT_TRANSIT
                return
            if _int_within(value, -_INT_LIMIT, _INT_LIMIT, &self._transit_int):
                self._transit_kind = INT_TRANSIT
                return
        self._fall_back().transit = value

    @property
    def jitter(self):
        return self._jitter if self._reference is None else self._reference.jitter

    @jitter.setter
    def jitter(self, value):
        if self._reference is None and type(value) is float:
            self._jitter = value
        else:
            self._fall_back().jitter = value

    # -- derived figures --------------------------------------------------------------------------

    @property
    def valid(self):
        """True once the source has passed probation."""
        if self._reference is not None:
            return self._reference.valid
        return self._started and self._probation == 0

    @property
    def extended_max_sequence(self):
        if self._reference is not None:
            return self._reference.extended_max_sequence
        cdef object cycles = self._cycles  # a Python int: the sum may leave 64 bits
        return cycles + self._max_seq

    @property
    def expected(self):
        if self._reference is not None:
            return self._reference.expected
        if not (self._started and self._probation == 0):
            return 0
        cdef object extended = self.extended_max_sequence
        return extended - self._base_seq + 1

    @property
    def lost(self):
        """Cumulative packets lost; negative when duplicates arrived (A.3)."""
        if self._reference is not None:
            return self._reference.lost
        cdef object expected = self.expected
        return expected - self._received

    # -- per packet -------------------------------------------------------------------------------

    def update(self, seq, timestamp, arrival):
        """Account for one RTP packet; False when it must not count for this source.

        ``arrival`` is the arrival time in RTP timestamp units (seconds x clock rate).
        """
        cdef long long s = 0
        cdef long long ts = 0
        cdef long long arrival_int = 0
        cdef double arrival_float = 0.0
        cdef bint float_arrival = type(arrival) is float
        if (
            self._reference is not None
            or self._cycles >= _CYCLES_LIMIT
            or not _int_within(seq, 0, 0xFFFF, &s)
            or not _int_within(timestamp, 0, 0xFFFFFFFF, &ts)
            or not (
                float_arrival or _int_within(arrival, -_INT_LIMIT, _INT_LIMIT, &arrival_int)
            )
        ):
            return self._fall_back().update(seq, timestamp, arrival)
        if float_arrival:
            arrival_float = arrival
        if not self._started:
            self._init_seq(s)
            self._started = True
            if self._probation:
                self._max_seq = (s - 1) & 0xFFFF
            else:
                self._received = 1
                self._update_jitter(ts, float_arrival, arrival_int, arrival_float)
                return True
        if not self._update_seq(s):
            return False
        self._update_jitter(ts, float_arrival, arrival_int, arrival_float)
        return True

    @cython.final
    cdef inline void _init_seq(self, long long seq) noexcept:
        self._base_seq = seq
        self._max_seq = seq
        self._bad_seq = SEQ_MOD + 1  # so seq == bad_seq is false
        self._cycles = 0
        self._received = 0
        self._received_prior = 0
        self._expected_prior = 0
        self._transit_kind = NO_TRANSIT

    @cython.final
    cdef inline bint _update_seq(self, long long seq) noexcept:
        # A.1. ``&`` on the two's complement long long is Python's ``&`` on int, and every
        # operand is within 2^62 (``_INT_LIMIT``, ``_CYCLES_LIMIT``), so nothing overflows.
        cdef long long udelta = (seq - self._max_seq) & 0xFFFF
        if self._probation:
            # Source not valid until MIN_SEQUENTIAL packets in sequence have been received.
            if seq == (self._max_seq + 1) & 0xFFFF:
                self._probation -= 1
                self._max_seq = seq
                if self._probation == 0:
                    self._init_seq(seq)
                    self._received += 1
                    return True
            else:
                self._probation = self._min_sequential - 1
                self._max_seq = seq
            return False
        if udelta < MAX_DROPOUT:
            # In order, with permissible gap.
            if seq < self._max_seq:
                self._cycles += SEQ_MOD
            self._max_seq = seq
        elif udelta <= SEQ_MOD - MAX_MISORDER:
            # The sequence number made a very large jump.
            if seq == self._bad_seq:
                # Two sequential packets: assume the other side restarted without telling us.
                self._init_seq(seq)
            else:
                self._bad_seq = (seq + 1) & 0xFFFF
                return False
        # else: duplicate or reordered packet, counted as received (A.1)
        self._received += 1
        return True

    @cython.final
    cdef inline void _update_jitter(
        self, long long timestamp, bint float_arrival, long long arrival_int, double arrival_float
    ) noexcept:
        # A.8: transit times differ by a constant offset; only their change matters. Python
        # keeps ``arrival - timestamp`` an exact int when the arrival is an int, a float
        # otherwise; an int operand meeting a float is converted to double first, as here.
        cdef long long transit_int = arrival_int - timestamp
        cdef double transit_float = arrival_float - <double>timestamp
        cdef double current, previous, d
        if self._transit_kind != NO_TRANSIT:
            # Fold into ±2^31 so a timestamp wrap-around between two packets is harmless.
            if not float_arrival and self._transit_kind == INT_TRANSIT:
                # int % 2^32 is int & 0xFFFFFFFF; |d| <= 2^31 is exact as a double.
                d = <double>llabs(((transit_int - self._transit_int + _HALF) & 0xFFFFFFFF) - _HALF)
            else:
                current = transit_float if float_arrival else <double>transit_int
                if self._transit_kind == INT_TRANSIT:
                    previous = <double>self._transit_int
                else:
                    previous = self._transit_float
                d = fabs(_float_mod(current - previous + _HALF_F, _TIMESTAMP_MOD_F) - _HALF_F)
            self._jitter += (d - self._jitter) / 16.0
        if float_arrival:
            self._transit_float = transit_float
            self._transit_kind = FLOAT_TRANSIT
        else:
            self._transit_int = transit_int
            self._transit_kind = INT_TRANSIT

    # -- per RTCP report --------------------------------------------------------------------------

    def on_sender_report(self, report, now):
        """Remember the SR's NTP time and its arrival (``now``, seconds) for LSR/DLSR."""
        if self._reference is not None:
            return self._reference.on_sender_report(report, now)
        self._last_sr = ntp_middle32(report.ntp_timestamp)
        self._last_sr_arrival = now

    def report_block(self, now):
        """The reception report for this source, closing the current interval (A.3).

        None until the source is valid: there is nothing to report yet.
        """
        if self._reference is not None:
            return self._reference.report_block(now)
        if not (self._started and self._probation == 0):
            return None
        # Python ints from here on, as in the reference: the figures may leave 64 bits.
        cdef object received = self._received
        cdef object expected = self.expected
        lost = max(_LOST_MIN, min(expected - received, _LOST_MAX))
        expected_interval = expected - self._expected_prior
        self._expected_prior = expected  # below 2^63: its parts are within 2^62
        received_interval = received - self._received_prior
        self._received_prior = received
        lost_interval = expected_interval - received_interval
        if expected_interval == 0 or lost_interval <= 0:
            fraction = 0
        else:
            fraction = (lost_interval << 8) // expected_interval
        lsr = dlsr = 0
        if self._last_sr is not None:
            lsr = self._last_sr
            dlsr = seconds_to_ntp_short(now - self._last_sr_arrival)
        cdef object jitter = self._jitter  # Python's int(float): NaN and infinity raise
        return ReportBlock(
            ssrc=self._ssrc,
            fraction_lost=fraction,
            packets_lost=lost,
            highest_sequence=self.extended_max_sequence & 0xFFFF_FFFF,
            jitter=int(jitter),
            lsr=lsr,
            dlsr=dlsr,
        )

