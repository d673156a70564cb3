# cython: language_level=3, boundscheck=False, wraparound=False
"""Compiled :func:`wire.codec.stamp.stamp_wallclock`: the camsim stamp's wallclock in one pass.

The reference is ``_stamp_wallclock_py`` in :mod:`wire.codec.stamp` (``find_stamp`` then
``Stamp.parse``): the first occurrence of the stamp UUID, None when the 32 bytes of UUID and stamp
do not fit after it, when the version byte is not 0x81, when a frame index or wallclock byte lacks
its marker bit (0x80), or when the wallclock is 0. Every index is checked against the buffer's
length before it is read, which is why bounds checking is off.
"""

from libc.stdint cimport uint64_t
from libc.string cimport memchr, memcmp

from wire.codec.stamp import STAMP_UUID

cdef enum:
    UUID_SIZE = 16
    SEI_PAYLOAD_SIZE = 32  # UUID and stamp
    VERSION_BYTE = 0x81  # the marker bit and STAMP_VERSION 1
    FRAME_INDEX_BYTES = 5
    WALLCLOCK_BYTES = 10

cdef bytes _UUID = STAMP_UUID
cdef const unsigned char* _uuid = _UUID


cdef Py_ssize_t _find_uuid(const unsigned char* p, Py_ssize_t size) noexcept:
    """``bytes.find(STAMP_UUID)``: the first offset of the UUID, or -1."""
    cdef Py_ssize_t pos = 0
    cdef const unsigned char* hit
    while size - pos >= UUID_SIZE:
        hit = <const unsigned char*>memchr(p + pos, _uuid[0], size - pos - UUID_SIZE + 1)
        if hit == NULL:
            return -1
        pos = hit - p
        if memcmp(hit, _uuid, UUID_SIZE) == 0:
            return pos
        pos += 1
    return -1


def stamp_wallclock(buf):
    """The wallclock (µs) written in the first stamp in ``buf`` (bytes or bytearray), or None."""
    cdef const unsigned char[:] view = buf
    cdef Py_ssize_t size = view.shape[0]
    cdef const unsigned char* p
    cdef Py_ssize_t offset, i
    cdef uint64_t low = 0
    cdef unsigned int top
    if size < SEI_PAYLOAD_SIZE:
        return None
    p = &view[0]
    offset = _find_uuid(p, size)
    if offset < 0 or offset + SEI_PAYLOAD_SIZE > size:
        return None
    p += offset + UUID_SIZE
    if p[0] != VERSION_BYTE:
        return None
    # Every stamp byte carries 7 bits under a set top bit (see the module docstring of stamp.py).
    for i in range(1, 1 + FRAME_INDEX_BYTES + WALLCLOCK_BYTES):
        if not p[i] & 0x80:
            return None
    p += 1 + FRAME_INDEX_BYTES
    # 70 bits, big-endian: the first byte's 7 bits on top of the other nine bytes' 63.
    top = p[0] & 0x7F
    for i in range(1, WALLCLOCK_BYTES):
        low = (low << 7) | (p[i] & 0x7F)
    if top == 0:
        return low if low != 0 else None
    return (<object>top << 63) | low
