"""An MPEG-TS muxer for HLS segments: H.264/H.265 video, ADTS AAC audio, one program.

It writes what FFmpeg's ``mpegts`` muxer writes for HLS: PAT and PMT at the start of each
segment, an access unit delimiter before each picture and the parameter sets before each
keyframe that lacks them (H.264 §7.4.1.2.3 order: AUD, SPS, PPS, then the rest), a PCR on the
video PID with every video PES, the random access indicator on keyframes, and continuity
counters that keep counting across segments so that concatenated segments are one valid stream.

The byte path of a picture or an audio batch (NAL units or ADTS frames, PES header, packets) is
``video_packets``, ``audio_packets`` and ``packetize``: the compiled ones of ``_muxer.pyx`` when
they are built (:mod:`wire.speedups`), else the pure-Python reference ``_*_py`` below.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from wire import speedups
from wire.codec.aac import AudioSpecificConfig, adts_frame
from wire.codec.nal import (
    H264_NAL_AUD,
    H265_NAL_AUD,
    VideoCodec,
    join_annexb,
    nal_type,
    parameter_set_types,
)
from wire.ts.errors import TsError
from wire.ts.packet import (
    AF_PCR,
    AF_RANDOM_ACCESS,
    MAX_PAYLOAD_SIZE,
    PCR_BASE_MODULUS,
    PCR_PER_90KHZ_TICK,
    PCR_SIZE,
    PID_PAT,
    SYNC_BYTE,
    TsPacket,
)
from wire.ts.pes import STREAM_ID_AUDIO, STREAM_ID_VIDEO, PesPacket
from wire.ts.psi import (
    STREAM_TYPE_ADTS_AAC,
    STREAM_TYPE_H264,
    STREAM_TYPE_H265,
    Pat,
    Pmt,
    PmtStream,
)

PAYLOAD_UNIT_START = 0x40  # payload_unit_start_indicator in the second header byte (§2.4.3.2)

# FFmpeg's defaults, so that segments look familiar in any analyser.
PROGRAM_NUMBER = 1
PID_PMT = 0x1000
PID_VIDEO = 0x100
PID_AUDIO = 0x101

# The PCR runs this far behind the DTS, the decoder's buffering time (T-STD, §2.4.2).
PCR_DELAY = 9000  # 100 ms at 90 kHz

STREAM_TYPES = {VideoCodec.H264: STREAM_TYPE_H264, VideoCodec.H265: STREAM_TYPE_H265}

# Access unit delimiters: H.264 primary_pic_type 7 (any slice type), H.265 pic_type 2 (I, P, B),
# each followed by the RBSP stop bit.
AUD_NAL = {
    VideoCodec.H264: bytes([H264_NAL_AUD, 0xF0]),
    VideoCodec.H265: bytes([H265_NAL_AUD << 1, 0x01, 0x50]),
}


class TsMuxer:
    """Turns access units into TS packets; one instance per stream, kept across segments."""

    def __init__(
        self,
        video: VideoCodec | None = None,
        audio: AudioSpecificConfig | None = None,
        parameter_sets: Sequence[bytes] = (),
    ) -> None:
        self._counters: dict[int, int] = {}
        self._pmt_version = -1
        self.video: VideoCodec | None = None
        self.audio: AudioSpecificConfig | None = None
        self.parameter_sets: tuple[bytes, ...] = ()
        self.configure(video, audio, parameter_sets)

    def configure(
        self,
        video: VideoCodec | None,
        audio: AudioSpecificConfig | None,
        parameter_sets: Sequence[bytes] = (),
    ) -> None:
        """Set the tracks (a new PMT version when they change); counters keep counting."""
        if video is None and audio is None:
            raise TsError("TS muxer: needs a video or an audio track")
        if (video, audio) != (self.video, self.audio):
            self._pmt_version = (self._pmt_version + 1) % 32
        self.video, self.audio = video, audio
        self.parameter_sets = tuple(parameter_sets)

    @property
    def pcr_pid(self) -> int:
        return PID_VIDEO if self.video is not None else PID_AUDIO

    def pmt(self) -> Pmt:
        streams = []
        if self.video is not None:
            streams.append(PmtStream(STREAM_TYPES[self.video], PID_VIDEO))
        if self.audio is not None:
            streams.append(PmtStream(STREAM_TYPE_ADTS_AAC, PID_AUDIO))
        return Pmt(PROGRAM_NUMBER, self.pcr_pid, tuple(streams), self._pmt_version)

    def tables(self) -> bytes:
        """A PAT and a PMT packet: the start of every segment."""
        pat = Pat({PROGRAM_NUMBER: PID_PMT})
        return self._section(PID_PAT, pat.serialize()) + self._section(
            PID_PMT, self.pmt().serialize()
        )

    def video_access_unit(
        self, nalus: Sequence[bytes], pts: int, dts: int, keyframe: bool
    ) -> bytes:
        """One picture as a PES on the video PID, AUD and parameter sets added as needed."""
        if self.video is None:
            raise TsError("TS muxer: no video track configured")
        previous = self._counters.get(PID_VIDEO, -1)
        data, self._counters[PID_VIDEO] = video_packets(
            self.video, self.parameter_sets, nalus, pts, dts, keyframe, previous
        )
        return data

    def audio_frame(self, raw: bytes, pts: int) -> bytes:
        """One raw AAC frame behind its ADTS header as a PES on the audio PID."""
        return self.audio_frames((raw,), pts)

    def audio_frames(self, raws: Sequence[bytes], pts: int) -> bytes:
        """Consecutive raw AAC frames, each behind its ADTS header, as one PES on the audio PID;
        ``pts`` is the first frame's (a decoder times the rest by their length, as for any ADTS
        stream). FFmpeg and nginx-rtmp put several frames in a PES the same way: far fewer
        packets, and far less stuffing, than one PES per frame."""
        asc = self.audio
        if asc is None:
            raise TsError("TS muxer: no audio track configured")
        previous = self._counters.get(PID_AUDIO, -1)
        data, self._counters[PID_AUDIO] = audio_packets(
            asc, raws, pts, self.video is None, previous
        )
        return data

    def _next_counter(self, pid: int) -> int:
        counter = self._counters.get(pid, -1)
        counter = (counter + 1) % 16
        self._counters[pid] = counter
        return counter

    def _section(self, pid: int, section: bytes) -> bytes:
        # pointer_field 0, the section, then 0xFF fill to the end of the packet (§2.4.4.2).
        payload = b"\x00" + section
        if len(payload) > MAX_PAYLOAD_SIZE:
            raise TsError(f"TS muxer: PSI section of {len(section)} bytes needs one packet")
        payload += b"\xff" * (MAX_PAYLOAD_SIZE - len(payload))
        packet = TsPacket(pid, self._next_counter(pid), payload, payload_unit_start=True)
        return packet.serialize()


def _video_packets_py(
    codec: VideoCodec,
    parameter_sets: Sequence[bytes],
    nalus: Sequence[bytes],
    pts: int,
    dts: int,
    keyframe: bool,
    previous: int,
) -> tuple[bytes, int]:
    """One picture as the TS packets of a PES on the video PID, and the continuity counter of
    the last; ``previous`` is the counter of the PID's packet before (-1: none yet)."""
    payload = join_annexb(_complete(codec, parameter_sets, nalus, keyframe))
    pes = PesPacket(STREAM_ID_VIDEO, payload, pts, dts, data_alignment=True, bounded=False)
    pcr = max(0, dts - PCR_DELAY) * PCR_PER_90KHZ_TICK
    return _packetize_py(PID_VIDEO, pes.serialize(), previous, pcr, keyframe)


