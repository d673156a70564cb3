# cython: language_level=3
"""Compiled AU Header Section parsing of ``mpeg4-generic`` payloads (RFC 3640 §3.2.1, §3.3.6),
and the depacketizer built on it.

The references are ``_parse_aac_payload_py`` and ``PyAacDepacketizer`` in
:mod:`wire.payload.aac`: same arguments, results and exceptions (type and message). Field lengths
beyond 32 bits (or negative) and payloads that are not ``bytes`` go to the reference parser,
whose big integers and slices handle them.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.object cimport PyObject_GenericSetAttr

from wire.payload.errors import PayloadError
from wire.payload.events import AudioAccessUnit, PacketLoss, PayloadDiscarded

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


cdef list _parse(
    bytes payload, int size_length, int index_length, int index_delta_length, bint fields=False
):
    # fields: (size, index, data) tuples instead of AacUnit objects, for AacDepacketizer
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
            chunk = PyBytes_FromStringAndSize(<const char*>data, data_length)
            return [(size, index, chunk) if fields else _unit(size, index, chunk)]
        if <unsigned long long>pos + size > <unsigned long long>data_length:
            raise PayloadError(
                f"AAC payload: access unit {i} of {size} bytes overruns the payload "
                f"({data_length - pos} bytes left)"
            )
        chunk = PyBytes_FromStringAndSize(<const char*>data + pos, size)
        units.append((size, index, chunk) if fields else _unit(size, index, chunk))
        pos += size
    if pos != data_length:
        raise PayloadError(f"AAC payload: {data_length - pos} bytes after the last access unit")
    return units


cdef object _audio(object data, object timestamp):
    # An AudioAccessUnit (a frozen dataclass with slots), its fields set as its generated
    # __init__ sets them, without the call: one per audio frame of every pulled camera.
    unit = AudioAccessUnit.__new__(AudioAccessUnit)
    PyObject_GenericSetAttr(unit, "data", data)
    PyObject_GenericSetAttr(unit, "timestamp", timestamp)
    return unit


cdef class AacDepacketizer:
    """AAC access units from ``mpeg4-generic`` RTP packets, with timestamps per unit.

    The compiled :class:`wire.payload.aac.PyAacDepacketizer`, line for line: the values stay
    Python objects. What goes is the frame of each call (three per packet in the reference) and
    the dataclass instances in between, on every audio packet of every pulled camera.
    """

    cdef public object samples_per_frame
    cdef object _lengths  # the parser's keywords; None for its defaults
    cdef object _last_seq
    cdef bytearray _fragment
    cdef object _fragment_size
    cdef object _fragment_timestamp
    cdef object _abandoned  # (timestamp, AU-size) being skipped

    def __init__(
        self, *, samples_per_frame=1024, size_length=13, index_length=3, index_delta_length=3
    ):
        self.samples_per_frame = samples_per_frame
        self._lengths = {
            "size_length": size_length,
            "index_length": index_length,
            "index_delta_length": index_delta_length,
        }
        if (size_length, index_length, index_delta_length) == (13, 3, 3):
            self._lengths = None
        self.reset()

    def reset(self):
        self._last_seq = None
        self._fragment = None
        self._fragment_size = 0
        self._fragment_timestamp = 0
        self._abandoned = None

    def receive(self, packet):
        cdef list events = []
        cdef list units
        seq = packet.sequence_number
        last = self._last_seq
        if last is not None:
            delta = (seq - last) & 0xFFFF  # seq_diff, read only for 0 (a duplicate) and 1
            if delta == 0:
                return events
            if delta != 1:
                events.append(PacketLoss((last + 1) & 0xFFFF, seq))
                self._drop_fragment(events, "fragmented access unit lost a fragment")
        self._last_seq = seq
        lengths = self._lengths
        try:
            payload = packet.payload
            if lengths is None and type(payload) is bytes:
                # What parse_aac_payload does for it, as (size, index, data).
                units = _parse(<bytes>payload, 13, 3, 3, True)
            else:
                if lengths is None:
                    parsed = parse_aac_payload(payload)
                else:
                    parsed = parse_aac_payload(payload, **lengths)
                units = [(unit.size, unit.index, unit.data) for unit in parsed]
        except PayloadError as exc:
            self._drop_fragment(events, "fragmented access unit interrupted by a malformed packet")
            events.append(PayloadDiscarded(packet.timestamp, str(exc)))
            return events
        if len(units) == 1:
            size, _, data = units[0]
            self._receive_single(size, data, packet, events)
            return events
        self._drop_fragment(events, "fragmented access unit unfinished")
        first = units[0][1]
        for size, index, data in units:
            timestamp = packet.timestamp + (index - first) * self.samples_per_frame
            events.append(_audio(data, timestamp & 0xFFFF_FFFF))
        return events

    cdef _receive_single(self, size, data, packet, list events):
        fragment = self._fragment
        key = (packet.timestamp, size)
        if fragment is None or key != (self._fragment_timestamp, self._fragment_size):
            self._drop_fragment(events, "fragmented access unit unfinished")
            if self._abandoned == key and len(data) < size:
                # The rest of a unit already reported as discarded.
                if packet.marker:
                    self._abandoned = None
                return
            self._abandoned = None
            if len(data) == size:
                events.append(_audio(data, packet.timestamp))
                return
            fragment = self._fragment = bytearray()
            self._fragment_timestamp, self._fragment_size = key
        fragment += data
        if len(fragment) == size:
            self._fragment = None
            events.append(_audio(bytes(fragment), packet.timestamp))
        elif len(fragment) > size or packet.marker:
            self._drop_fragment(events, "fragmented access unit does not add up to its AU-size")

    cdef _drop_fragment(self, list events, str reason):
        if self._fragment is not None:
            events.append(PayloadDiscarded(self._fragment_timestamp, reason))
            self._fragment = None
            self._abandoned = (self._fragment_timestamp, self._fragment_size)
