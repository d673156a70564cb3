"""Bit-level reading and writing for NAL unit payloads (H.264 §7.2, H.265 §7.2).

Includes Exp-Golomb codes (H.264 §9.1) and the emulation-prevention escaping that turns an RBSP
into the bytes carried in a NAL unit (H.264 §7.4.1, H.265 §7.4.2).
"""

from __future__ import annotations

from wire.codec.errors import CodecError

EMULATION_PREVENTION_BYTE = 0x03


def unescape_rbsp(data: bytes) -> bytes:
    """Remove emulation-prevention bytes: ``00 00 03 xx`` becomes ``00 00 xx``."""
    if b"\x00\x00\x03" not in data:
        return data
    out = bytearray()
    zeros = 0
    for byte in data:
        if zeros >= 2 and byte == EMULATION_PREVENTION_BYTE:
            zeros = 0
            continue
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    return bytes(out)


def escape_rbsp(data: bytes) -> bytes:
    """Insert emulation-prevention bytes so no ``00 00 0x`` (x <= 3) appears in the payload."""
    out = bytearray()
    zeros = 0
    for byte in data:
        if zeros >= 2 and byte <= 3:
            out.append(EMULATION_PREVENTION_BYTE)
            zeros = 0
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    return bytes(out)


class BitReader:
    """MSB-first reader over an RBSP (emulation prevention already removed).

    ``what`` names the structure being parsed so that errors read like
    ``"SPS: truncated while reading pic_width_in_mbs_minus1"``.
    """

    def __init__(self, data: bytes, what: str) -> None:
        self._data = data
        self._pos = 0  # in bits
        self._what = what

    @property
    def bits_left(self) -> int:
        return len(self._data) * 8 - self._pos

    @property
    def position(self) -> int:
        return self._pos

    def error(self, message: str) -> CodecError:
        return CodecError(f"{self._what}: {message}")

    def u(self, n: int, field: str) -> int:
        """Read an ``n``-bit unsigned integer (``u(n)`` in the specifications)."""
        if n == 0:
            return 0
        if n > self.bits_left:
            raise self.error(f"truncated while reading {field}")
        value = 0
        pos = self._pos
        data = self._data
        for _ in range(n):
            value = (value << 1) | ((data[pos >> 3] >> (7 - (pos & 7))) & 1)
            pos += 1
        self._pos = pos
        return value

    def flag(self, field: str) -> bool:
        return self.u(1, field) == 1

    def skip(self, n: int, field: str) -> None:
        if n > self.bits_left:
            raise self.error(f"truncated while skipping {field}")
        self._pos += n

    def ue(self, field: str) -> int:
        """Unsigned Exp-Golomb ``ue(v)``; at most 32 leading zeros as the specifications allow."""
        zeros = 0
        while self.u(1, field) == 0:
            zeros += 1
            if zeros > 31:
                raise self.error(f"Exp-Golomb code too long in {field}")
        return (1 << zeros) - 1 + self.u(zeros, field)

    def ue_at_most(self, field: str, limit: int) -> int:
        """``ue(v)`` with the range check the semantics of most fields impose."""
        value = self.ue(field)
        if value > limit:
            raise self.error(f"{field} {value} exceeds {limit}")
        return value

    def se(self, field: str) -> int:
        """Signed Exp-Golomb ``se(v)``: 0, 1, -1, 2, -2, ..."""
        k = self.ue(field)
        return (k + 1) // 2 if k & 1 else -(k // 2)

    def byte_align(self) -> None:
        self._pos = (self._pos + 7) & ~7


class BitWriter:
    """MSB-first writer, the inverse of :class:`BitReader` (used to build test streams and SEI)."""

    def __init__(self) -> None:
        self._bits: list[int] = []

    def u(self, n: int, value: int) -> None:
        if value < 0 or (n > 0 and value >= 1 << n):
            raise ValueError(f"{value} does not fit in {n} bits")
        self._bits.extend((value >> (n - 1 - i)) & 1 for i in range(n))

    def flag(self, value: bool) -> None:
        self._bits.append(1 if value else 0)

    def ue(self, value: int) -> None:
        if value < 0:
            raise ValueError("ue(v) takes a non-negative value")
        code = value + 1
        length = code.bit_length()
        self.u(length - 1, 0)
        self.u(length, code)

    def se(self, value: int) -> None:
        self.ue(2 * value - 1 if value > 0 else -2 * value)

    def rbsp_trailing_bits(self) -> None:
        self._bits.append(1)
        while len(self._bits) % 8:
            self._bits.append(0)

    def to_bytes(self) -> bytes:
        bits = self._bits + [0] * (-len(self._bits) % 8)
        return bytes(int("".join(map(str, bits[i : i + 8])), 2) for i in range(0, len(bits), 8))
