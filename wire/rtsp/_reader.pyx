# cython: language_level=3
"""Compiled framing of RTP/RTCP interleaved on an RTSP connection (RFC 2326 §10.12).

The reference is ``_split_frames_py`` in :mod:`wire.rtsp.reader`: the same frames from the same
buffer, which it leaves cut the same way.
"""

from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_GET_SIZE
from cpython.bytes cimport PyBytes_FromStringAndSize

from wire.rtsp.message import InterleavedFrame

cdef enum:
    INTERLEAVED_MAGIC = 0x24  # "$"
    INTERLEAVED_HEADER_SIZE = 4


def split_frames(bytearray buffer not None):
    """The complete ``$`` frames at the front of ``buffer``, removed from it; stops at the first
    incomplete frame or the first byte that is not ``$``."""
    cdef const unsigned char* p = <const unsigned char*>PyByteArray_AS_STRING(buffer)
    cdef Py_ssize_t size = PyByteArray_GET_SIZE(buffer)
    cdef Py_ssize_t pos = 0
    cdef Py_ssize_t end
    cdef list frames = []
    while pos + INTERLEAVED_HEADER_SIZE <= size and p[pos] == INTERLEAVED_MAGIC:
        # '$', channel, 16-bit payload length, then the payload
        end = pos + INTERLEAVED_HEADER_SIZE + ((p[pos + 2] << 8) | p[pos + 3])
        if end > size:
            break
        payload = PyBytes_FromStringAndSize(
            <const char*>p + pos + INTERLEAVED_HEADER_SIZE, end - pos - INTERLEAVED_HEADER_SIZE
        )
        frames.append(InterleavedFrame(p[pos + 1], payload))
        pos = end
    if pos:
        del buffer[:pos]
    return frames
