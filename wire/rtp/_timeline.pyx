# cython: language_level=3
"""Compiled :class:`wire.rtp.sequence.TimestampUnwrapper` and :class:`wire.rtp.timeline.RtpTimeline`.

The references are ``PyTimestampUnwrapper`` and ``PyRtpTimeline``: same constructors, public
attributes, results and exceptions, which ``tests/unit/wire/speedups/test_timeline.py`` checks.
The code is theirs, compiled: the values stay Python integers (a timestamp may be any ``int``,
a timeline may run as long as it likes), so the arithmetic is Python's own; what goes is the
frame of each call, three of them per access unit (``ticks``, ``unwrap``, ``timestamp_diff``)
on every pulled camera's every picture and audio frame, and per RTMP message on ingest.
"""

cdef object _MASK = 0xFFFF_FFFF
cdef object _HALF = 0x8000_0000
cdef object _DEFAULT_STEP = object()  # MAX_STEP_SECONDS, read when first needed (import cycle)


cdef inline object _timestamp_diff(object a, object b):
    # wire.rtp.sequence.timestamp_diff
    return ((a - b + _HALF) & _MASK) - _HALF


cdef class TimestampUnwrapper:
    """Extends 32-bit RTP timestamps into a monotonic-where-possible integer timeline."""

    cdef object _last
    cdef object _extended

    def __init__(self):
        self._last = None
        self._extended = 0

    cpdef object unwrap(self, object timestamp):
        timestamp &= _MASK
        if self._last is None:
            self._extended = timestamp
        else:
            self._extended = self._extended + _timestamp_diff(timestamp, self._last)
        self._last = timestamp
        return self._extended

    def reset(self):
        self._last = None


cdef class RtpTimeline:
    """Timestamps of one stream in, ticks since the stream's start (same clock) out."""

    cdef public object clock_rate
    cdef public object max_step
    cdef public object jumps  # clock jumps smoothed over so far
    cdef public object announcement_ignored  # the RTP-Info disagreed with the first packet
    cdef TimestampUnwrapper _unwrapper
    cdef object _announced
    cdef object _origin
    cdef object _last
    cdef object _step

    def __init__(self, clock_rate, *, max_step=_DEFAULT_STEP):
        if max_step is _DEFAULT_STEP:
            from wire.rtp.timeline import MAX_STEP_SECONDS

            max_step = MAX_STEP_SECONDS
        if clock_rate <= 0:
            raise ValueError(f"clock rate {clock_rate} is not positive")
        self.clock_rate = clock_rate
        self.max_step = round(max_step * clock_rate)
        self.reset()

    def reset(self):
        """A new session: no announcement, no packet seen."""
        self._unwrapper = TimestampUnwrapper()
        self._announced = None
        self._origin = None
        self._last = None
        self._step = 0
        self.jumps = 0
        self.announcement_ignored = False

    def announce(self, rtptime, seq=None):
        """The ``rtptime`` (and ``seq``) the PLAY answer gives for this stream."""
        if self._origin is not None:
            self.announcement_ignored = True  # media came first: too late to anchor on it
            return
        self._announced = (rtptime & _MASK, seq)

    def first_packet(self, seq, timestamp):
        """A packet of the stream; the first one fixes where the timeline starts."""
        if self._origin is not None:
            return
        announced = self._announced
        if announced is not None:
            # Once per session; wire.rtp.sequence loads this module, so it is read here.
            from wire.rtp.sequence import seq_diff

            rtptime, announced_seq = announced
            start = self._unwrapper.unwrap(rtptime)
            offset = self._unwrapper.unwrap(timestamp) - start
            agrees = announced_seq is None or seq_diff(seq, announced_seq) == 0
            if agrees and 0 <= offset <= self.max_step:
                self._origin = start
                return
            self.announcement_ignored = True
        self._origin = self._unwrapper.unwrap(timestamp)

    def ticks(self, timestamp):
        """Where ``timestamp`` falls: ticks since the start, clock jumps taken out."""
        unwrapped = self._unwrapper.unwrap(timestamp)
        if self._origin is None:
            self._origin = unwrapped
        last = self._last
        if last is not None:
            step = unwrapped - last
            if abs(step) > self.max_step:
                self._origin = self._origin + (step - self._step)
                self.jumps = self.jumps + 1
            elif step > 0:
                self._step = step
        self._last = unwrapped
        return unwrapped - self._origin
