# cython: language_level=3, boundscheck=False, wraparound=False
"""Compiled readers of the camsim stamp (:mod:`wire.codec.stamp`), each in one pass.

- :func:`stamp_wallclock`; its reference is ``_stamp_wallclock_py`` (``find_stamp`` then
  ``Stamp.parse``): the first occurrence of the stamp UUID, None when the 32 bytes of UUID and
  stamp do not fit after it, when the version byte is not 0x81, when a frame index or wallclock
  byte lacks its marker bit (0x80), or when the wallclock is 0.
- :func:`read_stamp_nalus`; its reference is ``_read_stamp_nalus_py``: the stamp of the first SEI
  NAL unit holding the UUID with room for the stamp after it. A stamp this code cannot read (a
  wrong version byte or a missing marker bit) is handed to ``Stamp.parse``, which raises the
  reference's error; so is a NAL unit that is not ``bytes``.

Every index is checked against the buffer's length before it is read, which is why bounds
checking is off.
"""

import itertools

from libc.stdint cimport uint64_t
from libc.string cimport memchr, memcmp

from wire.codec.nal import VideoCodec
from wire.codec.stamp import STAMP_UUID, Stamp, _read_stamp_nalus_py

cdef enum:
    UUID_SIZE = 16
    SEI_PAYLOAD_SIZE = 32  # UUID and stamp
    VERSION_BYTE = 0x81  # the marker bit and STAMP_VERSION 1
    FRAME_INDEX_BYTES = 5
    WALLCLOCK_BYTES = 10

cdef enum:
    H264_NAL_SEI = 6
    H265_NAL_PREFIX_SEI = 39
    H265_NAL_SUFFIX_SEI = 40

cdef bytes _UUID = STAMP_UUID
cdef const unsigned char* _uuid = _UUID
cdef object _H264 = VideoCodec.H264
# A Stamp is made as its frozen dataclass's __init__ would, without the __init__: the two slots
# set through their descriptors (a frozen dataclass forbids only __setattr__).
cdef object _new_stamp = Stamp.__new__
cdef object _set_frame_index = Stamp.frame_index.__set__
cdef object _set_wallclock_us = Stamp.wallclock_us.__set__


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


cdef bint _marked(const unsigned char* p) noexcept:
    """The version byte at ``p`` (just after the UUID) and every stamp byte after it marked."""
    cdef Py_ssize_t i
    if p[0] != VERSION_BYTE:
        return False
    for i in range(1, 1 + FRAME_INDEX_BYTES + WALLCLOCK_BYTES):
        if not p[i] & 0x80:
            return False
    return True


cdef object _wallclock(const unsigned char* p):
    """The 70-bit wallclock whose 10 bytes start at ``p``, big-endian, 7 bits a byte: the first
    byte's 7 bits on top of the other nine bytes' 63."""
    cdef uint64_t low = 0
    cdef unsigned int top = p[0] & 0x7F
    cdef Py_ssize_t i
    for i in range(1, WALLCLOCK_BYTES):
        low = (low << 7) | (p[i] & 0x7F)
    if top == 0:
        return low
    return (<object>top << 63) | low


def read_stamp_nalus(codec, nalus):
    """The stamp among an access unit's NAL units (``bytes``), or None."""
    cdef bint h264 = codec is _H264
    cdef Py_ssize_t size, offset, i
    cdef const unsigned char* p
    cdef uint64_t frame_index
    cdef unsigned int kind
    iterator = iter(nalus)
    for nal in iterator:
        if type(nal) is not bytes:
            return _read_stamp_nalus_py(codec, itertools.chain((nal,), iterator))
        size = len(<bytes>nal)
        p = <const unsigned char*><bytes>nal
        if h264:
            if size < 1 or p[0] & 0x1F != H264_NAL_SEI:
                continue
        else:
            if size < 2:
                continue
            kind = (p[0] >> 1) & 0x3F
            if kind != H265_NAL_PREFIX_SEI and kind != H265_NAL_SUFFIX_SEI:
                continue
        offset = _find_uuid(p, size)
        if offset < 0 or offset + SEI_PAYLOAD_SIZE > size:
            continue
        p += offset + UUID_SIZE
        if not _marked(p):
            return Stamp.parse(nal, offset)  # raises what the reference raises
        frame_index = 0
        for i in range(1, 1 + FRAME_INDEX_BYTES):
            frame_index = (frame_index << 7) | (p[i] & 0x7F)
        stamp = _new_stamp(Stamp)
        _set_frame_index(stamp, frame_index)
        _set_wallclock_us(stamp, _wallclock(p + 1 + FRAME_INDEX_BYTES))
        return stamp
    return None


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
    if not _marked(p):
        return None
    wallclock = _wallclock(p + 1 + FRAME_INDEX_BYTES)
    return wallclock if wallclock != 0 else None
