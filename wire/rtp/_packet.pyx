# cython: language_level=3, boundscheck=False, wraparound=False
"""Compiled :meth:`wire.rtp.packet.RtpPacket.parse` (RFC 3550 §5.1, header extension §5.3.1).

The reference is ``_parse_py`` in :mod:`wire.rtp.packet`: same arguments, results and
exceptions (type and message). Every index below is checked against ``size`` before it is read,
which is why bounds checking is off.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.object cimport PyObject_GenericSetAttr

from wire.rtp.errors import RtpError

cdef enum:
    RTP_VERSION = 2
    RTP_HEADER_SIZE = 12


cdef inline unsigned int _u16(const unsigned char* p) noexcept:
    return (p[0] << 8) | p[1]


cdef inline unsigned long _u32(const unsigned char* p) noexcept:
    return (<unsigned long>p[0] << 24) | (p[1] << 16) | (p[2] << 8) | p[3]


def parse(cls, data):
    """Parse one RTP packet as ``cls``; raises :class:`RtpError` on malformed input."""
    cdef const unsigned char[:] view
    if type(data) is bytes:  # what every reader hands over: no buffer to acquire
        return _parse(cls, <const unsigned char*>PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data))
    view = data
    if view.shape[0] == 0:
        return _parse(cls, <const unsigned char*>b"", 0)
    return _parse(cls, &view[0], view.shape[0])


cdef object _parse(cls, const unsigned char* p, Py_ssize_t size):
    if size < RTP_HEADER_SIZE:
        raise RtpError(
            f"RTP packet: {size} bytes, shorter than the {RTP_HEADER_SIZE}-byte fixed header"
        )
    cdef unsigned int first = p[0]
    cdef unsigned int version = first >> 6
    if version != RTP_VERSION:
        raise RtpError(f"RTP packet: version {version}, expected {RTP_VERSION}")
    cdef Py_ssize_t csrc_count = first & 0x0F
    cdef Py_ssize_t pos = RTP_HEADER_SIZE + 4 * csrc_count
    if pos > size:
        raise RtpError(f"RTP packet: {csrc_count} CSRCs need {pos} header bytes, got {size}")
    cdef list csrc = [_u32(p + RTP_HEADER_SIZE + 4 * i) for i in range(csrc_count)]

    cdef object extension = None
    cdef Py_ssize_t words
    if first & 0x10:
        if pos + 4 > size:
            raise RtpError(f"RTP packet: header extension truncated at offset {pos}")
        profile = _u16(p + pos)
        words = _u16(p + pos + 2)
        pos += 4
        if pos + 4 * words > size:
            raise RtpError(
                f"RTP packet: header extension of {4 * words} bytes overruns the packet "
                f"({size - pos} bytes left)"
            )
        extension = _HeaderExtension()(
            profile, PyBytes_FromStringAndSize(<const char*>p + pos, 4 * words)
        )
        pos += 4 * words

    cdef Py_ssize_t end = size
    cdef Py_ssize_t padding_size = 0
    if first & 0x20:
        # The last padding octet counts the padding octets, itself included (§5.1).
        padding_size = p[end - 1] if end > pos else 0
        if padding_size == 0 or padding_size > end - pos:
            raise RtpError(
                f"RTP packet: padding count {padding_size} is invalid with "
                f"{end - pos} bytes after the header"
            )
        end -= padding_size
    cdef unsigned int second = p[1]
    payload = PyBytes_FromStringAndSize(<const char*>p + pos, end - pos)
    if cls is not _Packet():  # a subclass may have its own __init__
        return cls(
            second & 0x7F,
            _u16(p + 2),
            _u32(p + 4),
            _u32(p + 8),
            payload,
            (second & 0x80) != 0,
            csrc,
            extension,
            padding_size,
        )
    # RtpPacket itself: its fields set as its dataclass __init__ sets them, without the call
    # (hundreds of packets a second per stream).
    packet = cls.__new__(cls)
    PyObject_GenericSetAttr(packet, "payload_type", second & 0x7F)
    PyObject_GenericSetAttr(packet, "sequence_number", _u16(p + 2))
    PyObject_GenericSetAttr(packet, "timestamp", _u32(p + 4))
    PyObject_GenericSetAttr(packet, "ssrc", _u32(p + 8))
    PyObject_GenericSetAttr(packet, "payload", payload)
    PyObject_GenericSetAttr(packet, "marker", (second & 0x80) != 0)
    PyObject_GenericSetAttr(packet, "csrc", csrc)
    PyObject_GenericSetAttr(packet, "extension", extension)
    PyObject_GenericSetAttr(packet, "padding_size", padding_size)
    return packet


cdef object _header_extension = None
cdef object _packet = None


cdef object _Packet():
    # wire.rtp.packet imports this module at its end: look the class up on first use.
    global _packet
    if _packet is None:
        from wire.rtp.packet import RtpPacket

        _packet = RtpPacket
    return _packet


cdef object _HeaderExtension():
    # wire.rtp.packet imports this module at its end: look the class up on first use.
    global _header_extension
    if _header_extension is None:
        from wire.rtp.packet import HeaderExtension

        _header_extension = HeaderExtension
    return _header_extension
