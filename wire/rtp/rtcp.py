"""RTCP packets (RFC 3550 §6.4-6.6) and compound packets (§6.1).

Sender and receiver reports, SDES and BYE are parsed into fields; any other packet type (APP,
the RTP/AVPF feedback messages, XR, ...) is kept as :class:`RtcpRawPacket` so that a compound
packet round-trips byte for byte.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field

from wire.rtp.errors import RtpError
from wire.rtp.packet import RTP_VERSION

RTCP_SR = 200
RTCP_RR = 201
RTCP_SDES = 202
RTCP_BYE = 203
RTCP_APP = 204

# SDES item types (§6.5)
SDES_END = 0
SDES_CNAME = 1
SDES_NAME = 2
SDES_EMAIL = 3
SDES_PHONE = 4
SDES_LOC = 5
SDES_TOOL = 6
SDES_NOTE = 7
SDES_PRIV = 8

MAX_REPORT_BLOCKS = 31
REPORT_BLOCK_SIZE = 24

_HEADER = struct.Struct("!BBH")
_REPORT_BLOCK = struct.Struct("!IB3sIIII")
_SENDER_INFO = struct.Struct("!IQIII")
_SSRC = struct.Struct("!I")


@dataclass(slots=True)
class ReportBlock:
    """A reception report block (§6.4.1). ``packets_lost`` is signed (24 bits on the wire)."""

    ssrc: int
    fraction_lost: int
    packets_lost: int
    highest_sequence: int
    jitter: int
    lsr: int
    dlsr: int

    @classmethod
    def parse(cls, data: bytes, offset: int = 0) -> ReportBlock:
        if offset + REPORT_BLOCK_SIZE > len(data):
            raise RtpError(f"RTCP report block: truncated at offset {offset}")
        ssrc, fraction, lost, highest, jitter, lsr, dlsr = _REPORT_BLOCK.unpack_from(data, offset)
        packets_lost = int.from_bytes(lost, "big", signed=True)
        return cls(ssrc, fraction, packets_lost, highest, jitter, lsr, dlsr)

    def serialize(self) -> bytes:
        if not -0x800000 <= self.packets_lost <= 0x7FFFFF:
            raise RtpError(f"RTCP report block: packets_lost {self.packets_lost} is not 24-bit")
        try:
            return _REPORT_BLOCK.pack(
                self.ssrc,
                self.fraction_lost,
                self.packets_lost.to_bytes(3, "big", signed=True),
                self.highest_sequence,
                self.jitter,
                self.lsr,
                self.dlsr,
            )
        except struct.error as exc:
            raise RtpError(f"RTCP report block: field out of range ({exc})") from None


@dataclass(slots=True)
class RtcpSenderReport:
    """SR (§6.4.1): sender info mapping ``rtp_timestamp`` to the 64-bit ``ntp_timestamp``."""

    ssrc: int
    ntp_timestamp: int
    rtp_timestamp: int
    packet_count: int
    octet_count: int
    reports: list[ReportBlock] = field(default_factory=list)
    extension: bytes = b""

    packet_type = RTCP_SR

    @classmethod
    def parse_body(cls, count: int, body: bytes) -> RtcpSenderReport:
        _check_size("SR", body, _SENDER_INFO.size + REPORT_BLOCK_SIZE * count, count)
        ssrc, ntp, rtp, packets, octets = _SENDER_INFO.unpack_from(body)
        reports, extension = _parse_blocks(body, _SENDER_INFO.size, count)
        return cls(ssrc, ntp, rtp, packets, octets, reports, extension)

    def serialize(self) -> bytes:
        try:
            info = _SENDER_INFO.pack(
                self.ssrc,
                self.ntp_timestamp,
                self.rtp_timestamp,
                self.packet_count,
                self.octet_count,
            )
        except struct.error as exc:
            raise RtpError(f"RTCP SR: field out of range ({exc})") from None
        return _pack(RTCP_SR, len(self.reports), info + _serialize_blocks(self))


@dataclass(slots=True)
class RtcpReceiverReport:
    """RR (§6.4.2): the reporter's SSRC and one block per source heard from."""

    ssrc: int
    reports: list[ReportBlock] = field(default_factory=list)
    extension: bytes = b""

    packet_type = RTCP_RR

    @classmethod
    def parse_body(cls, count: int, body: bytes) -> RtcpReceiverReport:
        _check_size("RR", body, 4 + REPORT_BLOCK_SIZE * count, count)
        (ssrc,) = _SSRC.unpack_from(body)
        reports, extension = _parse_blocks(body, 4, count)
        return cls(ssrc, reports, extension)

    def serialize(self) -> bytes:
        return _pack(RTCP_RR, len(self.reports), _pack_ssrc(self.ssrc) + _serialize_blocks(self))


