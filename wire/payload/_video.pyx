# cython: language_level=3
"""Compiled H.264 (RFC 6184) and H.265 (RFC 7798) depacketizing.

The references are the pure-Python functions and class of the same names with ``_py``/``Py``
(``_parse_h264_payload_py``, ``PyNalDepacketizer``, ...) in :mod:`wire.payload.video`,
:mod:`wire.payload.h264` and :mod:`wire.payload.h265`: same arguments, results and exceptions
(type and message). A payload that is not ``bytes`` (a ``bytearray``, a ``memoryview``) goes to
the reference, whose slices keep its type.
"""

from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_GET_SIZE, PyByteArray_Resize
from libc.string cimport memcpy
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.object cimport PyObject_GenericSetAttr

from wire.codec.errors import CodecError
from wire.codec.nal import VideoCodec
from wire.payload.errors import PayloadError
from wire.payload.events import PacketLoss, PayloadDiscarded, VideoAccessUnit
from wire.payload.video import NalFragment

cdef enum:
    FU_START = 0x80
    FU_END = 0x40
    # RFC 6184 §5.2, Table 1
    STAP_A = 24
    STAP_B = 25
    MTAP16 = 26
    MTAP24 = 27
    FU_A = 28
    FU_B = 29
    # RFC 7798 §4.4
    AP = 48
    FU = 49
    PACI = 50

_INTERLEAVED_ONLY = {STAP_B: "STAP-B", MTAP16: "MTAP16", MTAP24: "MTAP24", FU_B: "FU-B"}

cdef object _H264 = VideoCodec.H264
cdef object _H265 = VideoCodec.H265


cdef object _access_unit(tuple nal_units, object timestamp, bint keyframe):
    # A VideoAccessUnit (a frozen dataclass with slots), its fields set as its generated
    # __init__ sets them, without the call: one per picture of every pulled camera.
    unit = VideoAccessUnit.__new__(VideoAccessUnit)
    PyObject_GenericSetAttr(unit, "nal_units", nal_units)
    PyObject_GenericSetAttr(unit, "timestamp", timestamp)
    PyObject_GenericSetAttr(unit, "keyframe", True if keyframe else False)
    return unit


cdef object _reference(str module, str name):
    # The pure modules import this one at their end: look their functions up when first needed.
    import importlib

    return getattr(importlib.import_module(module), name)


# -- aggregation packets and embedded start codes ------------------------------------------------


def parse_aggregation(payload, Py_ssize_t header_size, name):
    """The NAL units of an STAP-A / AP payload: 16-bit size, NAL unit, repeated."""
    if type(payload) is not bytes:
        return _reference("wire.payload.video", "_parse_aggregation_py")(
            payload, header_size, name
        )
    return _aggregation(<bytes>payload, header_size, name)


cdef list _aggregation(bytes payload, Py_ssize_t header_size, name):
    cdef const unsigned char* p = <const unsigned char*>PyBytes_AS_STRING(payload)
    cdef Py_ssize_t length = PyBytes_GET_SIZE(payload)
    cdef Py_ssize_t pos = header_size
    cdef Py_ssize_t size
    cdef list nals = []
    while pos < length:
        if pos + 2 > length:
            raise PayloadError(f"{name}: 1 byte left at offset {pos}, too few for a size")
        size = (p[pos] << 8) | p[pos + 1]
        pos += 2
        if size == 0:
            raise PayloadError(f"{name}: zero-length NAL unit at offset {pos}")
        if pos + size > length:
            raise PayloadError(
                f"{name}: NAL unit of {size} bytes at offset {pos} overruns the payload "
                f"({length - pos} bytes left)"
            )
        nals.append(PyBytes_FromStringAndSize(<const char*>p + pos, size))
        pos += size
    if not nals:
        raise PayloadError(f"{name}: no NAL units")
    return nals


cdef Py_ssize_t _find_start_code(const unsigned char* p, Py_ssize_t start, Py_ssize_t end):
    """The offset of the first ``00 00 01`` in ``p[start:end]``, or -1.

    Looks at the third byte of each candidate: above 1 no start code can begin at any of the
    three offsets it covers, 1 ends one only after two zeros, 0 may begin one at the next.
    """
    cdef Py_ssize_t i = start
    cdef unsigned char third
    while i + 2 < end:
        third = p[i + 2]
        if third > 1:
            i += 3
        elif third == 0:
            i += 1
        elif p[i] == 0 and p[i + 1] == 0:
            return i
        else:
            i += 3
    return -1


def split_embedded_start_codes(nal):
    """Split a "NAL unit" that carries Annex B start codes into the NAL units it holds.

    A real NAL unit never contains ``00 00 01`` (emulation prevention forbids it), so finding
    one means the sender put a byte stream into the payload. Zero bytes before a start code
    belong to it, not to the preceding NAL unit.
    """
    if type(nal) is not bytes:
        return _reference("wire.payload.video", "_split_embedded_start_codes_py")(nal)
    return _split_start_codes(<bytes>nal)


