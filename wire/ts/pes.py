"""PES packets (ISO/IEC 13818-1 §2.4.3.6) with PTS and DTS."""

from __future__ import annotations

from dataclasses import dataclass

from wire.ts.errors import TsError

PES_START_CODE = b"\x00\x00\x01"
STREAM_ID_AUDIO = 0xC0  # first MPEG audio stream, used for ADTS AAC
STREAM_ID_VIDEO = 0xE0  # first video stream
TIMESTAMP_MODULUS = 1 << 33

# Stream ids whose PES packets have no optional header (Table 2-21 and §2.4.3.7).
_NO_HEADER_STREAM_IDS = frozenset({0xBC, 0xBE, 0xBF, 0xF0, 0xF1, 0xF2, 0xF8, 0xFF})
_PTS_ONLY = 0b10
_PTS_AND_DTS = 0b11
_FIXED_HEADER = 6  # start code, stream_id, PES_packet_length
_OPTIONAL_HEADER = 3  # flags, flags, PES_header_data_length


def _write_timestamp(prefix: int, value: int) -> bytes:
    value %= TIMESTAMP_MODULUS
    return bytes(
        [
            (prefix << 4) | ((value >> 29) & 0x0E) | 1,
            (value >> 22) & 0xFF,
            ((value >> 14) & 0xFE) | 1,
            (value >> 7) & 0xFF,
            ((value << 1) & 0xFE) | 1,
        ]
    )


def _read_timestamp(data: bytes) -> int:
    return (
        ((data[0] >> 1) & 0x07) << 30
        | data[1] << 22
        | (data[2] >> 1) << 15
        | data[3] << 7
        | data[4] >> 1
    )


@dataclass(frozen=True, slots=True)
class PesPacket:
    """One PES packet; timestamps in 90 kHz ticks, taken modulo 2**33 on the wire.

    ``bounded`` False writes PES_packet_length 0, allowed for video only (§2.4.3.7); a
    payload over 65535 bytes always needs it.
    """

    stream_id: int
    payload: bytes
    pts: int | None = None
    dts: int | None = None
    data_alignment: bool = False
    bounded: bool = True

    def serialize(self) -> bytes:
        if self.dts is not None and self.pts is None:
            raise TsError("PES: a DTS needs a PTS")
        header = b""
        flags = 0
        if self.pts is not None and self.dts is not None and self.dts != self.pts:
            flags = _PTS_AND_DTS
            header = _write_timestamp(0b0011, self.pts) + _write_timestamp(0b0001, self.dts)
        elif self.pts is not None:
            flags = _PTS_ONLY
            header = _write_timestamp(0b0010, self.pts)
        # '10', not scrambled, no priority, data_alignment_indicator, no copyright, original.
        optional = bytes([0x80 | (0x04 if self.data_alignment else 0), flags << 6, len(header)])
        length = _OPTIONAL_HEADER + len(header) + len(self.payload)
        if not self.bounded or length > 0xFFFF:
            if not 0xE0 <= self.stream_id <= 0xEF:
                raise TsError(f"PES: {length} bytes do not fit PES_packet_length")
            length = 0
        return (
            PES_START_CODE
            + bytes([self.stream_id])
            + length.to_bytes(2, "big")
            + optional
            + header
            + self.payload
        )

    @classmethod
    def parse(cls, data: bytes) -> PesPacket:
        """Parse a complete PES packet (for an unbounded one, everything given is payload)."""
        if len(data) < _FIXED_HEADER:
            raise TsError(f"PES: {len(data)} bytes, shorter than the 6-byte header")
        if data[:3] != PES_START_CODE:
            raise TsError(f"PES: start code {data[:3].hex()}, expected 000001")
        stream_id = data[3]
        length = int.from_bytes(data[4:6], "big")
        end = len(data) if length == 0 else _FIXED_HEADER + length
        if end > len(data):
            raise TsError(f"PES: PES_packet_length {length} but {len(data) - 6} bytes follow")
        if stream_id in _NO_HEADER_STREAM_IDS:
            return cls(stream_id, bytes(data[_FIXED_HEADER:end]), bounded=length != 0)
        if end < _FIXED_HEADER + _OPTIONAL_HEADER:
            raise TsError("PES: truncated in the optional header")
        if data[6] >> 6 != 0b10:
            raise TsError(f"PES: optional header starts with 0x{data[6]:02x}, expected '10'")
        flags = data[7] >> 6
        header_length = data[8]
        start = _FIXED_HEADER + _OPTIONAL_HEADER
        payload_start = start + header_length
        if payload_start > end:
            raise TsError(f"PES: PES_header_data_length {header_length} overruns the packet")
        pts = dts = None
        if flags == 1:
            raise TsError("PES: PTS_DTS_flags '01' is forbidden")
        if flags & _PTS_ONLY:
            if header_length < 5:
                raise TsError(f"PES: PTS flagged in a header of {header_length} bytes")
            pts = _read_timestamp(data[start : start + 5])
            dts = pts
        if flags == _PTS_AND_DTS:
            if header_length < 10:
                raise TsError(f"PES: PTS and DTS flagged in a header of {header_length} bytes")
            dts = _read_timestamp(data[start + 5 : start + 10])
        return cls(
            stream_id,
            bytes(data[payload_start:end]),
            pts,
            dts,
            data_alignment=bool(data[6] & 0x04),
            bounded=length != 0,
        )
