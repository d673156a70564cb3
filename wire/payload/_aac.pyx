# cython: language_level=3
"""Compiled AU Header Section parsing of ``mpeg4-generic`` payloads (RFC 3640 §3.2.1, §3.3.6).

The reference is ``_parse_aac_payload_py`` in :mod:`wire.payload.aac`: same arguments, results
and exceptions (type and message). Field lengths beyond 32 bits (or negative) and payloads that
are not ``bytes`` go to the reference, whose big integers and slices handle them.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.object cimport PyObject_GenericSetAttr

from wire.payload.errors import PayloadError

cdef object _aac_unit = None
cdef object _reference = None


cdef _load():
    # wire.payload.aac imports this module at its end: look its names up on first use.
    global _aac_unit, _reference
    from wire.payload.aac import AacUnit, _parse_aac_payload_py

    _aac_unit, _reference = AacUnit, _parse_aac_payload_py


cdef object _unit(unsigned long long size, unsigned long long index, bytes data):
    # An AacUnit (a frozen dataclass with slots), its fields set as its generated __init__ sets
    # them, without the call: one per packet of every pulled camera's audio.
    unit = _aac_unit.__new__(_aac_unit)
    PyObject_GenericSetAttr(unit, "size", size)
    PyObject_GenericSetAttr(unit, "index", index)
    PyObject_GenericSetAttr(unit, "data", data)
    return unit


cdef inline unsigned long long _bits(
    const unsigned char* p, Py_ssize_t offset, int count
) noexcept:
    """``count`` (at most 32) bits of ``p`` from bit ``offset``, most significant first."""
    cdef unsigned long long value = 0
    cdef int i
    for i in range(count):
        value = (value << 1) | ((p[(offset + i) >> 3] >> (7 - ((offset + i) & 7))) & 1)
    return value


def parse_aac_payload(payload, *, size_length=13, index_length=3, index_delta_length=3):
    """Split one ``mpeg4-generic`` payload into its access units or its single fragment."""
    if _aac_unit is None:
        _load()
    if (
        type(payload) is not bytes
        or type(size_length) is not int
        or type(index_length) is not int
        or type(index_delta_length) is not int
        or not 0 <= size_length <= 32
        or not 0 <= index_length <= 32
        or not 0 <= index_delta_length <= 32
        or size_length + index_delta_length == 0
    ):
        return _reference(
            payload,
            size_length=size_length,
            index_length=index_length,
            index_delta_length=index_delta_length,
        )
    return _parse(<bytes>payload, size_length, index_length, index_delta_length)


cdef list _parse(bytes payload, int size_length, int index_length, int index_delta_length):
    cdef const unsigned char* p = <const unsigned char*>PyBytes_AS_STRING(payload)
    cdef Py_ssize_t length = PyBytes_GET_SIZE(payload)
    if length < 2:
        raise PayloadError(f"AAC payload: {length} bytes, too short for AU-headers-length")
    cdef Py_ssize_t header_bits = (p[0] << 8) | p[1]
    cdef Py_ssize_t header_bytes = (header_bits + 7) // 8
    if 2 + header_bytes > length:
        raise PayloadError(
            f"AAC payload: AU headers of {header_bits} bits overrun the {length}-byte payload"
        )
    cdef Py_ssize_t first_bits = size_length + index_length
    cdef Py_ssize_t next_bits = size_length + index_delta_length
    if header_bits < first_bits or (header_bits - first_bits) % next_bits:
        raise PayloadError(
            f"AAC payload: AU-headers-length {header_bits} is not {first_bits} + k*{next_bits} bits"
        )
    cdef Py_ssize_t count = 1 + (header_bits - first_bits) // next_bits
    # The AU headers, read MSB first from the section after AU-headers-length (§3.2.1).
    cdef const unsigned char* section = p + 2
    cdef const unsigned char* data = p + 2 + header_bytes
    cdef Py_ssize_t data_length = length - 2 - header_bytes
    cdef Py_ssize_t bit = 0
    cdef Py_ssize_t pos = 0
    cdef Py_ssize_t i
    cdef unsigned long long size, index_field
    cdef unsigned long long index = 0
    cdef list units = []
    for i in range(count):
        size = _bits(section, bit, size_length)
        bit += size_length
        if i == 0:
            index = _bits(section, bit, index_length)
            bit += index_length
        else:
            index_field = _bits(section, bit, index_delta_length)
            bit += index_delta_length
            index = index + index_field + 1
        if size == 0:
            raise PayloadError(f"AAC payload: access unit {i} has AU-size 0")
        if count == 1 and size > <unsigned long long>data_length:
            # a fragment (§3.2.3)
            return [_unit(size, index, PyBytes_FromStringAndSize(<const char*>data, data_length))]
        if <unsigned long long>pos + size > <unsigned long long>data_length:
            raise PayloadError(
                f"AAC payload: access unit {i} of {size} bytes overruns the payload "
                f"({data_length - pos} bytes left)"
            )
        units.append(_unit(size, index, PyBytes_FromStringAndSize(<const char*>data + pos, size)))
        pos += size
    if pos != data_length:
        raise PayloadError(f"AAC payload: {data_length - pos} bytes after the last access unit")
    return units
