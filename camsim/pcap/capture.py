"""Reading capture files: pcap (microsecond and nanosecond, either byte order) and pcapng.

The file is memory-mapped and walked with ``struct``; a record is handed out as an offset into
the map and a length, so nothing is copied until a decoder needs it. This is what makes
``inspect`` fast: scapy's readers build Python objects per packet and its dissectors run at a few
thousand packets per second, far below what a capture of a busy camera holds.

Formats: the classic libpcap format (https://www.tcpdump.org/manpages/pcap-savefile.5.html) and
pcapng (draft-ietf-opsawg-pcapng): Section Header, Interface Description (link type, ``if_tsresol``,
``if_tsoffset``), Enhanced, Simple and the obsolete Packet blocks; other blocks are skipped. A
file cut short (a capture killed mid-write) ends at its last whole record and says so in
:attr:`CaptureFile.truncated`.
"""

from __future__ import annotations

import mmap
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Self

PCAP_MAGIC_US = 0xA1B2C3D4
PCAP_MAGIC_NS = 0xA1B23C4D
PCAPNG_SHB = 0x0A0D0D0A
PCAPNG_BYTE_ORDER_MAGIC = 0x1A2B3C4D
_SWAPPED_BYTE_ORDER_MAGIC = 0x4D3C2B1A

BLOCK_IDB = 0x00000001
BLOCK_PB = 0x00000002  # obsolete Packet Block
BLOCK_SPB = 0x00000003
BLOCK_EPB = 0x00000006

OPTION_END = 0
OPTION_IF_TSRESOL = 9
OPTION_IF_TSOFFSET = 14

PCAP_HEADER_SIZE = 24
PCAP_RECORD_SIZE = 16
MAX_RECORD_SIZE = 256 * 1024 * 1024
"""Larger than any snap length in use; a bigger length means the file is corrupt."""


class CaptureError(ValueError):
    """The file is not a capture this reader understands, or is corrupt."""


class CaptureFormat(StrEnum):
    PCAP = "pcap"
    PCAPNG = "pcapng"


@dataclass(frozen=True, slots=True)
class Interface:
    """What a pcapng Interface Description Block (or a pcap header) says about its packets."""

    link_type: int
    snaplen: int
    units_per_second: int = 1_000_000
    """Timestamp resolution: ``if_tsresol`` as a count of units per second."""
    offset_seconds: int = 0
    """``if_tsoffset``: seconds added to every timestamp."""


@dataclass(frozen=True, slots=True)
class PacketRecord:
    """One packet with its exact timestamp, for writers that must not round it."""

    timestamp_ns: int
    interface: int
    link_type: int
    offset: int
    """Where the packet's bytes start in :attr:`CaptureFile.buffer`."""
    captured_length: int
    original_length: int


