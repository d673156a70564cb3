"""RTP data packets (RFC 3550 §5.1, header extension §5.3.1)."""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from wire import speedups
from wire.rtp.errors import RtpError

RTP_VERSION = 2
RTP_HEADER_SIZE = 12
MAX_CSRC_COUNT = 15

_FIXED_HEADER = struct.Struct("!BBHII")
_EXTENSION_HEADER = struct.Struct("!HH")
_PATCHED_FIELDS = struct.Struct("!HII")  # sequence number, timestamp, SSRC at offset 2


@dataclass(slots=True)
class HeaderExtension:
    """A header extension (§5.3.1): a 16-bit profile-defined value and 32-bit aligned data."""

    profile: int
    data: bytes = b""


def _parse_py(cls: type[RtpPacket], data: bytes) -> RtpPacket:
    """Parse one RTP packet as ``cls``; raises :class:`RtpError` on malformed input (the
    pure-Python :meth:`RtpPacket.parse`, the reference of ``wire.rtp._packet``)."""
    if len(data) < RTP_HEADER_SIZE:
        raise RtpError(
            f"RTP packet: {len(data)} bytes, shorter than the {RTP_HEADER_SIZE}-byte fixed header"
        )
    first, second, sequence_number, timestamp, ssrc = _FIXED_HEADER.unpack_from(data)
    version = first >> 6
    if version != RTP_VERSION:
        raise RtpError(f"RTP packet: version {version}, expected {RTP_VERSION}")
    csrc_count = first & 0x0F
    pos = RTP_HEADER_SIZE + 4 * csrc_count
    if pos > len(data):
        raise RtpError(f"RTP packet: {csrc_count} CSRCs need {pos} header bytes, got {len(data)}")
    csrc = list(struct.unpack_from(f"!{csrc_count}I", data, RTP_HEADER_SIZE)) if csrc_count else []

    extension = None
    if first & 0x10:
        if pos + 4 > len(data):
            raise RtpError(f"RTP packet: header extension truncated at offset {pos}")
        profile, words = _EXTENSION_HEADER.unpack_from(data, pos)
        pos += 4
        if pos + 4 * words > len(data):
            raise RtpError(
                f"RTP packet: header extension of {4 * words} bytes overruns the packet "
                f"({len(data) - pos} bytes left)"
            )
        extension = HeaderExtension(profile, bytes(data[pos : pos + 4 * words]))
        pos += 4 * words

    end = len(data)
    padding_size = 0
    if first & 0x20:
        # The last padding octet counts the padding octets, itself included (§5.1).
        padding_size = data[-1] if end > pos else 0
        if padding_size == 0 or padding_size > end - pos:
            raise RtpError(
                f"RTP packet: padding count {padding_size} is invalid with "
                f"{end - pos} bytes after the header"
            )
        end -= padding_size
    return cls(
        payload_type=second & 0x7F,
        sequence_number=sequence_number,
        timestamp=timestamp,
        ssrc=ssrc,
        payload=bytes(data[pos:end]),
        marker=bool(second & 0x80),
        csrc=csrc,
        extension=extension,
        padding_size=padding_size,
    )


_ext = speedups.extension("wire.rtp._packet")
_parse: Callable[[type[RtpPacket], bytes], RtpPacket] = (
    _ext.parse if _ext is not None else _parse_py
)


@dataclass(slots=True)
class RtpPacket:
    """One RTP packet. ``padding_size`` counts the padding octets removed on parse (§5.1, P)."""

    payload_type: int
    sequence_number: int
    timestamp: int
    ssrc: int
    payload: bytes = b""
    marker: bool = False
    csrc: list[int] = field(default_factory=list)
    extension: HeaderExtension | None = None
    padding_size: int = 0

    if TYPE_CHECKING:

        @classmethod
        def parse(cls, data: bytes) -> RtpPacket:
            """Parse one RTP packet; raises :class:`RtpError` on malformed input."""
    else:
        # The parser itself as the classmethod, without a call in between: one per packet.
        parse = classmethod(_parse)

    def serialize(self) -> bytes:
        """The packet on the wire; padding, when set, is zeros followed by its count."""
        if not 0 <= self.payload_type <= 0x7F:
            raise RtpError(f"RTP packet: payload type {self.payload_type} is not in 0..127")
        if len(self.csrc) > MAX_CSRC_COUNT:
            raise RtpError(f"RTP packet: {len(self.csrc)} CSRCs, at most {MAX_CSRC_COUNT}")
        if not 0 <= self.padding_size <= 0xFF:
            raise RtpError(f"RTP packet: padding of {self.padding_size} bytes is not in 0..255")
        first = (RTP_VERSION << 6) | len(self.csrc)
        if self.padding_size:
            first |= 0x20
        if self.extension is not None:
            first |= 0x10
        second = (0x80 if self.marker else 0) | self.payload_type
        try:
            parts = [
                _FIXED_HEADER.pack(first, second, self.sequence_number, self.timestamp, self.ssrc),
                struct.pack(f"!{len(self.csrc)}I", *self.csrc),
            ]
            if self.extension is not None:
                ext = self.extension
                if len(ext.data) % 4:
                    raise RtpError(
                        f"RTP packet: header extension data of {len(ext.data)} bytes is not "
                        "a multiple of 4"
                    )
                parts.append(_EXTENSION_HEADER.pack(ext.profile, len(ext.data) // 4))
                parts.append(ext.data)
        except struct.error as exc:
            raise RtpError(f"RTP packet: header field out of range ({exc})") from None
        parts.append(self.payload)
        if self.padding_size:
            parts.append(bytes(self.padding_size - 1) + bytes([self.padding_size]))
        return b"".join(parts)

    def __bytes__(self) -> bytes:
        return self.serialize()


def patch_header(buf: bytearray, sequence_number: int, timestamp: int, ssrc: int) -> None:
    """Rewrite the sequence number, timestamp and SSRC of a serialized packet in place.

    Senders packetize a sample once and patch these three fields for every send. Values are
    taken modulo their field size, so callers may pass running counters.
    """
    _PATCHED_FIELDS.pack_into(
        buf, 2, sequence_number & 0xFFFF, timestamp & 0xFFFFFFFF, ssrc & 0xFFFFFFFF
    )
