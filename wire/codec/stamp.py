"""The camsim per-frame stamp: an SEI ``user_data_unregistered`` message on every video frame.

The message (H.264 §D.1.7 / H.265 §D.2.7, payloadType 5) carries a 16-byte UUID followed by
16 bytes of stamp::

    version (1) | frame_index (5) | wallclock_us (10)

Every stamp byte has its top bit set and holds 7 bits of the value, big-endian: the frame index
has 35 bits, the wallclock 70 bits of microseconds since the Unix epoch (0 means "not stamped
yet"). Because no byte is ever 0x00, and the UUID has no zero byte either, the message can never
contain the ``00 00 0x`` patterns that need emulation-prevention bytes (H.264 §7.4.1). A sender
can therefore overwrite the wallclock in place at send time, in any framing (Annex B,
length-prefixed, RTP payload), without changing a single length.

The complete NAL unit is 36 bytes for H.264 (header 1, type 1, size 1, UUID 16, stamp 16,
trailing bits 1) and 37 bytes for H.265 (2-byte header), small enough to travel in one RTP
packet next to the parameter sets.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from wire import speedups
from wire.codec.bits import unescape_rbsp
from wire.codec.errors import CodecError
from wire.codec.nal import (
    H264_NAL_SEI,
    H265_NAL_PREFIX_SEI,
    H265_NAL_SUFFIX_SEI,
    VideoCodec,
    nal_type,
    split_annexb,
    split_length_prefixed,
)

STAMP_UUID = uuid.UUID("053b41aa-12c8-554e-8db6-1de1dbc8c7e6").bytes
SEI_USER_DATA_UNREGISTERED = 5

STAMP_VERSION = 1
FRAME_INDEX_BYTES = 5
WALLCLOCK_BYTES = 10
STAMP_SIZE = 1 + FRAME_INDEX_BYTES + WALLCLOCK_BYTES
SEI_PAYLOAD_SIZE = len(STAMP_UUID) + STAMP_SIZE
MAX_FRAME_INDEX = (1 << (7 * FRAME_INDEX_BYTES)) - 1
MAX_WALLCLOCK_US = (1 << (7 * WALLCLOCK_BYTES)) - 1

# Offsets of the fields from the start of the UUID, the anchor every reader finds.
FRAME_INDEX_OFFSET = len(STAMP_UUID) + 1
WALLCLOCK_OFFSET = FRAME_INDEX_OFFSET + FRAME_INDEX_BYTES

_RBSP_TRAILING_BITS = b"\x80"


@dataclass(frozen=True, slots=True)
class Stamp:
    frame_index: int
    wallclock_us: int = 0

    @property
    def stamped(self) -> bool:
        """True once a sender has written its wallclock."""
        return self.wallclock_us != 0

    def serialize(self) -> bytes:
        """The 32-byte SEI payload: UUID and stamp."""
        return (
            STAMP_UUID
            + bytes([0x80 | STAMP_VERSION])
            + _encode_7bit(self.frame_index, FRAME_INDEX_BYTES, "frame_index")
            + _encode_7bit(self.wallclock_us, WALLCLOCK_BYTES, "wallclock_us")
        )

    @classmethod
    def parse(cls, payload: bytes | bytearray | memoryview, offset: int = 0) -> Stamp:
        """Decode a stamp from an SEI payload starting with the UUID at ``offset``."""
        end = offset + SEI_PAYLOAD_SIZE
        if len(payload) < end:
            raise CodecError(
                f"stamp: {len(payload) - offset} bytes, need {SEI_PAYLOAD_SIZE} (UUID and stamp)"
            )
        if bytes(payload[offset : offset + len(STAMP_UUID)]) != STAMP_UUID:
            raise CodecError("stamp: UUID does not match")
        version = payload[offset + len(STAMP_UUID)]
        if version != 0x80 | STAMP_VERSION:
            raise CodecError(f"stamp: unsupported version byte 0x{version:02x}")
        return cls(
            frame_index=_decode_7bit(payload, offset + FRAME_INDEX_OFFSET, FRAME_INDEX_BYTES),
            wallclock_us=_decode_7bit(payload, offset + WALLCLOCK_OFFSET, WALLCLOCK_BYTES),
        )


def _encode_7bit(value: int, size: int, field: str) -> bytes:
    if not 0 <= value < 1 << (7 * size):
        raise ValueError(f"stamp: {field}={value} does not fit in {7 * size} bits")
    return bytes(0x80 | ((value >> (7 * (size - 1 - i))) & 0x7F) for i in range(size))


def _decode_7bit(data: bytes | bytearray | memoryview, offset: int, size: int) -> int:
    value = 0
    for byte in data[offset : offset + size]:
        if not byte & 0x80:
            raise CodecError(f"stamp: byte 0x{byte:02x} lacks the marker bit")
        value = (value << 7) | (byte & 0x7F)
    return value


def stamp_sei_nal(codec: VideoCodec, frame_index: int, wallclock_us: int = 0) -> bytes:
    """A complete SEI NAL unit (no start code) carrying one stamp."""
    if codec is VideoCodec.H264:
        header = bytes([H264_NAL_SEI])
    else:
        # forbidden_zero_bit 0, nal_unit_type 39, nuh_layer_id 0, nuh_temporal_id_plus1 1
        header = bytes([H265_NAL_PREFIX_SEI << 1, 0x01])
    payload = Stamp(frame_index, wallclock_us).serialize()
    return (
        header + bytes([SEI_USER_DATA_UNREGISTERED, len(payload)]) + payload + _RBSP_TRAILING_BITS
    )


@dataclass(frozen=True, slots=True)
class SeiMessage:
    payload_type: int
    payload: bytes


def parse_sei(codec: VideoCodec, nal: bytes) -> list[SeiMessage]:
    """Split an SEI NAL unit into its messages (H.264 §7.3.2.3, H.265 §7.3.5)."""
    kind = nal_type(codec, nal)
    if codec is VideoCodec.H264:
        if kind != H264_NAL_SEI:
            raise CodecError(f"SEI: NAL unit type {kind} is not SEI")
        rbsp = unescape_rbsp(nal[1:])
    else:
        if kind not in (H265_NAL_PREFIX_SEI, H265_NAL_SUFFIX_SEI):
            raise CodecError(f"SEI: NAL unit type {kind} is not SEI")
        rbsp = unescape_rbsp(nal[2:])
    messages: list[SeiMessage] = []
    pos = 0
    # more_rbsp_data(): stop at the trailing bits (a lone 0x80) or at the end. Compared in place:
    # slicing the rest for every message made an SEI of many small messages O(n^2).
    end = len(rbsp)
    if rbsp.endswith(_RBSP_TRAILING_BITS):
        end -= len(_RBSP_TRAILING_BITS)
    while pos < end:
        payload_type, pos = _read_ff_coded(rbsp, pos, "payloadType")
        payload_size, pos = _read_ff_coded(rbsp, pos, "payloadSize")
        if pos + payload_size > len(rbsp):
            raise CodecError(
                f"SEI: payload of type {payload_type} declares {payload_size} bytes, "
                f"{len(rbsp) - pos} left"
            )
        messages.append(SeiMessage(payload_type, rbsp[pos : pos + payload_size]))
        pos += payload_size
    return messages


def _read_ff_coded(rbsp: bytes, pos: int, field: str) -> tuple[int, int]:
    """Read a value coded as a run of 0xFF bytes plus a final byte."""
    value = 0
    while True:
        if pos >= len(rbsp):
            raise CodecError(f"SEI: truncated while reading {field}")
        byte = rbsp[pos]
        pos += 1
        value += byte
        if byte != 0xFF:
            return value, pos


def _read_stamp_nalus_py(codec: VideoCodec, nalus: Iterable[bytes]) -> Stamp | None:
    """The stamp among an access unit's NAL units (e.g. from an RTP depacketizer), if any.

    Only SEI NAL units are looked at. The stamp needs no emulation prevention, so it is found by
    its UUID and decoded in place without unescaping or walking the SEI messages: this runs on
    every frame an observer sees. :func:`parse_sei` checks an SEI's structure when that matters.
    The reference of the compiled :func:`read_stamp_nalus`.
    """
    for nal in nalus:
        if _is_sei(codec, nal):
            offset = find_stamp(nal)
            if offset >= 0:
                return Stamp.parse(nal, offset)
    return None


def read_stamp_annexb(codec: VideoCodec, data: bytes) -> Stamp | None:
    """The stamp in an Annex B access unit, if any."""
    return read_stamp_nalus(codec, split_annexb(data))


def read_stamp_length_prefixed(
    codec: VideoCodec, data: bytes, length_size: int = 4
) -> Stamp | None:
    """The stamp in a length-prefixed (AVCC/HVCC) sample, if any."""
    return read_stamp_nalus(codec, split_length_prefixed(data, length_size))


def _is_sei(codec: VideoCodec, nal: bytes) -> bool:
    if codec is VideoCodec.H264:
        return bool(nal) and nal[0] & 0x1F == H264_NAL_SEI
    return len(nal) >= 2 and (nal[0] >> 1) & 0x3F in (H265_NAL_PREFIX_SEI, H265_NAL_SUFFIX_SEI)


# Fast paths for senders and observers on the hot path: the stamp is located by its UUID in any
# buffer (a sample, an RTP packet, an FLV tag), read and patched in place.


def find_stamp(buf: bytes | bytearray, start: int = 0) -> int:
    """Offset of the stamp's UUID in ``buf``, or -1. The stamp has no escapes, so a plain
    search finds it in any framing as long as the SEI was not split across buffers."""
    offset = buf.find(STAMP_UUID, start)
    if offset < 0 or offset + SEI_PAYLOAD_SIZE > len(buf):
        return -1
    return offset


def write_wallclock(buf: bytearray | memoryview, offset: int, wallclock_us: int) -> None:
    """Overwrite the wallclock of the stamp whose UUID starts at ``offset``; sizes do not change."""
    start = offset + WALLCLOCK_OFFSET
    buf[start : start + WALLCLOCK_BYTES] = _encode_7bit(
        wallclock_us, WALLCLOCK_BYTES, "wallclock_us"
    )


def write_frame_index(buf: bytearray | memoryview, offset: int, frame_index: int) -> None:
    """Overwrite the frame index of the stamp whose UUID starts at ``offset``."""
    start = offset + FRAME_INDEX_OFFSET
    buf[start : start + FRAME_INDEX_BYTES] = _encode_7bit(
        frame_index, FRAME_INDEX_BYTES, "frame_index"
    )


def _stamp_wallclock_py(buf: bytes | bytearray) -> int | None:
    """The capture time written in the first stamp found in ``buf`` (any framing: an FLV tag,
    a sample, a packet), or None when there is no stamp, it is malformed or its wallclock is
    still 0. The reference of the compiled :func:`stamp_wallclock`."""
    offset = find_stamp(buf)
    if offset < 0:
        return None
    try:
        stamp = Stamp.parse(buf, offset)
    except CodecError:
        return None
    return stamp.wallclock_us if stamp.stamped else None


_ext = speedups.extension("wire.codec._stamp")
stamp_wallclock = _ext.stamp_wallclock if _ext is not None else _stamp_wallclock_py
read_stamp_nalus = _ext.read_stamp_nalus if _ext is not None else _read_stamp_nalus_py
