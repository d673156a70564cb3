"""NAL unit framing: Annex B byte streams and length-prefixed (AVCC/HVCC) samples.

H.264 Annex B / H.265 Annex B define the start-code byte stream; ISO/IEC 14496-15 defines the
length-prefixed form used in MP4 and FLV. NAL unit type constants are named as in the
specifications (H.264 Table 7-1, H.265 Table 7-1).
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from wire import speedups
from wire.codec.errors import CodecError


class VideoCodec(StrEnum):
    H264 = "h264"
    H265 = "h265"


# H.264 Table 7-1
H264_NAL_SLICE = 1
H264_NAL_IDR = 5
H264_NAL_SEI = 6
H264_NAL_SPS = 7
H264_NAL_PPS = 8
H264_NAL_AUD = 9

# H.265 Table 7-1
H265_NAL_TRAIL_R = 1
H265_NAL_BLA_W_LP = 16
H265_NAL_IDR_W_RADL = 19
H265_NAL_IDR_N_LP = 20
H265_NAL_CRA = 21
H265_NAL_RSV_IRAP_23 = 23
H265_NAL_VPS = 32
H265_NAL_SPS = 33
H265_NAL_PPS = 34
H265_NAL_AUD = 35
H265_NAL_PREFIX_SEI = 39
H265_NAL_SUFFIX_SEI = 40

START_CODE = b"\x00\x00\x00\x01"


def h264_nal_type(nal: bytes) -> int:
    if not nal:
        raise CodecError("H.264 NAL unit: empty")
    return nal[0] & 0x1F


def h265_nal_type(nal: bytes) -> int:
    if len(nal) < 2:
        raise CodecError("H.265 NAL unit: shorter than its 2-byte header")
    return (nal[0] >> 1) & 0x3F


def nal_type(codec: VideoCodec, nal: bytes) -> int:
    return h264_nal_type(nal) if codec is VideoCodec.H264 else h265_nal_type(nal)


def is_vcl(codec: VideoCodec, nal: bytes) -> bool:
    """True for coded slice NAL units (H.264 types 1-5, H.265 types 0-31)."""
    kind = nal_type(codec, nal)
    return 1 <= kind <= 5 if codec is VideoCodec.H264 else kind < 32


def is_irap(codec: VideoCodec, nal: bytes) -> bool:
    """True for random access points: H.264 IDR, H.265 IRAP (BLA, IDR, CRA)."""
    kind = nal_type(codec, nal)
    if codec is VideoCodec.H264:
        return kind == H264_NAL_IDR
    return H265_NAL_BLA_W_LP <= kind <= H265_NAL_RSV_IRAP_23


def _has_irap_py(codec: VideoCodec, nal_units: Iterable[bytes]) -> bool:
    """True when one of a picture's NAL units is a random access point (:func:`is_irap`);
    empty units (a length prefix of 0) are skipped. Asked once per picture by ingest, so the
    H.264 case reads the type in line rather than through a call per NAL unit. The reference of
    ``wire.codec._nal.has_irap``."""
    if codec is VideoCodec.H264:
        return any(nal and nal[0] & 0x1F == H264_NAL_IDR for nal in nal_units)
    return any(is_irap(codec, nal) for nal in nal_units if nal)


def parameter_set_types(codec: VideoCodec) -> tuple[int, ...]:
    if codec is VideoCodec.H264:
        return (H264_NAL_SPS, H264_NAL_PPS)
    return (H265_NAL_VPS, H265_NAL_SPS, H265_NAL_PPS)


def split_annexb(data: bytes) -> list[bytes]:
    """Split an Annex B byte stream at 3- and 4-byte start codes.

    Bytes before the first start code are not a NAL unit and are rejected; trailing zero bytes
    of a NAL unit belong to the next start code (``trailing_zero_8bits``) and are dropped.
    """
    first = data.find(b"\x00\x00\x01")
    if first < 0:
        if data.strip(b"\x00"):
            raise CodecError("Annex B: no start code found")
        return []
    if data[:first].strip(b"\x00"):
        raise CodecError(f"Annex B: {first} bytes of data before the first start code")
    nals: list[bytes] = []
    start = first + 3
    while True:
        nxt = data.find(b"\x00\x00\x01", start)
        end = len(data) if nxt < 0 else nxt
        nal = data[start:end].rstrip(b"\x00")
        if nal:
            nals.append(nal)
        if nxt < 0:
            return nals
        start = nxt + 3


def _split_length_prefixed_py(data: bytes, length_size: int = 4) -> list[bytes]:
    """Split a length-prefixed (AVCC/HVCC) sample into NAL units. The reference of
    ``wire.codec._nal.split_length_prefixed``."""
    if length_size not in (1, 2, 4):
        raise CodecError(f"length-prefixed: unsupported length size {length_size}")
    nals: list[bytes] = []
    pos = 0
    end = len(data)
    while pos < end:
        if pos + length_size > end:
            raise CodecError(
                f"length-prefixed: {end - pos} bytes left at offset {pos}, "
                f"too few for a {length_size}-byte length"
            )
        size = int.from_bytes(data[pos : pos + length_size], "big")
        pos += length_size
        if pos + size > end:
            raise CodecError(
                f"length-prefixed: NAL unit of {size} bytes at offset {pos} "
                f"overruns the sample ({end - pos} bytes left)"
            )
        if size == 0:
            raise CodecError(f"length-prefixed: zero-length NAL unit at offset {pos}")
        nals.append(data[pos : pos + size])
        pos += size
    return nals


def join_annexb(nals: Iterable[bytes]) -> bytes:
    return b"".join(START_CODE + nal for nal in nals)


def join_length_prefixed(nals: Iterable[bytes], length_size: int = 4) -> bytes:
    limit = 1 << (8 * length_size)
    out = bytearray()
    for nal in nals:
        if len(nal) >= limit:
            raise CodecError(
                f"length-prefixed: NAL unit of {len(nal)} bytes does not fit a "
                f"{length_size}-byte length"
            )
        out += len(nal).to_bytes(length_size, "big")
        out += nal
    return bytes(out)


def looks_like_annexb(data: bytes) -> bool:
    """Heuristic used by loaders: does this sample start with a start code?"""
    return data.startswith((b"\x00\x00\x01", b"\x00\x00\x00\x01"))


_ext = speedups.extension("wire.codec._nal")
split_length_prefixed = (
    _ext.split_length_prefixed if _ext is not None else _split_length_prefixed_py
)
has_irap = _ext.has_irap if _ext is not None else _has_irap_py