def _audio_packets_py(
    asc: AudioSpecificConfig, raws: Sequence[bytes], pts: int, with_pcr: bool, previous: int
) -> tuple[bytes, int]:
    """Raw AAC frames behind their ADTS headers as the TS packets of one PES on the audio PID,
    carrying the PCR when ``with_pcr`` (no video PID to carry it), and the last one's counter."""
    payload = b"".join([adts_frame(asc, raw) for raw in raws])
    pes = PesPacket(STREAM_ID_AUDIO, payload, pts, data_alignment=True)
    pcr = max(0, pts - PCR_DELAY) * PCR_PER_90KHZ_TICK if with_pcr else None
    return _packetize_py(PID_AUDIO, pes.serialize(), previous, pcr, True)


def _complete(
    codec: VideoCodec, parameter_sets: Sequence[bytes], nalus: Sequence[bytes], keyframe: bool
) -> list[bytes]:
    """The picture's non-empty NAL units behind an AUD, with the parameter sets a keyframe
    lacks after it."""
    units = [nal for nal in nalus if nal]
    aud = AUD_NAL[codec]
    out = []
    if not units or nal_type(codec, units[0]) != nal_type(codec, aud):
        out.append(aud)
    else:
        out.append(units.pop(0))
    if keyframe:
        present = {nal_type(codec, nal) for nal in units}
        wanted = parameter_set_types(codec)
        out.extend(
            nal
            for nal in parameter_sets
            if nal_type(codec, nal) in wanted and nal_type(codec, nal) not in present
        )
    out.extend(units)
    return out


