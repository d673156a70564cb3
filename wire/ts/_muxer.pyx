# cython: language_level=3
"""The byte path of :mod:`wire.ts.muxer`, compiled: access unit to TS packets in one pass.

``video_packets``, ``audio_packets`` and ``packetize`` take the arguments of
``wire.ts.muxer._video_packets_py``, ``_audio_packets_py`` and ``_packetize_py`` and return what
they return. Where the pure code joins the NAL units behind start codes (or the AAC frames behind
ADTS headers), serializes a PES around them and slices that into packets, this computes the size
of the result, allocates it once and writes every header and every payload byte straight to its
place: no intermediate bytes, list or memoryview per packet.

Anything off the well-travelled path (an argument that is not exactly ``bytes`` or ``int``, a NAL
unit too short for its header, an audio PES over 65535 bytes, a codec that is neither H.264 nor
H.265...) is handed to the pure reference, which then returns or raises exactly what it always
does: the compiled code has no error messages of its own to keep in step.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from libc.stdint cimport uint64_t
from libc.string cimport memcpy, memset

from wire.codec.aac import _adts_header  # the cached header adts_frame puts before a frame
from wire.codec.nal import VideoCodec

cdef object _H264 = VideoCodec.H264
cdef object _H265 = VideoCodec.H265

cdef enum:
    TS_PACKET_SIZE = 188
    TS_HEADER_SIZE = 4
    MAX_PAYLOAD_SIZE = 184
    SYNC_BYTE = 0x47
    PAYLOAD_UNIT_START = 0x40  # payload_unit_start_indicator in the second header byte
    PAYLOAD_ONLY = 0x10  # adaptation_field_control '01'
    ADAPTED = 0x30  # adaptation_field_control '11': adaptation field, then payload
    AF_RANDOM_ACCESS = 0x40
    AF_PCR = 0x10
    PCR_SIZE = 6
    PCR_PER_90KHZ_TICK = 300
    PCR_DELAY = 9000  # the PCR runs 100 ms behind the DTS (wire.ts.muxer.PCR_DELAY)
    PID_VIDEO = 0x100
    PID_AUDIO = 0x101
    STREAM_ID_AUDIO = 0xC0
    STREAM_ID_VIDEO = 0xE0
    PES_HEADER_SIZE = 9  # start code, stream_id, PES_packet_length, flags, flags, length
    TIMESTAMP_SIZE = 5
    MAX_PES_PACKET_LENGTH = 0xFFFF
    START_CODE_SIZE = 4
    # H.264 Table 7-1 and H.265 Table 7-1
    H264_NAL_SPS = 7
    H264_NAL_PPS = 8
    H264_NAL_AUD = 9
    H265_NAL_VPS = 32
    H265_NAL_SPS = 33
    H265_NAL_PPS = 34
    H265_NAL_AUD = 35

# PTS, DTS and the PCR base are 33-bit counts of a 90 kHz clock that wrap (§2.4.3.7, §2.4.3.5).
TIMESTAMP_MODULUS = 1 << 33

cdef const unsigned char* START_CODE = b"\x00\x00\x00\x01"

# Access unit delimiters, as wire.ts.muxer.AUD_NAL: H.264 primary_pic_type 7, H.265 pic_type 2,
# each followed by the RBSP stop bit.
cdef bytes AUD_H264 = bytes([H264_NAL_AUD, 0xF0])
cdef bytes AUD_H265 = bytes([H265_NAL_AUD << 1, 0x01, 0x50])

cdef object _pure_module = None


cdef object _pure():
    """wire.ts.muxer, imported on first need: it imports this module at its own import."""
    global _pure_module
    if _pure_module is None:
        from wire.ts import muxer

        _pure_module = muxer
    return _pure_module


# -- The PES as pieces read in order, and the packets they are written into -----------------


cdef struct Piece:
    const unsigned char* data
    Py_ssize_t size


cdef struct Source:
    Piece* pieces
    Py_ssize_t index  # the piece being read
    Py_ssize_t offset  # how much of it is read


cdef void _read(Source* src, unsigned char* dst, Py_ssize_t n) noexcept nogil:
    """Copy the next ``n`` bytes of the pieces to ``dst``; the caller never asks for more than
    they hold (the plan splits exactly their total)."""
    cdef Piece* piece
    cdef Py_ssize_t take
    while n > 0:
        piece = &src.pieces[src.index]
        take = piece.size - src.offset
        if take > n:
            take = n
        memcpy(dst, piece.data + src.offset, take)
        dst += take
        n -= take
        src.offset += take
        if src.offset == piece.size:
            src.index += 1
            src.offset = 0


cdef struct Plan:
    Py_ssize_t first  # PES bytes in the first packet
    bint first_adapted  # whether the first packet has an adaptation field
    Py_ssize_t full  # packets of 184 PES bytes after the first
    Py_ssize_t last  # PES bytes in a last packet stuffed by its adaptation field, 0: none


cdef Plan _plan(Py_ssize_t end, bint has_pcr, bint random_access) noexcept nogil:
    """How ``end`` bytes of PES split into packets, as ``_packetize_py`` splits them."""
    cdef Plan plan
    cdef bint flagged = has_pcr or random_access
    cdef Py_ssize_t room = MAX_PAYLOAD_SIZE
    # Only the first packet (PCR, random access) and the last (stuffing) need an adaptation
    # field: flags and the PCR take 2 + 6 bytes of the first packet's 184.
    plan.first_adapted = flagged or end < MAX_PAYLOAD_SIZE
    if flagged:
        room -= 2 + (PCR_SIZE if has_pcr else 0)
    plan.first = end if end < room else room
    plan.full = (end - plan.first) // MAX_PAYLOAD_SIZE
    plan.last = end - plan.first - plan.full * MAX_PAYLOAD_SIZE
    return plan


cdef unsigned char* _adapted_header(
    unsigned char* p,
    unsigned char unit_start_pid_high,
    unsigned char pid_low,
    int counter,
    Py_ssize_t payload,
    unsigned char flags,
    bint has_pcr,
    uint64_t pcr_base,
    int pcr_extension,
) noexcept nogil:
    """Write a packet header and the adaptation field (§2.4.3.4) that takes what ``payload``
    bytes leave of the 184: flags, the PCR, then 0xFF stuffing; a single spare byte is a field
    of length 0 (§2.4.3.5). Returns where the payload goes."""
    cdef Py_ssize_t field = MAX_PAYLOAD_SIZE - payload
    cdef unsigned char* q
    cdef uint64_t value
    cdef int k
    p[0] = SYNC_BYTE
    p[1] = unit_start_pid_high
    p[2] = pid_low
    p[3] = ADAPTED | counter
    p += TS_HEADER_SIZE
    if field == 1:
        p[0] = 0
        return p + 1
    p[0] = <unsigned char>(field - 1)  # adaptation_field_length: the bytes after it
    p[1] = flags
    q = p + 2
    if has_pcr:
        # program_clock_reference_base (33 bits), reserved (6, all ones), extension (9).
        value = (pcr_base << 15) | (<uint64_t>0x3F << 9) | <uint64_t>pcr_extension
        for k in range(PCR_SIZE):
            q[k] = (value >> (8 * (PCR_SIZE - 1 - k))) & 0xFF
        q += PCR_SIZE
    memset(q, 0xFF, (p + field) - q)
    return p + field


cdef int _write_packets(
    unsigned char* out,
    const Plan* plan,
    int pid,
    int counter,
    Source* src,
    bint has_pcr,
    uint64_t pcr_base,
    int pcr_extension,
    bint random_access,
) noexcept nogil:
    """Write the packets of ``plan`` (§2.4.3.2), the first one counted ``counter``, with the
    PES bytes of ``src``; returns the continuity counter of the last."""
    cdef unsigned char pid_high = (pid >> 8) & 0x1F
    cdef unsigned char pid_low = pid & 0xFF
    cdef unsigned char flags
    cdef unsigned char* p = out
    cdef Py_ssize_t i
    if plan.first_adapted:
        flags = (AF_RANDOM_ACCESS if random_access else 0) | (AF_PCR if has_pcr else 0)
        p = _adapted_header(
            p,
            PAYLOAD_UNIT_START | pid_high,
            pid_low,
            counter,
            plan.first,
            flags,
            has_pcr,
            pcr_base,
            pcr_extension,
        )
    else:
        p[0] = SYNC_BYTE
        p[1] = PAYLOAD_UNIT_START | pid_high
        p[2] = pid_low
        p[3] = PAYLOAD_ONLY | counter
        p += TS_HEADER_SIZE
    _read(src, p, plan.first)
    p += plan.first
    for i in range(plan.full):
        counter = (counter + 1) & 0x0F
        p[0] = SYNC_BYTE
        p[1] = pid_high
        p[2] = pid_low
        p[3] = PAYLOAD_ONLY | counter
        _read(src, p + TS_HEADER_SIZE, MAX_PAYLOAD_SIZE)
        p += TS_PACKET_SIZE
    if plan.last:
        counter = (counter + 1) & 0x0F
        p = _adapted_header(p, pid_high, pid_low, counter, plan.last, 0, False, 0, 0)
        _read(src, p, plan.last)
    return counter


cdef tuple _packets(
    int pid,
    Piece* pieces,
    Py_ssize_t end,
    int counter,
    bint has_pcr,
    uint64_t pcr_base,
    int pcr_extension,
    bint random_access,
):
    """The packets of the ``end`` PES bytes in ``pieces`` as one new bytes object, and the
    continuity counter of the last."""
    cdef Plan plan = _plan(end, has_pcr, random_access)
    cdef Py_ssize_t count = 1 + plan.full + (1 if plan.last else 0)
    cdef bytes data = PyBytes_FromStringAndSize(NULL, count * TS_PACKET_SIZE)
    cdef Source src
    src.pieces = pieces
    src.index = 0
    src.offset = 0
    last = _write_packets(
        <unsigned char*>PyBytes_AS_STRING(data),
        &plan,
        pid,
        counter,
        &src,
        has_pcr,
        pcr_base,
        pcr_extension,
        random_access,
    )
    return data, last


# -- PES header (§2.4.3.6, §2.4.3.7) -----------------------------------------------------------


cdef void _write_timestamp(unsigned char* p, int prefix, uint64_t value) noexcept nogil:
    """A PTS or DTS: 4-bit prefix, then 33 bits in pieces of 3, 15 and 15, each followed by a
    marker bit."""
    p[0] = (prefix << 4) | ((value >> 29) & 0x0E) | 1
    p[1] = (value >> 22) & 0xFF
    p[2] = ((value >> 14) & 0xFE) | 1
    p[3] = (value >> 7) & 0xFF
    p[4] = ((value << 1) & 0xFE) | 1


cdef Py_ssize_t _write_pes_header(
    unsigned char* p,
    int stream_id,
    Py_ssize_t length,
    bint with_dts,
    uint64_t pts,
    uint64_t dts,
) noexcept nogil:
    """The PES header with a PTS (and a DTS), data_alignment_indicator set, as
    ``PesPacket.serialize`` writes it; ``length`` is PES_packet_length. Returns its size."""
    cdef Py_ssize_t stamps = TIMESTAMP_SIZE * (2 if with_dts else 1)
    p[0] = 0
    p[1] = 0
    p[2] = 1
    p[3] = stream_id
    p[4] = (length >> 8) & 0xFF
    p[5] = length & 0xFF
    # '10', not scrambled, no priority, data_alignment_indicator, no copyright, original.
    p[6] = 0x80 | 0x04
    p[7] = (0b11 if with_dts else 0b10) << 6  # PTS_DTS_flags
    p[8] = stamps  # PES_header_data_length
    if with_dts:
        _write_timestamp(p + PES_HEADER_SIZE, 0b0011, pts)
        _write_timestamp(p + PES_HEADER_SIZE + TIMESTAMP_SIZE, 0b0001, dts)
    else:
        _write_timestamp(p + PES_HEADER_SIZE, 0b0010, pts)
    return PES_HEADER_SIZE + stamps


# -- Video: AUD, parameter sets, Annex B -------------------------------------------------------


cdef inline int _nal_type(bytes nal, bint h265):
    cdef const unsigned char* data = <const unsigned char*>PyBytes_AS_STRING(nal)
    return (data[0] >> 1) & 0x3F if h265 else data[0] & 0x1F


cdef inline bint _is_parameter_set(int kind, bint h265):
    if h265:
        return kind == H265_NAL_VPS or kind == H265_NAL_SPS or kind == H265_NAL_PPS
    return kind == H264_NAL_SPS or kind == H264_NAL_PPS


cdef list _complete(bint h265, parameter_sets, nalus, bint keyframe):
    """``wire.ts.muxer._complete``, or None where it would raise (a NAL unit shorter than its
    header) or where an argument is not a list or tuple of bytes."""
    cdef Py_ssize_t header_size = 2 if h265 else 1
    cdef list units = []
    cdef list out = []
    cdef Py_ssize_t start = 0
    cdef Py_ssize_t i
    cdef uint64_t present = 0
    cdef int kind
    if type(nalus) is not list and type(nalus) is not tuple:
        return None
    for nal in nalus:
        if type(nal) is not bytes:
            return None
        if PyBytes_GET_SIZE(nal):
            units.append(nal)
    if units and PyBytes_GET_SIZE(units[0]) < header_size:
        return None
    if units and _nal_type(units[0], h265) == (H265_NAL_AUD if h265 else H264_NAL_AUD):
        out.append(units[0])
        start = 1
    else:
        out.append(AUD_H265 if h265 else AUD_H264)
    if keyframe:
        # H.264 §7.4.1.2.3 order: AUD, parameter sets, the rest; only those not present.
        for i in range(start, len(units)):
            if PyBytes_GET_SIZE(units[i]) < header_size:
                return None
            present |= <uint64_t>1 << _nal_type(units[i], h265)
        if type(parameter_sets) is not tuple and type(parameter_sets) is not list:
            return None
        for nal in parameter_sets:
            if type(nal) is not bytes or PyBytes_GET_SIZE(nal) < header_size:
                return None
            kind = _nal_type(nal, h265)
            if _is_parameter_set(kind, h265) and not (present >> kind) & 1:
                out.append(nal)
    for i in range(start, len(units)):
        out.append(units[i])
    return out


cdef object _video_packets(codec, parameter_sets, nalus, pts, dts, keyframe, previous):
    cdef bint h265
    cdef list nals
    cdef Py_ssize_t count, i, end, header_size
    cdef Piece* pieces
    cdef unsigned char header[PES_HEADER_SIZE + 2 * TIMESTAMP_SIZE]
    if codec is _H264:
        h265 = False
    elif codec is _H265:
        h265 = True
    else:
        return None
    if type(pts) is not int or type(dts) is not int or type(previous) is not int:
        return None
    if keyframe is not True and keyframe is not False:
        return None
    nals = _complete(h265, parameter_sets, nalus, keyframe)
    if nals is None:
        return None
    with_dts = dts != pts
    # An unbounded PES (PES_packet_length 0), allowed for video (§2.4.3.7).
    header_size = _write_pes_header(
        header,
        STREAM_ID_VIDEO,
        0,
        with_dts,
        pts % TIMESTAMP_MODULUS,
        dts % TIMESTAMP_MODULUS if with_dts else 0,
    )
    pcr_base = dts - PCR_DELAY
    if pcr_base < 0:
        pcr_base = 0
    pcr_base %= TIMESTAMP_MODULUS
    counter = (previous + 1) & 0x0F
    count = 1 + 2 * len(nals)
    pieces = <Piece*>PyMem_Malloc(count * sizeof(Piece))
    if pieces == NULL:
        raise MemoryError()
    try:
        pieces[0].data = header
        pieces[0].size = header_size
        end = header_size
        for i in range(len(nals)):
            nal = nals[i]
            pieces[1 + 2 * i].data = START_CODE
            pieces[1 + 2 * i].size = START_CODE_SIZE
            pieces[2 + 2 * i].data = <const unsigned char*>PyBytes_AS_STRING(nal)
            pieces[2 + 2 * i].size = PyBytes_GET_SIZE(nal)
            end += START_CODE_SIZE + PyBytes_GET_SIZE(nal)
        return _packets(PID_VIDEO, pieces, end, counter, True, pcr_base, 0, keyframe)
    finally:
        PyMem_Free(pieces)


def video_packets(codec, parameter_sets, nalus, pts, dts, keyframe, previous):
    """One picture as the TS packets of a PES on the video PID, and the continuity counter of
    the last: ``wire.ts.muxer._video_packets_py`` in one pass."""
    result = _video_packets(codec, parameter_sets, nalus, pts, dts, keyframe, previous)
    if result is None:
        return _pure()._video_packets_py(
            codec, parameter_sets, nalus, pts, dts, keyframe, previous
        )
    return result


# -- Audio: ADTS frames ------------------------------------------------------------------------


cdef object _audio_packets(asc, raws, pts, with_pcr, previous):
    cdef list headers = []
    cdef list frames = []  # the frames as checked, whatever happens to ``raws`` meanwhile
    cdef Py_ssize_t count, i, end, header_size, length
    cdef Piece* pieces
    cdef unsigned char header[PES_HEADER_SIZE + TIMESTAMP_SIZE]
    if type(pts) is not int or type(previous) is not int:
        return None
    if with_pcr is not True and with_pcr is not False:
        return None
    if type(raws) is not list and type(raws) is not tuple:
        return None
    length = 3 + TIMESTAMP_SIZE  # PES_packet_length counts from the flags on
    for raw in raws:
        if type(raw) is not bytes:
            return None
        # Raises as adts_frame does for a frame ADTS cannot describe.
        adts = _adts_header(asc, PyBytes_GET_SIZE(raw))
        if type(adts) is not bytes:
            return None
        headers.append(adts)
        frames.append(raw)
        length += PyBytes_GET_SIZE(adts) + PyBytes_GET_SIZE(raw)
    if length > MAX_PES_PACKET_LENGTH:
        return None  # audio has no unbounded PES: the pure code raises
    header_size = _write_pes_header(
        header, STREAM_ID_AUDIO, length, False, pts % TIMESTAMP_MODULUS, 0
    )
    if with_pcr:
        pcr_base = pts - PCR_DELAY
        if pcr_base < 0:
            pcr_base = 0
        pcr_base %= TIMESTAMP_MODULUS
    else:
        pcr_base = 0
    counter = (previous + 1) & 0x0F
    count = 1 + 2 * len(headers)
    pieces = <Piece*>PyMem_Malloc(count * sizeof(Piece))
    if pieces == NULL:
        raise MemoryError()
    try:
        pieces[0].data = header
        pieces[0].size = header_size
        end = header_size
        for i in range(len(headers)):
            adts = headers[i]
            raw = frames[i]
            pieces[1 + 2 * i].data = <const unsigned char*>PyBytes_AS_STRING(adts)
            pieces[1 + 2 * i].size = PyBytes_GET_SIZE(adts)
            pieces[2 + 2 * i].data = <const unsigned char*>PyBytes_AS_STRING(raw)
            pieces[2 + 2 * i].size = PyBytes_GET_SIZE(raw)
            end += PyBytes_GET_SIZE(adts) + PyBytes_GET_SIZE(raw)
        return _packets(PID_AUDIO, pieces, end, counter, with_pcr, pcr_base, 0, True)
    finally:
        PyMem_Free(pieces)


def audio_packets(asc, raws, pts, with_pcr, previous):
    """Raw AAC frames behind their ADTS headers as the TS packets of one PES on the audio PID,
    and the continuity counter of the last: ``wire.ts.muxer._audio_packets_py`` in one pass."""
    result = _audio_packets(asc, raws, pts, with_pcr, previous)
    if result is None:
        return _pure()._audio_packets_py(asc, raws, pts, with_pcr, previous)
    return result


# -- Any PES -----------------------------------------------------------------------------------


cdef object _packetize(pid, pes, previous, pcr, random_access):
    cdef Piece piece
    if type(pid) is not int or not 0 <= pid <= 0x1FFF:
        return None
    if type(pes) is not bytes or type(previous) is not int:
        return None
    if random_access is not True and random_access is not False:
        return None
    if pcr is None:
        pcr_base, pcr_extension = 0, 0
    elif type(pcr) is int:
        pcr_base, pcr_extension = divmod(pcr, PCR_PER_90KHZ_TICK)
        pcr_base %= TIMESTAMP_MODULUS
    else:
        return None
    piece.data = <const unsigned char*>PyBytes_AS_STRING(pes)
    piece.size = PyBytes_GET_SIZE(pes)
    counter = (previous + 1) & 0x0F
    return _packets(
        pid, &piece, piece.size, counter, pcr is not None, pcr_base, pcr_extension, random_access
    )


def packetize(pid, pes, previous, pcr, random_access):
    """A PES as TS packets on ``pid`` and the continuity counter of the last:
    ``wire.ts.muxer._packetize_py`` in one pass."""
    result = _packetize(pid, pes, previous, pcr, random_access)
    if result is None:
        return _pure()._packetize_py(pid, pes, previous, pcr, random_access)
    return result
