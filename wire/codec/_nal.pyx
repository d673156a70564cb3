# cython: language_level=3, boundscheck=False, wraparound=False
"""Compiled :func:`wire.codec.nal.split_length_prefixed` and :func:`wire.codec.nal.has_irap`, asked
for every picture refserver takes in over RTMP (ISO/IEC 14496-15 length-prefixed samples; H.264
and H.265 Table 7-1 NAL unit types).

The references are ``_split_length_prefixed_py`` and ``_has_irap_py`` in :mod:`wire.codec.nal`:
the same checks in the same order, with the same error text (the differential tests in
``tests/unit/wire/speedups/test_nal.py`` hold them to that). A sample that is not ``bytes`` and NAL
units that are not ``bytes`` go to the reference itself, so what they return is the reference's
by construction. Every index is checked against the sample's length before it is read, which is
why bounds checking is off.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.list cimport PyList_Append

from wire.codec.errors import CodecError
from wire.codec.nal import VideoCodec, _has_irap_py, _split_length_prefixed_py

cdef enum:
    H264_NAL_IDR = 5
    H265_NAL_BLA_W_LP = 16
    H265_NAL_RSV_IRAP_23 = 23

cdef object H264 = VideoCodec.H264


def split_length_prefixed(data, length_size=4):
    """Split a length-prefixed (AVCC/HVCC) sample into NAL units."""
    if type(data) is not bytes or type(length_size) is not int:
        return _split_length_prefixed_py(data, length_size)
    if length_size not in (1, 2, 4):
        raise CodecError(f"length-prefixed: unsupported length size {length_size}")
    cdef Py_ssize_t width = length_size
    cdef const unsigned char* p = <const unsigned char*>PyBytes_AS_STRING(data)
    cdef Py_ssize_t end = PyBytes_GET_SIZE(data)
    cdef Py_ssize_t pos = 0
    cdef Py_ssize_t size, i
    cdef list nals = []
    while pos < end:
        if pos + width > end:
            raise CodecError(
                f"length-prefixed: {end - pos} bytes left at offset {pos}, "
                f"too few for a {width}-byte length"
            )
        size = 0
        for i in range(width):
            size = (size << 8) | p[pos + i]
        pos += width
        if pos + size > end:
            raise CodecError(
                f"length-prefixed: NAL unit of {size} bytes at offset {pos} "
                f"overruns the sample ({end - pos} bytes left)"
            )
        if size == 0:
            raise CodecError(f"length-prefixed: zero-length NAL unit at offset {pos}")
        PyList_Append(nals, PyBytes_FromStringAndSize(<const char*>p + pos, size))
        pos += size
    return nals


def has_irap(codec, nal_units):
    """True when one of a picture's NAL units is a random access point: H.264 IDR, H.265 IRAP
    (BLA, IDR, CRA); empty units are skipped."""
    if type(nal_units) is not tuple and type(nal_units) is not list:
        return _has_irap_py(codec, nal_units)
    for nal in nal_units:
        if type(nal) is not bytes:
            return _has_irap_py(codec, nal_units)
    cdef bint h264 = codec is H264
    cdef Py_ssize_t size
    cdef const unsigned char* p
    for nal in nal_units:
        size = PyBytes_GET_SIZE(nal)
        if size == 0:
            continue
        p = <const unsigned char*>PyBytes_AS_STRING(nal)
        if h264:
            if p[0] & 0x1F == H264_NAL_IDR:
                return True
        elif size < 2:
            raise CodecError("H.265 NAL unit: shorter than its 2-byte header")
        elif H265_NAL_BLA_W_LP <= (p[0] >> 1) & 0x3F <= H265_NAL_RSV_IRAP_23:
            return True
    return False