cdef list _split_start_codes(bytes nal):
    cdef const unsigned char* p = <const unsigned char*>PyBytes_AS_STRING(nal)
    cdef Py_ssize_t length = PyBytes_GET_SIZE(nal)
    cdef Py_ssize_t found = _find_start_code(p, 0, length)
    if found < 0:
        return [nal]
    cdef list parts = []
    cdef Py_ssize_t start = 0
    cdef Py_ssize_t end
    while True:
        end = length if found < 0 else found
        while end > start and p[end - 1] == 0:  # rstrip(b"\x00")
            end -= 1
        if end > start:
            parts.append(PyBytes_FromStringAndSize(<const char*>p + start, end - start))
        if found < 0:
            return parts
        start = found + 3
        found = _find_start_code(p, start, length)


# -- H.264 (RFC 6184) ------------------------------------------------------------------------------


def parse_h264_payload(payload):
    """Split one H.264 RTP payload into NAL units and FU-A fragments.

    Raises :class:`PayloadError` for truncated packets and for the interleaved-mode types
    (STAP-B, MTAP16, MTAP24, FU-B). Types 0, 30 and 31 are ignored (§5.4), except a payload
    that starts with an Annex B start code, which is returned whole for splitting.
    """
    if type(payload) is not bytes:
        return _reference("wire.payload.h264", "_parse_h264_payload_py")(payload)
    return _parse_h264(<bytes>payload)


cdef list _parse_h264(bytes payload):
    cdef const unsigned char* p = <const unsigned char*>PyBytes_AS_STRING(payload)
    cdef Py_ssize_t length = PyBytes_GET_SIZE(payload)
    if length == 0:
        raise PayloadError("H.264 RTP payload: empty")
    cdef int kind = p[0] & 0x1F
    cdef unsigned char fu_header, header
    if 1 <= kind <= 23:
        return [payload]
    if kind == STAP_A:
        return _aggregation(payload, 1, "H.264 STAP-A")
    if kind == FU_A:
        if length < 2:
            raise PayloadError("H.264 FU-A: 1 byte, too short for the FU header")
        # §5.8: the FU indicator's F and NRI and the FU header's type restore the NAL header.
        fu_header = p[1]
        header = (p[0] & 0xE0) | (fu_header & 0x1F)
        return [
            NalFragment(
                PyBytes_FromStringAndSize(<const char*>&header, 1),
                PyBytes_FromStringAndSize(<const char*>p + 2, length - 2),
                (fu_header & FU_START) != 0,
                (fu_header & FU_END) != 0,
            )
        ]
    if kind in _INTERLEAVED_ONLY:
        raise PayloadError(
            f"H.264 RTP payload: {_INTERLEAVED_ONLY[kind]} (type {kind}) needs the interleaved "
            "packetization mode, which is not supported"
        )
    # payload.startswith((b"\0\0\1", b"\0\0\0\1"))
    if length >= 3 and p[0] == 0 and p[1] == 0:
        if p[2] == 1 or (length >= 4 and p[2] == 0 and p[3] == 1):
            return [payload]
    return []


# -- H.265 (RFC 7798) ------------------------------------------------------------------------------


def parse_h265_payload(payload):
    """Split one H.265 RTP payload into NAL units and FU fragments.

    Raises :class:`PayloadError` for truncated packets and for PACI packets; unspecified types
    (51-63) are ignored (§4.4).
    """
    if type(payload) is not bytes:
        return _reference("wire.payload.h265", "_parse_h265_payload_py")(payload)
    return _parse_h265(<bytes>payload)


cdef list _parse_h265(bytes payload):
    cdef const unsigned char* p = <const unsigned char*>PyBytes_AS_STRING(payload)
    cdef Py_ssize_t length = PyBytes_GET_SIZE(payload)
    if length < 2:
        raise PayloadError(f"H.265 RTP payload: {length} bytes, shorter than its header")
    cdef int kind = (p[0] >> 1) & 0x3F
    cdef unsigned char fu_header
    cdef unsigned char header[2]
    if kind < AP:
        return [payload]
    if kind == AP:
        return _aggregation(payload, 2, "H.265 AP")
    if kind == FU:
        if length < 3:
            raise PayloadError("H.265 FU: 2 bytes, too short for the FU header")
        # §4.4.3: the payload header with the FU header's type restores the NAL unit header.
        fu_header = p[2]
        header[0] = (p[0] & 0x81) | ((fu_header & 0x3F) << 1)
        header[1] = p[1]
        return [
            NalFragment(
                PyBytes_FromStringAndSize(<const char*>header, 2),
                PyBytes_FromStringAndSize(<const char*>p + 3, length - 3),
                (fu_header & FU_START) != 0,
                (fu_header & FU_END) != 0,
            )
        ]
    if kind == PACI:
        raise PayloadError("H.265 RTP payload: PACI packets (type 50) are not supported")
    return []


