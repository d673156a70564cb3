# cython: language_level=3
"""Compiled framing of RTP/RTCP interleaved on an RTSP connection (RFC 2326 §10.12).

The reference is ``_split_frames_py`` in :mod:`wire.rtsp.reader`: the same frames from the same
buffer, which it leaves cut the same way.
"""

from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_GET_SIZE
from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.object cimport PyObject_GenericSetAttr

from wire.rtsp.events import InterleavedFrameReceived
from wire.rtsp.message import InterleavedFrame

cdef enum:
    INTERLEAVED_MAGIC = 0x24  # "$"
    INTERLEAVED_HEADER_SIZE = 4

# The two (channel, payload) classes built here, a couple of hundred times a second per stream:
# frozen dataclasses, whose generated __init__ sets each field with object.__setattr__. Setting
# them the same way from C, without the call, gives the same object for a fraction of the cost.
cdef tuple _PLAIN_KINDS = (InterleavedFrame, InterleavedFrameReceived)
cdef str _CHANNEL = "channel"
cdef str _PAYLOAD = "payload"


cdef object _build(object kind, bint plain, int channel, bytes payload):
    if not plain:
        return kind(channel, payload)
    frame = kind.__new__(kind)
    PyObject_GenericSetAttr(frame, _CHANNEL, channel)
    PyObject_GenericSetAttr(frame, _PAYLOAD, payload)
    return frame


def split_frames(bytearray buffer not None, kind):
    """The complete ``$`` frames at the front of ``buffer``, each as ``kind(channel, payload)``,
    removed from it; stops at the first incomplete frame or the first byte that is not ``$``."""
    cdef const unsigned char* p = <const unsigned char*>PyByteArray_AS_STRING(buffer)
    cdef Py_ssize_t size = PyByteArray_GET_SIZE(buffer)
    cdef Py_ssize_t pos = 0
    cdef Py_ssize_t end
    cdef bint plain = kind in _PLAIN_KINDS
    cdef list frames = []
    while pos + INTERLEAVED_HEADER_SIZE <= size and p[pos] == INTERLEAVED_MAGIC:
        # '$', channel, 16-bit payload length, then the payload
        end = pos + INTERLEAVED_HEADER_SIZE + ((p[pos + 2] << 8) | p[pos + 3])
        if end > size:
            break
        payload = PyBytes_FromStringAndSize(
            <const char*>p + pos + INTERLEAVED_HEADER_SIZE, end - pos - INTERLEAVED_HEADER_SIZE
        )
        frames.append(_build(kind, plain, p[pos + 1], payload))
        pos = end
    if pos:
        del buffer[:pos]
    return frames
