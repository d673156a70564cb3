"""What an RTP stream carries: from the SDP that announced it, or guessed from its payload.

:class:`MediaInfo` is the codec, clock rate and format parameters of one payload type, taken from
a DESCRIBE answer with :mod:`wire.sdp`. Without an SDP (a capture that starts after the dialog,
or RTP sent to a raw port) the codec is guessed from the payload headers and the clock rate from
how fast the timestamps advance against the capture clock.

The payload classification here looks only at the first bytes of each payload (the NAL unit,
aggregation or fragmentation header), which is what lets ``inspect`` count frames and keyframes
without depacketizing every packet; aggregation packets and parameter sets are split with
:mod:`wire.payload` and parsed with :mod:`wire.codec`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from wire.codec.errors import CodecError
from wire.codec.h264 import H264Sps
from wire.codec.h265 import H265Sps
from wire.codec.nal import VideoCodec
from wire.payload import PayloadError, parse_h264_payload, parse_h265_payload
from wire.payload.video import NalFragment
from wire.sdp import (
    STATIC_PAYLOAD_TYPES,
    MediaDescription,
    h264_parameter_sets,
    h265_parameter_sets,
)

VIDEO = "video"
AUDIO = "audio"

H264_STAP_A = 24
H264_STAP_B = 25
H264_MTAP16 = 26
H264_MTAP24 = 27
H264_FU_A = 28
H264_FU_B = 29
H265_AP = 48
H265_FU = 49

_H264_PARAMETER_SETS = {7: "SPS", 8: "PPS"}
_H265_PARAMETER_SETS = {32: "VPS", 33: "SPS", 34: "PPS"}

COMMON_CLOCK_RATES = (8000, 11025, 16000, 22050, 24000, 32000, 44100, 48000, 90000)


def _interesting_first_bytes() -> bytes:
    """First payload bytes worth keeping the whole payload for: parameter sets and aggregation
    packets of H.264 or H.265 (rare packets that carry what the 4-byte head cannot say)."""
    table = bytearray(256)
    for byte in range(256):
        if byte & 0x80:
            continue  # forbidden_zero_bit set: not a NAL unit header
        h264 = byte & 0x1F
        if h264 in (7, 8, H264_STAP_A, H264_STAP_B, H264_MTAP16, H264_MTAP24):
            table[byte] = 1
        if byte in (32 << 1, 33 << 1, 34 << 1, H265_AP << 1):
            table[byte] = 1
    return bytes(table)


INTERESTING_FIRST_BYTE = _interesting_first_bytes()


@dataclass(frozen=True)
class MediaInfo:
    """One payload format of one stream, as announced or as guessed."""

    media: str
    """``video``, ``audio`` or another m= media type."""
    codec: str
    """Upper-case encoding name with H.264/H.265 recognised: H264, H265, MPEG4-GENERIC, PCMU..."""
    clock_rate: int
    payload_type: int | None = None
    channels: int | None = None
    parameters: dict[str, str] = field(default_factory=dict)
    control: str | None = None
    source: str = "sdp"
    """``sdp`` when announced, ``payload`` when guessed."""

    @classmethod
    def from_sdp(cls, media: MediaDescription, payload_type: int | None = None) -> MediaInfo | None:
        """The format of ``payload_type`` (the first listed when None) in an m= section."""
        formats = media.payload_formats()
        chosen = next((f for f in formats if f.payload_type == payload_type), None)
        if chosen is None and formats:
            chosen = formats[0]
        if chosen is None:
            return None
        return cls(
            media.media,
            chosen.codec,
            chosen.clock_rate,
            chosen.payload_type,
            chosen.channels,
            dict(chosen.parameters),
            media.control,
        )

    @property
    def video_codec(self) -> VideoCodec | None:
        if self.codec == "H264":
            return VideoCodec.H264
        if self.codec == "H265":
            return VideoCodec.H265
        return None

    @property
    def sprop_parameter_sets(self) -> tuple[tuple[bytes, ...], tuple[str, ...]]:
        """Parameter sets from the fmtp line and the problems found in them."""
        if self.codec == "H264":
            sets = h264_parameter_sets(self.parameters)
        elif self.codec == "H265":
            sets = h265_parameter_sets(self.parameters)
        else:
            return (), ()
        return sets.nal_units, sets.problems


def static_media(payload_type: int) -> MediaInfo | None:
    """The RFC 3551 static payload type, if ``payload_type`` is one."""
    static = STATIC_PAYLOAD_TYPES.get(payload_type)
    if static is None:
        return None
    name, rate, channels = static
    kind = AUDIO if rate != 90000 else VIDEO
    return MediaInfo(kind, name, rate, payload_type, channels, source="payload")


def guess_codec(heads: list[bytes]) -> str | None:
    """H264, H265 or MPEG4-GENERIC from the first payload bytes of a stream's packets.

    Each codec's fragmentation unit and slice headers have distinctive first bytes; the codec
    that explains the most packets wins, provided it explains most of them.
    """
    if not heads:
        return None
    h264 = h265 = aac = 0
    for head in heads:
        first = head[0]
        if first & 0x80:
            continue
        if 1 <= first & 0x1F <= 8 or first & 0x1F in (H264_STAP_A, H264_FU_A):
            h264 += 1
        kind = (first >> 1) & 0x3F
        if (kind <= 21 or kind in (32, 33, 34, 39, H265_AP, H265_FU)) and head[1] in (1, 2):
            h265 += 1  # nuh_layer_id 0, nuh_temporal_id_plus1 1 (or 2)
        if first == 0 and head[1] in (16, 32, 48, 64):
            aac += 1  # AU-headers-length: one to four 16-bit AU headers
    best, name = max((h265, "H265"), (h264, "H264"), (aac, "MPEG4-GENERIC"))
    return name if best * 5 >= len(heads) * 4 else None


def snap_clock_rate(ticks_per_second: float) -> int | None:
    """The common RTP clock rate within 5% of a measured rate."""
    for rate in COMMON_CLOCK_RATES:
        if abs(ticks_per_second - rate) <= rate * 0.05:
            return rate
    return None


@dataclass
class NalSummary:
    """What the NAL unit heads of one packet say."""

    vcl: bool = False
    keyframe: bool = False
    parameter_sets: list[tuple[str, bytes | None]] = field(default_factory=list)
    """(name, the NAL unit when the whole payload was kept)."""


def summarize_payload(codec: VideoCodec, head: bytes, payload: bytes | None) -> NalSummary:
    """Classify one packet of an H.264/H.265 stream from its 4-byte head or its whole payload."""
    summary = NalSummary()
    if codec is VideoCodec.H264:
        kind = head[0] & 0x1F
        if kind in (H264_FU_A, H264_FU_B):
            kind = head[1] & 0x1F
        if kind in (H264_STAP_A, H264_STAP_B, H264_MTAP16, H264_MTAP24):
            if payload is None or kind != H264_STAP_A:
                return summary
            for nal in _pieces(codec, payload):
                _add_h264(summary, nal[0] & 0x1F, nal)
            return summary
        _add_h264(summary, kind, payload if payload is not None and kind in (7, 8) else None)
        return summary
    kind = (head[0] >> 1) & 0x3F
    if kind == H265_FU:
        kind = head[2] & 0x3F
    if kind == H265_AP:
        if payload is not None:
            for nal in _pieces(codec, payload):
                _add_h265(summary, (nal[0] >> 1) & 0x3F, nal)
        return summary
    _add_h265(summary, kind, payload if payload is not None and kind in (32, 33, 34) else None)
    return summary


def _pieces(codec: VideoCodec, payload: bytes) -> list[bytes]:
    try:
        pieces = (
            parse_h264_payload(payload)
            if codec is VideoCodec.H264
            else (parse_h265_payload(payload))
        )
    except PayloadError:
        return []
    return [piece for piece in pieces if not isinstance(piece, NalFragment) and piece]


def _add_h264(summary: NalSummary, kind: int, nal: bytes | None) -> None:
    if 1 <= kind <= 5:
        summary.vcl = True
        summary.keyframe |= kind == 5
    elif kind in _H264_PARAMETER_SETS:
        summary.parameter_sets.append((_H264_PARAMETER_SETS[kind], nal))


def _add_h265(summary: NalSummary, kind: int, nal: bytes | None) -> None:
    if kind < 32:
        summary.vcl = True
        summary.keyframe |= 16 <= kind <= 23
    elif kind in _H265_PARAMETER_SETS:
        summary.parameter_sets.append((_H265_PARAMETER_SETS[kind], nal))


@dataclass(frozen=True)
class VideoFormat:
    """What a sequence parameter set says."""

    width: int
    height: int
    profile: str
    level: str
    fps: float | None

    @classmethod
    def from_sps(cls, codec: VideoCodec, sps: bytes) -> VideoFormat | None:
        """The format an SPS describes; None when it does not parse."""
        parsed: H264Sps | H265Sps
        try:
            parsed = H264Sps.parse(sps) if codec is VideoCodec.H264 else H265Sps.parse(sps)
        except (CodecError, ValueError, IndexError):
            return None
        fps = float(parsed.fps) if parsed.fps else None
        return cls(parsed.width, parsed.height, parsed.profile_name, parsed.level_name, fps)