@dataclass
class CaptureFile:
    """An open capture; iterate :meth:`records` for speed or :meth:`packets` for exactness."""

    path: Path
    buffer: mmap.mmap | bytes
    format: CaptureFormat
    interfaces: list[Interface] = field(default_factory=list)
    truncated: str | None = None
    """Why reading stopped before the end of the file, when it did."""

    @classmethod
    def open(cls, path: str | Path) -> CaptureFile:
        """Map ``path`` and read its header; raises :class:`CaptureError` or ``OSError``."""
        path = Path(path)
        with path.open("rb") as file:
            size = path.stat().st_size
            if size == 0:
                raise CaptureError(f"{path}: empty file")
            buffer: mmap.mmap | bytes = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
        return cls.from_bytes(buffer, path)

    @classmethod
    def from_bytes(cls, buffer: mmap.mmap | bytes, path: str | Path = "<memory>") -> CaptureFile:
        """A capture held in memory (tests, and captures made on the fly)."""
        path = Path(path)
        if len(buffer) < 4:
            raise CaptureError(f"{path}: {len(buffer)} bytes, too short for a capture header")
        (magic,) = struct.unpack_from("<I", buffer)
        if magic == PCAPNG_SHB:
            return cls(path, buffer, CaptureFormat.PCAPNG)
        capture = cls(path, buffer, CaptureFormat.PCAP)
        capture._read_pcap_header()
        return capture

    def close(self) -> None:
        if isinstance(self.buffer, mmap.mmap):
            self.buffer.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def link_types(self) -> set[int]:
        return {interface.link_type for interface in self.interfaces}

    # pcap

    def _read_pcap_header(self) -> None:
        buffer = self.buffer
        if len(buffer) < PCAP_HEADER_SIZE:
            raise CaptureError(f"{self.path}: {len(buffer)} bytes, shorter than a pcap header")
        for order in "<>":
            (magic,) = struct.unpack_from(order + "I", buffer)
            if magic in (PCAP_MAGIC_US, PCAP_MAGIC_NS):
                break
        else:
            start = bytes(buffer[:4]).hex(" ")
            raise CaptureError(f"{self.path}: not a pcap or pcapng file (it starts with {start})")
        self._order = order
        _, _, _, _, snaplen, network = struct.unpack_from(order + "HHiIII", buffer, 4)
        units = 1_000_000_000 if magic == PCAP_MAGIC_NS else 1_000_000
        # The upper bits of the link type field may carry FCS information (pcap-savefile(5)).
        self.interfaces = [Interface(network & 0x0FFFFFFF, snaplen, units)]

    def _pcap_records(self) -> Iterator[tuple[int, int, int, int, int]]:
        """(seconds, fraction, offset, captured length, original length) per record."""
        buffer = self.buffer
        end = len(buffer)
        unpack = struct.Struct(self._order + "IIII").unpack_from
        pos = PCAP_HEADER_SIZE
        while pos + PCAP_RECORD_SIZE <= end:
            seconds, fraction, caplen, length = unpack(buffer, pos)
            data = pos + PCAP_RECORD_SIZE
            if caplen > MAX_RECORD_SIZE:
                self.truncated = f"record at byte {pos} claims {caplen} bytes: file is corrupt"
                return
            if data + caplen > end:
                break
            yield seconds, fraction, data, caplen, length
            pos = data + caplen
        if pos != end:
            self.truncated = f"file ends inside the record at byte {pos}"

    # pcapng

    def _section(self, pos: int) -> str:
        """The byte order a Section Header Block at ``pos`` sets; interface ids start over."""
        (magic,) = struct.unpack_from("<I", self.buffer, pos + 8)
        self.interfaces = []
        if magic == PCAPNG_BYTE_ORDER_MAGIC:
            return "<"
        if magic == _SWAPPED_BYTE_ORDER_MAGIC:
            return ">"
        raise CaptureError(f"{self.path}: pcapng section at byte {pos} is corrupt")

    def _interface(self, order: str, body: int, length: int) -> Interface:
        link_type, _, snaplen = struct.unpack_from(order + "HHI", self.buffer, body)
        units, offset = 1_000_000, 0
        for code, value in _options(self.buffer, order, body + 8, body + length):
            if code == OPTION_IF_TSRESOL and value:
                resolution = value[0]
                # The top bit selects a power of two, otherwise a power of ten.
                exponent = resolution & 0x7F
                units = 2**exponent if resolution & 0x80 else 10**exponent
            elif code == OPTION_IF_TSOFFSET and len(value) == 8:
                (offset,) = struct.unpack(order + "q", value)
        return Interface(link_type, snaplen, units, offset)

    def _pcapng_packets(self) -> Iterator[tuple[int, int, int, int, int]]:
        """(interface, timestamp units, offset, captured length, original length) per packet.

        Enhanced Packet Blocks, nearly every block of a file, take the first branch: one
        ``struct`` call each; :meth:`_other_block` handles the rest.
        """
        buffer = self.buffer
        end = len(buffer)
        pos = 0
        order = "<"
        enhanced = struct.Struct("<IIIIIII").unpack_from
        while pos + 28 <= end:
            block_type, total, interface, high, low, caplen, original = enhanced(buffer, pos)
            if block_type == BLOCK_EPB:
                if total % 4 or pos + total > end or 32 + caplen > total:
                    break
                yield interface, (high << 32) | low, pos + 28, caplen, original
                pos += total
                continue
            step, order, packet = self._other_block(pos, order)
            if step == 0:
                break
            enhanced = struct.Struct(order + "IIIIIII").unpack_from
            if packet is not None:
                yield packet
            pos += step
        if pos != end:
            self.truncated = f"file ends inside (or at a damaged) pcapng block at byte {pos}"

    def _other_block(
        self, pos: int, order: str
    ) -> tuple[int, str, tuple[int, int, int, int, int] | None]:
        """A block other than an EPB at ``pos``: (its length, the byte order from now on, the
        packet it holds); length 0 when it is damaged or cut short."""
        buffer = self.buffer
        (block_type,) = struct.unpack_from(order + "I", buffer, pos)
        if block_type == PCAPNG_SHB:
            order = self._section(pos)
        (total,) = struct.unpack_from(order + "I", buffer, pos + 4)
        if total < 12 or total % 4 or pos + total > len(buffer):
            return 0, order, None
        body, length = pos + 8, total - 12
        packet = None
        if block_type == BLOCK_IDB:
            self.interfaces.append(self._interface(order, body, length))
        elif block_type == BLOCK_SPB:
            (original,) = struct.unpack_from(order + "I", buffer, body)
            snaplen = self.interfaces[0].snaplen if self.interfaces else 0
            caplen = min(original, length - 4, snaplen or original)
            packet = (0, 0, body + 4, caplen, original)  # a simple packet has no timestamp
        elif block_type == BLOCK_PB:
            interface, _, high, low, caplen, original = struct.unpack_from(
                order + "HHIIII", buffer, body
            )
            packet = (interface, (high << 32) | low, body + 20, caplen, original)
        return total, order, packet

    # Iteration

    def records(self) -> Iterator[tuple[float, int, int, int]]:
        """(time in seconds, link type, offset, captured length) per packet, in file order."""
        if self.format is CaptureFormat.PCAP:
            # The walk of _pcap_records, written out: this loop runs once per packet.
            buffer = self.buffer
            end = len(buffer)
            interface = self.interfaces[0]
            link_type = interface.link_type
            scale = 1 / interface.units_per_second
            unpack = struct.Struct(self._order + "IIII").unpack_from
            pos = PCAP_HEADER_SIZE
            while pos + PCAP_RECORD_SIZE <= end:
                seconds, fraction, caplen, _ = unpack(buffer, pos)
                data = pos + PCAP_RECORD_SIZE
                if data + caplen > end or caplen > MAX_RECORD_SIZE:
                    break
                yield seconds + fraction * scale, link_type, data, caplen
                pos = data + caplen
            if pos != end:
                self.truncated = f"file ends inside the record at byte {pos}"
            return
        # The EPB branch of _pcapng_packets again, converting the timestamp on the way: this
        # loop runs once per packet of captures of millions.
        buffer = self.buffer
        end = len(buffer)
        pos = 0
        order = "<"
        enhanced = struct.Struct("<IIIIIII").unpack_from
        interfaces: list[tuple[int, float, int]] = []
        while pos + 28 <= end:
            block_type, total, interface, high, low, caplen, _ = enhanced(buffer, pos)
            if block_type == BLOCK_EPB and interface < len(interfaces):
                if total % 4 or pos + total > end or 32 + caplen > total:
                    break
                link_type, scale, offset_seconds = interfaces[interface]
                yield ((high << 32) | low) * scale + offset_seconds, link_type, pos + 28, caplen
                pos += total
                continue
            if block_type == BLOCK_EPB:
                self._interface_of(interface)  # raises: the interface was never described
            step, order, packet = self._other_block(pos, order)
            if step == 0:
                break
            enhanced = struct.Struct(order + "IIIIIII").unpack_from
            interfaces = [
                (i.link_type, 1 / i.units_per_second, i.offset_seconds) for i in self.interfaces
            ]
            if packet is not None:
                number, units, offset, caplen, _ = packet
                self._interface_of(number)
                link_type, scale, offset_seconds = interfaces[number]
                yield units * scale + offset_seconds, link_type, offset, caplen
            pos += step
        if pos != end:
            self.truncated = f"file ends inside (or at a damaged) pcapng block at byte {pos}"

    def packets(self) -> Iterator[PacketRecord]:
        """Every packet with its timestamp in whole nanoseconds."""
        if self.format is CaptureFormat.PCAP:
            interface = self.interfaces[0]
            per_unit = 1_000_000_000 // interface.units_per_second
            for seconds, fraction, offset, caplen, original in self._pcap_records():
                timestamp = seconds * 1_000_000_000 + fraction * per_unit
                yield PacketRecord(timestamp, 0, interface.link_type, offset, caplen, original)
            return
        for number, units, offset, caplen, original in self._pcapng_packets():
            interface = self._interface_of(number)
            timestamp = units * 1_000_000_000 // interface.units_per_second
            timestamp += interface.offset_seconds * 1_000_000_000
            yield PacketRecord(timestamp, number, interface.link_type, offset, caplen, original)

    def _interface_of(self, number: int) -> Interface:
        if number >= len(self.interfaces):
            raise CaptureError(f"{self.path}: packet of interface {number}, which is not described")
        return self.interfaces[number]


def _options(
    buffer: mmap.mmap | bytes, order: str, pos: int, end: int
) -> Iterator[tuple[int, bytes]]:
    """The (code, value) options of a block body from ``pos`` to ``end``."""
    header = struct.Struct(order + "HH")
    while pos + 4 <= end:
        code, length = header.unpack_from(buffer, pos)
        if code == OPTION_END:
            return
        pos += 4
        yield code, bytes(buffer[pos : pos + length])
        pos += (length + 3) & ~3
