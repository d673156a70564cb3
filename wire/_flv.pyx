# cython: language_level=3, boundscheck=False, wraparound=False
"""Compiled :meth:`wire.flv.VideoTag.parse` and :meth:`wire.flv.AudioTag.parse` for the tags every
RTMP publisher sends: legacy video (AVC, the pre-standard HEVC CodecID 12, other CodecIDs) and
legacy audio (AAC, other SoundFormats), Adobe's FLV specification v10.1 annex E.

The references are ``_parse_video_py`` and ``_parse_audio_py`` in :mod:`wire.flv`. Only the
well-formed legacy layouts of a ``bytes`` body are decoded here; everything else (Enhanced RTMP
tags, malformed bodies, other buffer types) goes to the reference itself, so errors, their text
and the type of ``data`` are the reference's by construction. Every index is checked against the
body's length before it is read, which is why bounds checking is off.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.object cimport PyObject_GenericSetAttr

cdef enum:
    EX_VIDEO_HEADER = 0x80  # Enhanced RTMP's isExVideoHeader bit
    FRAME_TYPE_COMMAND = 5
    CODEC_ID_AVC = 7
    CODEC_ID_HEVC_COMMUNITY = 12
    AVC_HEADER_SIZE = 5  # frame type and codec, AVCPacketType, CompositionTime (SI24)
    AVC_PACKET_TYPE_MAX = 2  # sequence header, NALU, end of sequence
    SOUND_FORMAT_EX_HEADER = 9
    SOUND_FORMAT_AAC = 10
    AAC_RAW = 1

cdef object _flv = None


cdef object _module():
    # wire.flv imports this module before its classes exist: look it up on first use.
    global _flv
    if _flv is None:
        import wire.flv

        _flv = wire.flv
    return _flv


def parse_video(cls, data):
    """Parse a video tag body as ``cls``; raises ``FlvError`` when it is malformed."""
    if type(data) is not bytes:
        return _module()._parse_video_py(cls, data)
    cdef const unsigned char* p = <const unsigned char*>PyBytes_AS_STRING(data)
    cdef Py_ssize_t size = PyBytes_GET_SIZE(data)
    if size == 0 or p[0] & EX_VIDEO_HEADER:
        return _module()._parse_video_py(cls, data)
    cdef int frame_type = p[0] >> 4
    cdef int codec_id = p[0] & 0x0F
    if frame_type < 1 or frame_type > FRAME_TYPE_COMMAND:
        return _module()._parse_video_py(cls, data)
    if codec_id != CODEC_ID_AVC and codec_id != CODEC_ID_HEVC_COMMUNITY:
        # No AVCPacketType, no composition time: the rest is the codec's data.
        return _video(cls, frame_type, None, PyBytes_FromStringAndSize(<const char*>p + 1, size - 1),
                      0, codec_id)
    if size < AVC_HEADER_SIZE or p[1] > AVC_PACKET_TYPE_MAX:
        return _module()._parse_video_py(cls, data)
    # CompositionTime: a signed 24-bit big-endian integer (annex E.4.3.1).
    cdef long composition_time = (p[2] << 16) | (p[3] << 8) | p[4]
    if composition_time & 0x800000:
        composition_time -= 0x1000000
    return _video(
        cls,
        frame_type,
        p[1],
        PyBytes_FromStringAndSize(<const char*>p + AVC_HEADER_SIZE, size - AVC_HEADER_SIZE),
        composition_time,
        codec_id,
    )


def parse_audio(cls, data):
    """Parse an audio tag body as ``cls``; raises ``FlvError`` when it is malformed."""
    if type(data) is not bytes:
        return _module()._parse_audio_py(cls, data)
    cdef const unsigned char* p = <const unsigned char*>PyBytes_AS_STRING(data)
    cdef Py_ssize_t size = PyBytes_GET_SIZE(data)
    if size == 0 or p[0] >> 4 == SOUND_FORMAT_EX_HEADER:
        return _module()._parse_audio_py(cls, data)
    cdef int sound_format = p[0] >> 4
    # SoundRate (2 bits), SoundSize (1), SoundType (1).
    cdef int rate = (p[0] >> 2) & 0x03
    cdef int sample_size = (p[0] >> 1) & 0x01
    cdef int channels = p[0] & 0x01
    if sound_format != SOUND_FORMAT_AAC:
        return _audio(cls, sound_format, PyBytes_FromStringAndSize(<const char*>p + 1, size - 1),
                      rate, sample_size, channels, None)
    if size < 2 or p[1] > AAC_RAW:
        return _module()._parse_audio_py(cls, data)
    return _audio(cls, sound_format, PyBytes_FromStringAndSize(<const char*>p + 2, size - 2),
                  rate, sample_size, channels, p[1])


cdef object _video(cls, frame_type, packet_type, data, composition_time, codec_id):
    flv = _module()
    if cls is not flv.VideoTag:  # a subclass may have its own __init__
        return cls(frame_type, packet_type, data, composition_time, codec_id)
    # VideoTag itself: its fields set as its __init__ sets them, without the call.
    tag = cls.__new__(cls)
    PyObject_GenericSetAttr(tag, "frame_type", frame_type)
    PyObject_GenericSetAttr(tag, "packet_type", packet_type)
    PyObject_GenericSetAttr(tag, "data", data)
    PyObject_GenericSetAttr(tag, "composition_time", composition_time)
    PyObject_GenericSetAttr(tag, "codec_id", codec_id)
    PyObject_GenericSetAttr(tag, "fourcc", None)
    return tag


cdef object _audio(cls, sound_format, data, sound_rate, sound_size, sound_type, packet_type):
    flv = _module()
    if cls is not flv.AudioTag:
        return cls(sound_format, data, sound_rate, sound_size, sound_type, packet_type)
    tag = cls.__new__(cls)
    PyObject_GenericSetAttr(tag, "sound_format", sound_format)
    PyObject_GenericSetAttr(tag, "data", data)
    PyObject_GenericSetAttr(tag, "sound_rate", sound_rate)
    PyObject_GenericSetAttr(tag, "sound_size", sound_size)
    PyObject_GenericSetAttr(tag, "sound_type", sound_type)
    PyObject_GenericSetAttr(tag, "packet_type", packet_type)
    PyObject_GenericSetAttr(tag, "fourcc", None)
    return tag
