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
        """Read an ``n``-bit unsigned integer (``u(n)`` in the specifications).

        Linear in ``n``: one conversion of the bytes that hold the field. Building the value a
        bit at a time cost O(n²), seconds for one 64 kB NAL unit of an ``hvcC`` or the specific
        config of a large AudioSpecificConfig, which the network decides the size of.
        """
        if n < 0:
            raise ValueError(f"cannot read {n} bits")
        if n == 0:
            return 0
        pos = self._pos
        if n > len(self._data) * 8 - pos:
            raise self.error(f"truncated while reading {field}")
        first, end = pos >> 3, (pos + n + 7) >> 3
        word = int.from_bytes(self._data[first:end], "big")
        self._pos = pos + n
        return (word >> ((end << 3) - pos - n)) & ((1 << n) - 1)

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
    """MSB-first writer, the inverse of :class:`BitReader` (used to build test streams and SEI).

    Whole bytes go to a buffer as soon as they are complete; only the bits of the last partial
    byte wait in an integer, so a field of n bits costs O(n) whatever was written before it.
    """

    def __init__(self) -> None:
        self._out = bytearray()
        self._pending = 0  # the bits after the last whole byte, MSB first
        self._pending_bits = 0  # how many, 0-7

    def u(self, n: int, value: int) -> None:
        if n < 0 or value < 0 or (n > 0 and value >= 1 << n):
            raise ValueError(f"{value} does not fit in {n} bits")
        if n == 0:
            return
        bits = self._pending_bits + n
        word = (self._pending << n) | value
        whole, rest = divmod(bits, 8)
        if whole:
            self._out += (word >> rest).to_bytes(whole, "big")
            word &= (1 << rest) - 1
        self._pending, self._pending_bits = word, rest

    def flag(self, value: bool) -> None:
        self.u(1, 1 if value else 0)

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
        self.u(1, 1)
        if self._pending_bits:
            self.u(8 - self._pending_bits, 0)

    def to_bytes(self) -> bytes:
        """Everything written, the last byte padded with zero bits."""
        if not self._pending_bits:
            return bytes(self._out)
        last = self._pending << (8 - self._pending_bits)
        return bytes(self._out) + bytes((last,))