@dataclass(slots=True)
class SdesItem:
    """One SDES item (§6.5); ``value`` is UTF-8 text on the wire, kept as bytes."""

    item_type: int
    value: bytes


@dataclass(slots=True)
class SdesChunk:
    ssrc: int
    items: list[SdesItem] = field(default_factory=list)


@dataclass(slots=True)
class RtcpSdes:
    """SDES (§6.5): chunks of items per source, e.g. the CNAME."""

    chunks: list[SdesChunk] = field(default_factory=list)

    packet_type = RTCP_SDES

    @classmethod
    def parse_body(cls, count: int, body: bytes) -> RtcpSdes:
        chunks = []
        pos = 0
        for _ in range(count):
            if pos + 4 > len(body):
                raise RtpError(f"RTCP SDES: chunk truncated at offset {pos}")
            chunk = SdesChunk(_SSRC.unpack_from(body, pos)[0])
            pos += 4
            while True:
                if pos >= len(body):
                    raise RtpError("RTCP SDES: chunk not terminated by a null item")
                item_type = body[pos]
                if item_type == SDES_END:
                    pos = (pos + 4) & ~3  # the null octet(s) pad the chunk to 32 bits
                    break
                if pos + 2 > len(body) or pos + 2 + body[pos + 1] > len(body):
                    raise RtpError(f"RTCP SDES: item of type {item_type} truncated")
                length = body[pos + 1]
                chunk.items.append(SdesItem(item_type, bytes(body[pos + 2 : pos + 2 + length])))
                pos += 2 + length
            chunks.append(chunk)
        return cls(chunks)

    def cname(self, ssrc: int) -> str | None:
        """The CNAME announced for ``ssrc``, decoded leniently."""
        for chunk in self.chunks:
            if chunk.ssrc == ssrc:
                for item in chunk.items:
                    if item.item_type == SDES_CNAME:
                        return item.value.decode("utf-8", "replace")
        return None

    def serialize(self) -> bytes:
        if len(self.chunks) > MAX_REPORT_BLOCKS:
            raise RtpError(f"RTCP SDES: {len(self.chunks)} chunks, at most {MAX_REPORT_BLOCKS}")
        body = bytearray()
        for chunk in self.chunks:
            body += _pack_ssrc(chunk.ssrc)
            for item in chunk.items:
                if len(item.value) > 0xFF or not 0 < item.item_type <= 0xFF:
                    raise RtpError(f"RTCP SDES: item of type {item.item_type} does not fit")
                body += bytes([item.item_type, len(item.value)]) + item.value
            body += bytes(4 - len(body) % 4)
        return _pack(RTCP_SDES, len(self.chunks), bytes(body))


@dataclass(slots=True)
class RtcpBye:
    """BYE (§6.6): the sources leaving and an optional reason."""

    sources: list[int] = field(default_factory=list)
    reason: bytes | None = None

    packet_type = RTCP_BYE

    @classmethod
    def parse_body(cls, count: int, body: bytes) -> RtcpBye:
        _check_size("BYE", body, 4 * count, count)
        sources = list(struct.unpack_from(f"!{count}I", body))
        reason = None
        pos = 4 * count
        if pos < len(body):
            length = body[pos]
            if pos + 1 + length > len(body):
                raise RtpError(
                    f"RTCP BYE: reason of {length} bytes overruns the packet "
                    f"({len(body) - pos - 1} bytes left)"
                )
            reason = bytes(body[pos + 1 : pos + 1 + length])
        return cls(sources, reason)

    def serialize(self) -> bytes:
        if len(self.sources) > MAX_REPORT_BLOCKS:
            raise RtpError(f"RTCP BYE: {len(self.sources)} sources, at most {MAX_REPORT_BLOCKS}")
        body = b"".join(_pack_ssrc(ssrc) for ssrc in self.sources)
        if self.reason is not None:
            if len(self.reason) > 0xFF:
                raise RtpError(f"RTCP BYE: reason of {len(self.reason)} bytes, at most 255")
            text = bytes([len(self.reason)]) + self.reason
            body += text + bytes(-len(text) % 4)
        return _pack(RTCP_BYE, len(self.sources), body)


