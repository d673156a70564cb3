# cython: language_level=3
"""Compiled framing of a camera's RTP burst for the RTSP connection (RFC 2326 §10.12).

The reference is ``_frame_interleaved_py`` in :mod:`camsim.camera.sender`: same arguments,
result and exceptions. The fast path takes what the camera's senders pass (a tuple of
``(head, payload)`` pairs, exact ints in range, payloads that are contiguous byte buffers) and
writes the whole burst into one new ``bytes`` object; anything else runs :func:`_reference`, the
reference's own steps, so malformed input fails exactly as it does there.
"""

import struct
from itertools import islice

from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_CheckBuffer, PyObject_GetBuffer
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from cpython.long cimport PyLong_AsLong, PyLong_AsLongLongAndOverflow, PyLong_CheckExact
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from cpython.object cimport PyObject_Size
from cpython.tuple cimport PyTuple_CheckExact
from libc.string cimport memcpy

cdef enum:
    INTERLEAVED_MAGIC = 0x24  # "$"
    FRAME_HEADER_SIZE = 4  # "$", channel, 16-bit length
    RTP_HEADER_SIZE = 12  # the fixed header, no CSRC (RFC 3550 §5.1)
    HEADERS_SIZE = FRAME_HEADER_SIZE + RTP_HEADER_SIZE
    MAX_FRAME_LENGTH = 0xFFFF  # the length field is 16 bits

_FRAMED_RTP_HEADER = struct.Struct("!BBHHHII")


def _reference(packets, channel, sequence, timestamp, ssrc):
    """The pure reference's steps, for input the fast path does not take."""
    pack = _FRAMED_RTP_HEADER.pack
    parts = []
    for item in packets:
        head, payload = _pair(item)
        size = RTP_HEADER_SIZE + len(payload)
        parts.append(pack(INTERLEAVED_MAGIC, channel, size, head, sequence, timestamp, ssrc))
        parts.append(payload)
        sequence = (sequence + 1) & 0xFFFF
    return b"".join(parts)


def _pair(item):
    """``head, payload = item`` as the interpreter does it, messages included (Cython's own
    unpacking words its errors differently)."""
    if PyTuple_CheckExact(item) and len(<tuple>item) == 2:
        return item
    try:
        iterator = iter(item)
    except TypeError:
        raise TypeError(f"cannot unpack non-iterable {type(item).__name__} object") from None
    values = list(islice(iterator, 3))
    if len(values) < 2:
        raise ValueError(f"not enough values to unpack (expected 2, got {len(values)})")
    if len(values) > 2:
        raise ValueError("too many values to unpack (expected 2)")
    return values


cdef inline bint _in_range(object value, long long limit):
    """``value`` is an exact int in [0, limit] (anything else goes to the reference)."""
    cdef int overflow = 0
    if not PyLong_CheckExact(value):
        return False
    cdef long long number = PyLong_AsLongLongAndOverflow(value, &overflow)
    return overflow == 0 and 0 <= number <= limit


cdef inline void _put16(unsigned char* p, unsigned int value) noexcept:
    p[0] = (value >> 8) & 0xFF
    p[1] = value & 0xFF


cdef inline void _put32(unsigned char* p, unsigned long value) noexcept:
    p[0] = (value >> 24) & 0xFF
    p[1] = (value >> 16) & 0xFF
    p[2] = (value >> 8) & 0xFF
    p[3] = value & 0xFF


def frame_interleaved(packets, channel, sequence, timestamp, ssrc):
    """``$``-framed RTP packets numbered from ``sequence``, as one ``bytes``."""
    if not (
        PyTuple_CheckExact(packets)
        and _in_range(channel, 0xFF)
        and _in_range(sequence, 0xFFFF)
        and _in_range(timestamp, 0xFFFFFFFF)
        and _in_range(ssrc, 0xFFFFFFFF)
    ):
        return _reference(packets, channel, sequence, timestamp, ssrc)
    cdef tuple burst = <tuple>packets
    cdef Py_ssize_t count = len(burst)
    cdef Py_ssize_t acquired = 0
    cdef Py_ssize_t total = 0
    cdef Py_ssize_t index, position
    # One allocation for both: each packet's payload buffer and its first two header bytes.
    cdef Py_buffer* views = <Py_buffer*>PyMem_Malloc(
        max(count, 1) * (sizeof(Py_buffer) + sizeof(unsigned int))
    )
    if views == NULL:
        raise MemoryError()
    cdef unsigned int* heads = <unsigned int*>(views + max(count, 1))
    cdef bint fast = True
    cdef unsigned char* out
    cdef unsigned char* p
    cdef unsigned int seq = <unsigned int>sequence
    cdef unsigned long rtp_timestamp = <unsigned long>timestamp
    cdef unsigned long rtp_ssrc = <unsigned long>ssrc
    cdef unsigned char rtp_channel = <unsigned char>channel
    cdef bytes framed
    try:
        # Every payload's buffer first: the output's size, and no Python code runs after.
        for index in range(count):
            item = burst[index]
            if not PyTuple_CheckExact(item) or len(<tuple>item) != 2:
                fast = False
                break
            head, payload = <tuple>item
            if not _in_range(head, 0xFFFF) or not PyObject_CheckBuffer(payload):
                fast = False
                break
            heads[index] = <unsigned int>PyLong_AsLong(head)  # in range: checked above
            PyObject_GetBuffer(payload, &views[index], PyBUF_SIMPLE)
            acquired += 1
            # len() is what the reference frames by: a buffer of wider items is not ours.
            if (
                PyObject_Size(payload) != views[index].len
                or views[index].len + RTP_HEADER_SIZE > MAX_FRAME_LENGTH
            ):
                fast = False
                break
            total += HEADERS_SIZE + views[index].len
        if not fast:
            return _reference(packets, channel, sequence, timestamp, ssrc)
        framed = PyBytes_FromStringAndSize(NULL, total)
        out = <unsigned char*>PyBytes_AS_STRING(framed)
        position = 0
        for index in range(count):
            p = out + position
            p[0] = INTERLEAVED_MAGIC
            p[1] = rtp_channel
            _put16(p + 2, <unsigned int>(RTP_HEADER_SIZE + views[index].len))
            _put16(p + 4, heads[index])
            _put16(p + 6, seq)
            _put32(p + 8, rtp_timestamp)
            _put32(p + 12, rtp_ssrc)
            memcpy(p + HEADERS_SIZE, views[index].buf, views[index].len)
            position += HEADERS_SIZE + views[index].len
            seq = (seq + 1) & 0xFFFF
        return framed
    finally:
        for index in range(acquired):
            PyBuffer_Release(&views[index])
        PyMem_Free(views)