def _packetize_py(
    pid: int, pes: bytes, previous: int, pcr: int | None, random_access: bool
) -> tuple[bytes, int]:
    """A PES as TS packets on ``pid`` (§2.4.3.2-§2.4.3.5), and the continuity counter of the
    last; ``previous`` is the counter of the PID's packet before (-1: none yet). The first
    packet carries ``pcr`` (27 MHz units) and the random access indicator when asked."""
    view = memoryview(pes)
    end = len(pes)
    counter = (previous + 1) & 0x0F
    # Only the first packet (PCR, random access) and the last (stuffing) need an adaptation
    # field; every packet between is one of 16 fixed headers and 184 bytes of payload.
    if pcr is not None or random_access or end < MAX_PAYLOAD_SIZE:
        flagged = pcr is not None or random_access
        room = MAX_PAYLOAD_SIZE - (2 + (PCR_SIZE if pcr is not None else 0) if flagged else 0)
        pos = min(room, end)
        parts: list[bytes | memoryview] = [
            _adapted_packet(pid, counter, True, view[:pos], random_access=random_access, pcr=pcr)
        ]
    else:
        pos = MAX_PAYLOAD_SIZE
        parts = [_full_header(pid, counter, True), view[:pos]]
    full = (end - pos) // MAX_PAYLOAD_SIZE
    if full:
        # Headers and payloads interleaved by two slice assignments: no loop in Python.
        headers = _FULL_HEADERS.get(pid) or _full_headers(pid)
        stop = pos + full * MAX_PAYLOAD_SIZE
        middle: list[bytes | memoryview] = [b""] * (2 * full)
        middle[0::2] = (headers[counter + 1 : counter + 17] * (full // 16 + 1))[:full]
        middle[1::2] = [view[p : p + MAX_PAYLOAD_SIZE] for p in range(pos, stop, MAX_PAYLOAD_SIZE)]
        parts += middle
        counter = (counter + full) & 0x0F
        pos = stop
    if pos < end:
        counter = (counter + 1) & 0x0F
        parts.append(_adapted_packet(pid, counter, False, view[pos:]))
    return b"".join(parts), counter


def _adapted_packet(
    pid: int,
    counter: int,
    unit_start: bool,
    payload: bytes | memoryview,
    *,
    random_access: bool = False,
    pcr: int | None = None,
) -> bytes:
    """A packet whose adaptation field (§2.4.3.4) takes what ``payload`` leaves of the 184
    bytes: flags, the PCR, then 0xFF stuffing. A single spare byte is a field of length 0."""
    field_size = MAX_PAYLOAD_SIZE - len(payload)
    start = PAYLOAD_UNIT_START if unit_start else 0
    header = bytes([SYNC_BYTE, start | (pid >> 8) & 0x1F, pid & 0xFF, 0x30 | counter])
    if field_size == 1:
        return header + b"\x00" + payload
    flags = (AF_RANDOM_ACCESS if random_access else 0) | (AF_PCR if pcr is not None else 0)
    field = bytes([field_size - 1, flags])
    if pcr is not None:
        # program_clock_reference_base (33 bits, wrapping like PTS and DTS), reserved (6, all
        # ones), extension (9).
        base, extension = divmod(pcr, PCR_PER_90KHZ_TICK)
        base %= PCR_BASE_MODULUS
        field += ((base << 15) | (0x3F << 9) | extension).to_bytes(PCR_SIZE, "big")
    return header + field + b"\xff" * (field_size - len(field)) + payload


_FULL_HEADERS: dict[int, tuple[bytes, ...]] = {}


def _full_header(pid: int, counter: int, unit_start: bool) -> bytes:
    """The 4-byte header of a packet with payload only (§2.4.3.2)."""
    start = PAYLOAD_UNIT_START if unit_start else 0
    return bytes([SYNC_BYTE, start | (pid >> 8) & 0x1F, pid & 0xFF, 0x10 | counter])


def _full_headers(pid: int) -> tuple[bytes, ...]:
    # Twice round the counter, so that any 16 in a row are one slice.
    headers = _FULL_HEADERS[pid] = tuple(_full_header(pid, cc % 16, False) for cc in range(32))
    return headers


# The compiled byte path when it is built: same arguments, same bytes, same exceptions.
_ext = speedups.extension("wire.ts._muxer")
packetize: Callable[[int, bytes, int, int | None, bool], tuple[bytes, int]] = (
    _packetize_py if _ext is None else _ext.packetize
)
video_packets: Callable[
    [VideoCodec, Sequence[bytes], Sequence[bytes], int, int, bool, int], tuple[bytes, int]
] = _video_packets_py if _ext is None else _ext.video_packets
audio_packets: Callable[
    [AudioSpecificConfig, Sequence[bytes], int, bool, int], tuple[bytes, int]
] = _audio_packets_py if _ext is None else _ext.audio_packets