@dataclass(slots=True)
class RtcpRawPacket:
    """A packet of a type not interpreted here, kept as its count field and body."""

    packet_type: int
    count: int
    body: bytes

    def serialize(self) -> bytes:
        if len(self.body) % 4:
            raise RtpError(f"RTCP packet: body of {len(self.body)} bytes is not 32-bit aligned")
        return _pack(self.packet_type, self.count, self.body)


RtcpPacket = RtcpSenderReport | RtcpReceiverReport | RtcpSdes | RtcpBye | RtcpRawPacket

_PARSERS: dict[int, Callable[[int, bytes], RtcpPacket]] = {
    RTCP_SR: RtcpSenderReport.parse_body,
    RTCP_RR: RtcpReceiverReport.parse_body,
    RTCP_SDES: RtcpSdes.parse_body,
    RTCP_BYE: RtcpBye.parse_body,
}


def parse_compound(data: bytes) -> list[RtcpPacket]:
    """Parse a compound RTCP packet (one or more packets back to back).

    The order rules of §6.1 (SR/RR first, CNAME present) are not enforced: real senders break
    them and the packets are still useful. Malformed input raises :class:`RtpError`.
    """
    if not data:
        raise RtpError("RTCP: empty datagram")
    packets: list[RtcpPacket] = []
    pos = 0
    while pos < len(data):
        if pos + 4 > len(data):
            raise RtpError(f"RTCP packet at offset {pos}: {len(data) - pos} bytes, header is 4")
        first, packet_type, words = _HEADER.unpack_from(data, pos)
        if first >> 6 != RTP_VERSION:
            raise RtpError(f"RTCP packet at offset {pos}: version {first >> 6}, expected 2")
        size = 4 * (words + 1)
        if pos + size > len(data):
            raise RtpError(
                f"RTCP packet at offset {pos}: length field says {size} bytes, "
                f"{len(data) - pos} left"
            )
        body = data[pos + 4 : pos + size]
        if first & 0x20:
            # Padding (§6.4.1, P): the last octet counts the padding octets, itself included.
            padding = body[-1] if body else 0
            if padding == 0 or padding > len(body):
                raise RtpError(f"RTCP packet at offset {pos}: invalid padding count {padding}")
            body = body[: len(body) - padding]
        count = first & 0x1F
        parser = _PARSERS.get(packet_type)
        if parser is None:
            packets.append(RtcpRawPacket(packet_type, count, bytes(body)))
        else:
            packets.append(parser(count, bytes(body)))
        pos += size
    return packets


def serialize_compound(packets: list[RtcpPacket]) -> bytes:
    """Concatenate the packets of a compound RTCP packet."""
    return b"".join(packet.serialize() for packet in packets)


def _pack(packet_type: int, count: int, body: bytes) -> bytes:
    if not 0 <= count <= MAX_REPORT_BLOCKS:
        raise RtpError(f"RTCP packet: count {count} is not in 0..{MAX_REPORT_BLOCKS}")
    words = len(body) // 4
    if words > 0xFFFF:
        raise RtpError(f"RTCP packet: body of {len(body)} bytes is too long")
    return _HEADER.pack((RTP_VERSION << 6) | count, packet_type, words) + body


def _pack_ssrc(ssrc: int) -> bytes:
    try:
        return _SSRC.pack(ssrc)
    except struct.error:
        raise RtpError(f"RTCP packet: SSRC {ssrc} is not a 32-bit value") from None


def _check_size(name: str, body: bytes, needed: int, count: int) -> None:
    if len(body) < needed:
        raise RtpError(
            f"RTCP {name}: {len(body)} body bytes, {count} blocks need at least {needed}"
        )


def _parse_blocks(body: bytes, offset: int, count: int) -> tuple[list[ReportBlock], bytes]:
    blocks = [ReportBlock.parse(body, offset + i * REPORT_BLOCK_SIZE) for i in range(count)]
    return blocks, bytes(body[offset + count * REPORT_BLOCK_SIZE :])


def _serialize_blocks(report: RtcpSenderReport | RtcpReceiverReport) -> bytes:
    if len(report.extension) % 4:
        raise RtpError(
            f"RTCP report: extension of {len(report.extension)} bytes is not 32-bit aligned"
        )
    return b"".join(block.serialize() for block in report.reports) + report.extension