# -- access unit assembly --------------------------------------------------------------------------


cdef int _nal_type(bint h265, header) except -1:
    """wire.codec.nal.nal_type, with its exceptions."""
    cdef Py_ssize_t length = len(header)
    if h265:
        if length < 2:
            raise CodecError("H.265 NAL unit: shorter than its 2-byte header")
        return (header[0] >> 1) & 0x3F
    if length == 0:
        raise CodecError("H.264 NAL unit: empty")
    return header[0] & 0x1F


cdef class NalDepacketizer:
    """Reassembles access units from the RTP packets of one H.264/H.265 stream.

    The compiled :class:`wire.payload.video.PyNalDepacketizer`: subclasses set ``codec`` and
    ``header_size`` and define ``parse_payload``, read once at construction.
    """

    cdef public object max_access_unit_size
    cdef bint _h265
    cdef Py_ssize_t _header_size
    cdef object _parse_payload
    cdef int _inline  # 1: H.264 and 2: H.265 with this module's parser, else 0
    cdef object _last_seq
    cdef object _timestamp
    cdef list _nals
    cdef Py_ssize_t _size
    cdef bint _has_vcl
    cdef bint _keyframe
    cdef bint _oversized
    cdef bytearray _fragment
    cdef int _fragment_type

    def __init__(self, *, max_access_unit_size=8 * 1024 * 1024):
        self.max_access_unit_size = max_access_unit_size
        self._h265 = self.codec is _H265
        self._header_size = self.header_size
        self._parse_payload = self.parse_payload
        self._inline = 0
        if self._parse_payload is parse_h264_payload and not self._h265:
            self._inline = 1
        elif self._parse_payload is parse_h265_payload and self._h265:
            self._inline = 2
        self.reset()

    def parse_payload(self, payload):
        """Split one RTP payload into whole NAL units and fragments; raises PayloadError."""
        raise NotImplementedError

    def reset(self):
        """Forget all state, e.g. for a new session."""
        self._last_seq = None
        self._timestamp = None
        self._nals = []
        self._size = 0
        self._has_vcl = False
        self._keyframe = False
        self._oversized = False  # the access unit in progress outgrew the limit
        self._fragment = None
        self._fragment_type = 0

    def receive(self, packet):
        """Take one RTP packet; returns the access units completed and any losses."""
        cdef list events = []
        seq = packet.sequence_number
        if self._last_seq is not None:
            delta = ((seq - self._last_seq + 0x8000) & 0xFFFF) - 0x8000  # seq_diff
            if delta == 0:
                return events  # a duplicate
            if delta != 1:
                events.append(PacketLoss((self._last_seq + 1) & 0xFFFF, seq))
                self._drop_fragment(events, "fragmented NAL unit lost a fragment")
        self._last_seq = seq

        timestamp = packet.timestamp
        if timestamp != self._timestamp:
            self._drop_fragment(events, "fragmented NAL unit unfinished at a new timestamp")
            self._finish(events)
            self._timestamp = timestamp
        payload = packet.payload
        if not (self._inline and type(payload) is bytes and self._fragment_unit(payload, events)):
            try:
                pieces = self._parse_payload(payload)
            except PayloadError as exc:
                self._drop_fragment(
                    events, "fragmented NAL unit interrupted by a malformed packet"
                )
                events.append(PayloadDiscarded(timestamp, str(exc)))
                pieces = []
            for piece in pieces:
                if isinstance(piece, NalFragment):
                    self._add_fragment(piece.header, piece.data, piece.start, piece.end, events)
                else:
                    self._add_nal(piece, events)
        if packet.marker:
            self._drop_fragment(events, "fragmented NAL unit unfinished at the marker bit")
            self._finish(events)
        return events

    def flush(self):
        """End of stream: the access unit in progress, if it holds a coded slice."""
        cdef list events = []
        self._drop_fragment(events, "fragmented NAL unit unfinished at the end of the stream")
        self._finish(events)
        return events

    cdef _finish(self, list events):
        if self._oversized:
            self._oversized = False
        elif not self._has_vcl or self._timestamp is None:
            return  # parameter sets and SEI wait for the slices they belong with
        else:
            events.append(_access_unit(tuple(self._nals), self._timestamp, self._keyframe))
        self._clear()

    cdef _clear(self):
        self._nals = []
        self._size = 0
        self._has_vcl = self._keyframe = False

    cdef _overflow(self, list events):
        self._discard(events, f"access unit exceeds {self.max_access_unit_size} bytes")
        self._clear()
        self._oversized = True

    cdef _add_nal(self, nal, list events):
        cdef Py_ssize_t length
        cdef int kind
        units = _split_start_codes(nal) if type(nal) is bytes else split_embedded_start_codes(nal)
        for unit in units:
            if self._oversized:
                return
            length = len(unit)
            if length < self._header_size:
                self._discard(events, f"NAL unit of {length} bytes is shorter than its header")
                continue
            if self._size + length > self.max_access_unit_size:
                self._overflow(events)
                return
            self._nals.append(unit)
            self._size += length
            kind = _nal_type(self._h265, unit)
            if self._h265:
                if kind < 32:  # VCL: H.265 types 0-31
                    self._has_vcl = True
                if 16 <= kind <= 23:  # IRAP: BLA, IDR, CRA
                    self._keyframe = True
            else:
                if 1 <= kind <= 5:  # VCL: coded slices
                    self._has_vcl = True
                if kind == 5:  # IDR
                    self._keyframe = True

    cdef bint _fragment_unit(self, bytes payload, list events) except -1:
        """An FU-A (RFC 6184 §5.8) or FU (RFC 7798 §4.4.3) payload taken as the parser would
        return it, without building the NalFragment; False for any other payload."""
        cdef const unsigned char* p = <const unsigned char*>PyBytes_AS_STRING(payload)
        cdef Py_ssize_t length = PyBytes_GET_SIZE(payload)
        cdef unsigned char fu_header
        cdef unsigned char header[2]
        if self._inline == 1:
            if length < 2 or (p[0] & 0x1F) != FU_A:
                return False
            fu_header = p[1]
            if self._continue_fragment(fu_header, fu_header & 0x1F, p + 2, length - 2, events):
                return True
            header[0] = (p[0] & 0xE0) | (fu_header & 0x1F)
            data = PyBytes_FromStringAndSize(<const char*>p + 2, length - 2)
            head = PyBytes_FromStringAndSize(<const char*>header, 1)
        else:
            if length < 3 or ((p[0] >> 1) & 0x3F) != FU:
                return False
            fu_header = p[2]
            if self._continue_fragment(fu_header, fu_header & 0x3F, p + 3, length - 3, events):
                return True
            header[0] = (p[0] & 0x81) | ((fu_header & 0x3F) << 1)
            header[1] = p[1]
            data = PyBytes_FromStringAndSize(<const char*>p + 3, length - 3)
            head = PyBytes_FromStringAndSize(<const char*>header, 2)
        self._add_fragment(head, data, fu_header & FU_START, fu_header & FU_END, events)
        return True

    cdef bint _continue_fragment(
        self, unsigned char fu_header, int kind, const unsigned char* data, Py_ssize_t size,
        list events
    ) except -1:
        """A middle or end fragment of the NAL unit being reassembled, appended in place (no
        header or data object made); False when :meth:`_add_fragment` must decide instead: a
        start fragment, no fragment in progress, another NAL unit type, or a limit reached."""
        cdef Py_ssize_t held
        fragment = self._fragment
        if fu_header & FU_START or fragment is None or self._oversized:
            return False
        if kind != self._fragment_type:
            return False
        held = PyByteArray_GET_SIZE(fragment)
        if held + size + self._size > self.max_access_unit_size:
            return False
        PyByteArray_Resize(fragment, held + size)
        memcpy(PyByteArray_AS_STRING(fragment) + held, data, size)
        if fu_header & FU_END:
            nal = PyBytes_FromStringAndSize(PyByteArray_AS_STRING(fragment), held + size)
            self._fragment = None
            self._add_nal(nal, events)
        return True

    cdef _add_fragment(self, header, data, start, end, list events):
        if self._oversized:
            return
        if start:
            self._drop_fragment(events, "fragmented NAL unit restarted before its end")
            if end:
                # Start and End both set: a whole NAL unit in one fragment (tolerated).
                self._add_nal(header + data, events)
                return
            self._fragment = bytearray(header + data)
            self._fragment_type = _nal_type(self._h265, header)
            return
        if self._fragment is None:
            return  # the rest of a NAL unit whose first fragment never arrived
        if _nal_type(self._h265, header) != self._fragment_type:
            self._drop_fragment(events, "fragment of another NAL unit type")
            return
        self._fragment += data
        if PyByteArray_GET_SIZE(self._fragment) + self._size > self.max_access_unit_size:
            self._fragment = None
            self._overflow(events)
        elif end:
            nal = bytes(self._fragment)
            self._fragment = None
            self._add_nal(nal, events)

    cdef _drop_fragment(self, list events, str reason):
        if self._fragment is not None:
            self._fragment = None
            self._discard(events, reason)

    cdef _discard(self, list events, str reason):
        events.append(PayloadDiscarded(self._timestamp or 0, reason))
