"""Writing ISO BMFF boxes (ISO/IEC 14496-12 §4.2) and walking them back.

A box is a 32-bit size (header included), a four-character type, then its payload; a full box
adds a version byte and 24 bits of flags. Writers here build whole boxes from their payloads, so
a box's size is always right by construction.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

from wire.fmp4.errors import Fmp4Error

HEADER_SIZE = 8
FULL_HEADER_SIZE = 12
# A size of 1 announces a 64-bit largesize after the type (§4.2); 0 means "to the end".
SIZE_LARGE = 1
SIZE_TO_END = 0
MAX_SIZE = 0xFFFFFFFF


def box(kind: bytes, *payload: bytes) -> bytes:
    """A box of type ``kind`` around the concatenated ``payload``."""
    if len(kind) != 4:
        raise Fmp4Error(f"box type {kind!r} is not four characters")
    body = b"".join(payload)
    size = HEADER_SIZE + len(body)
    if size > MAX_SIZE:
        raise Fmp4Error(f"box {kind.decode('latin-1')} of {size} bytes needs a largesize")
    return struct.pack(">I4s", size, kind) + body


def full_box(kind: bytes, version: int, flags: int, *payload: bytes) -> bytes:
    """A FullBox (§4.2): version and flags ahead of the payload."""
    if not 0 <= version <= 0xFF or not 0 <= flags <= 0xFFFFFF:
        raise Fmp4Error(f"box {kind!r}: version {version} or flags {flags:#x} out of range")
    return box(kind, struct.pack(">I", version << 24 | flags), *payload)


@dataclass(frozen=True, slots=True)
class Box:
    """One box as read: its type and payload (after the 8- or 16-byte header)."""

    kind: str
    payload: bytes

    def children(self) -> list[Box]:
        """The payload read as a sequence of boxes (container boxes such as moov, traf)."""
        return list(walk(self.payload))

    def child(self, kind: str) -> Box:
        """The first child of type ``kind``."""
        for child in walk(self.payload):
            if child.kind == kind:
                return child
        raise Fmp4Error(f"box {self.kind} has no {kind} box")

    def full_header(self) -> tuple[int, int, bytes]:
        """Version, flags and the rest of the payload of a FullBox."""
        if len(self.payload) < FULL_HEADER_SIZE - HEADER_SIZE:
            raise Fmp4Error(f"box {self.kind}: {len(self.payload)} bytes, no FullBox header")
        (word,) = struct.unpack_from(">I", self.payload)
        return word >> 24, word & 0xFFFFFF, self.payload[4:]


def walk(data: bytes) -> Iterator[Box]:
    """The boxes laid end to end in ``data``; a truncated box raises :class:`Fmp4Error`."""
    pos = 0
    end = len(data)
    while pos < end:
        if end - pos < HEADER_SIZE:
            raise Fmp4Error(f"box header at offset {pos}: {end - pos} of {HEADER_SIZE} bytes")
        size, raw_kind = struct.unpack_from(">I4s", data, pos)
        kind = raw_kind.decode("latin-1")
        header = HEADER_SIZE
        if size == SIZE_LARGE:
            if end - pos < HEADER_SIZE + 8:
                raise Fmp4Error(f"box {kind} at offset {pos}: largesize truncated")
            (size,) = struct.unpack_from(">Q", data, pos + HEADER_SIZE)
            header += 8
        elif size == SIZE_TO_END:
            size = end - pos
        if size < header:
            raise Fmp4Error(f"box {kind} at offset {pos}: size {size} is below its header")
        if pos + size > end:
            raise Fmp4Error(f"box {kind} at offset {pos}: size {size}, only {end - pos} bytes left")
        yield Box(kind, data[pos + header : pos + size])
        pos += size
