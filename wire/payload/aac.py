"""AAC over RTP as ``mpeg4-generic`` (RFC 3640), mode AAC-hbr.

A payload is the AU Header Section (a 16-bit AU-headers-length in bits, then one AU header
per access unit: AU-size and AU-Index or AU-Index-delta), padded to a byte, followed by the
access units back to back. An access unit larger than a packet is fragmented (§3.2.3): every
fragment carries one AU header with the size of the whole unit, and the marker bit is set on
the last fragment only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from wire import speedups
from wire.payload.errors import PayloadError
from wire.payload.events import AudioAccessUnit, PacketLoss, PayloadDiscarded, PayloadEvent
from wire.payload.packet import PayloadPacket
from wire.rtp.packet import RtpPacket

# AAC-hbr (RFC 3640 §3.3.6): the fmtp values our SDP declares
SIZE_LENGTH = 13
INDEX_LENGTH = 3
INDEX_DELTA_LENGTH = 3
SAMPLES_PER_FRAME = 1024

_HBR_HEADER_SIZE = 2  # 13 + 3 bits
_MAX_AU_SIZE = (1 << SIZE_LENGTH) - 1


@dataclass(frozen=True, slots=True)
class AacUnit:
    """One access unit, or a fragment of one, as found in a payload.

    ``size`` is the AU-size field; ``data`` is shorter than it in a fragment. ``index`` is the
    AU-Index, with AU-Index-delta applied for the units after the first.
    """

    size: int
    index: int
    data: bytes


def packetize_aac(access_units: Sequence[bytes], max_payload_size: int) -> list[PayloadPacket]:
    """Packetize consecutive AAC access units (raw, without ADTS headers).

    As many units as fit share a packet; a unit that does not fit alone is fragmented. Each
    packet's ``unit_index`` says which unit its RTP timestamp belongs to.
    """
    overhead = 2 + _HBR_HEADER_SIZE
    if max_payload_size <= overhead:
        raise PayloadError(f"AAC: max payload size {max_payload_size} is too small")
    packets: list[PayloadPacket] = []
    group: list[bytes] = []
    group_start = 0
    group_size = 2
    for index, unit in enumerate(access_units):
        if not 0 < len(unit) <= _MAX_AU_SIZE:
            raise PayloadError(f"AAC: access unit of {len(unit)} bytes, AU-size allows 1..8191")
        if group and group_size + _HBR_HEADER_SIZE + len(unit) > max_payload_size:
            packets.append(_aggregate(group, group_start))
            group = []
            group_size = 2
        if overhead + len(unit) > max_payload_size:
            packets += _fragment(unit, index, max_payload_size - overhead)
            continue
        if not group:
            group_start = index
        group.append(unit)
        group_size += _HBR_HEADER_SIZE + len(unit)
    if group:
        packets.append(_aggregate(group, group_start))
    return packets


def _au_header(size: int) -> bytes:
    # Index (first unit) and index delta (the others) are 0: units are consecutive.
    return (size << INDEX_LENGTH).to_bytes(_HBR_HEADER_SIZE, "big")


def _aggregate(units: list[bytes], unit_index: int) -> PayloadPacket:
    parts = [(16 * len(units)).to_bytes(2, "big")]
    parts += [_au_header(len(unit)) for unit in units]
    parts += units
    return PayloadPacket(b"".join(parts), True, unit_index)


def _fragment(unit: bytes, unit_index: int, room: int) -> list[PayloadPacket]:
    prefix = (16).to_bytes(2, "big") + _au_header(len(unit))
    offsets = range(0, len(unit), room)
    return [
        PayloadPacket(prefix + unit[offset : offset + room], offset + room >= len(unit), unit_index)
        for offset in offsets
    ]


def _parse_aac_payload_py(
    payload: bytes,
    *,
    size_length: int = SIZE_LENGTH,
    index_length: int = INDEX_LENGTH,
    index_delta_length: int = INDEX_DELTA_LENGTH,
) -> list[AacUnit]:
    """Split one ``mpeg4-generic`` payload into its access units or its single fragment (the
    pure-Python reference of ``wire.payload._aac``)."""
    if len(payload) < 2:
        raise PayloadError(f"AAC payload: {len(payload)} bytes, too short for AU-headers-length")
    header_bits = int.from_bytes(payload[:2], "big")
    header_bytes = (header_bits + 7) // 8
    if 2 + header_bytes > len(payload):
        raise PayloadError(
            f"AAC payload: AU headers of {header_bits} bits overrun the {len(payload)}-byte payload"
        )
    first_bits = size_length + index_length
    next_bits = size_length + index_delta_length
    if header_bits < first_bits or (header_bits - first_bits) % next_bits:
        raise PayloadError(
            f"AAC payload: AU-headers-length {header_bits} is not {first_bits} + k*{next_bits} bits"
        )
    section = int.from_bytes(payload[2 : 2 + header_bytes], "big")
    section >>= 8 * header_bytes - header_bits  # drop the padding bits
    count = 1 + (header_bits - first_bits) // next_bits
    shift = header_bits
    fields = []
    for i in range(count):
        second_length = index_length if i == 0 else index_delta_length
        shift -= size_length
        size = (section >> shift) & ((1 << size_length) - 1)
        shift -= second_length
        fields.append((size, (section >> shift) & ((1 << second_length) - 1)))

    data = payload[2 + header_bytes :]
    units = []
    pos = 0
    index = 0
    for i, (size, index_field) in enumerate(fields):
        index = index_field if i == 0 else index + index_field + 1
        if size == 0:
            raise PayloadError(f"AAC payload: access unit {i} has AU-size 0")
        if count == 1 and size > len(data):
            return [AacUnit(size, index, data)]  # a fragment (§3.2.3)
        if pos + size > len(data):
            raise PayloadError(
                f"AAC payload: access unit {i} of {size} bytes overruns the payload "
                f"({len(data) - pos} bytes left)"
            )
        units.append(AacUnit(size, index, data[pos : pos + size]))
        pos += size
    if pos != len(data):
        raise PayloadError(f"AAC payload: {len(data) - pos} bytes after the last access unit")
    return units


class _ParseAacPayload(Protocol):
    def __call__(
        self,
        payload: bytes,
        *,
        size_length: int = SIZE_LENGTH,
        index_length: int = INDEX_LENGTH,
        index_delta_length: int = INDEX_DELTA_LENGTH,
    ) -> list[AacUnit]: ...


class PyAacDepacketizer:
    """AAC access units from ``mpeg4-generic`` RTP packets, with timestamps per unit (the
    pure-Python reference of ``wire.payload._aac.AacDepacketizer``).

    ``receive`` never raises for bad input: malformed payloads and incomplete fragmented units
    become :class:`PayloadDiscarded`, sequence gaps :class:`PacketLoss`.
    """

    def __init__(
        self,
        *,
        samples_per_frame: int = SAMPLES_PER_FRAME,
        size_length: int = SIZE_LENGTH,
        index_length: int = INDEX_LENGTH,
        index_delta_length: int = INDEX_DELTA_LENGTH,
    ) -> None:
        self.samples_per_frame = samples_per_frame
        self._lengths: dict[str, int] | None = {
            "size_length": size_length,
            "index_length": index_length,
            "index_delta_length": index_delta_length,
        }
        if (size_length, index_length, index_delta_length) == (
            SIZE_LENGTH,
            INDEX_LENGTH,
            INDEX_DELTA_LENGTH,
        ):
            self._lengths = None  # the parser's defaults: no keywords to pass per packet
        self.reset()

    def reset(self) -> None:
        self._last_seq: int | None = None
        self._fragment: bytearray | None = None
        self._fragment_size = 0
        self._fragment_timestamp = 0
        self._abandoned: tuple[int, int] | None = None  # (timestamp, AU-size) being skipped

    def receive(self, packet: RtpPacket) -> list[PayloadEvent]:
        events: list[PayloadEvent] = []
        seq = packet.sequence_number
        last = self._last_seq
        if last is not None:
            delta = (seq - last) & 0xFFFF  # seq_diff, read only for 0 (a duplicate) and 1
            if delta == 0:
                return events
            if delta != 1:
                events.append(PacketLoss((last + 1) & 0xFFFF, seq))
                self._drop_fragment(events, "fragmented access unit lost a fragment")
        self._last_seq = seq
        lengths = self._lengths
        try:
            if lengths is None:
                units = parse_aac_payload(packet.payload)
            else:
                units = parse_aac_payload(packet.payload, **lengths)
        except PayloadError as exc:
            self._drop_fragment(events, "fragmented access unit interrupted by a malformed packet")
            events.append(PayloadDiscarded(packet.timestamp, str(exc)))
            return events
        if len(units) == 1:
            self._receive_single(units[0], packet, events)
            return events
        self._drop_fragment(events, "fragmented access unit unfinished")
        first = units[0].index
        for unit in units:
            timestamp = packet.timestamp + (unit.index - first) * self.samples_per_frame
            events.append(AudioAccessUnit(unit.data, timestamp & 0xFFFF_FFFF))
        return events

    def _receive_single(self, unit: AacUnit, packet: RtpPacket, events: list[PayloadEvent]) -> None:
        fragment = self._fragment
        key = (packet.timestamp, unit.size)
        if fragment is None or key != (self._fragment_timestamp, self._fragment_size):
            self._drop_fragment(events, "fragmented access unit unfinished")
            if self._abandoned == key and len(unit.data) < unit.size:
                # The rest of a unit already reported as discarded.
                if packet.marker:
                    self._abandoned = None
                return
            self._abandoned = None
            if len(unit.data) == unit.size:
                events.append(AudioAccessUnit(unit.data, packet.timestamp))
                return
            fragment = self._fragment = bytearray()
            self._fragment_timestamp, self._fragment_size = key
        fragment += unit.data
        if len(fragment) == unit.size:
            self._fragment = None
            events.append(AudioAccessUnit(bytes(fragment), packet.timestamp))
        elif len(fragment) > unit.size or packet.marker:
            self._drop_fragment(events, "fragmented access unit does not add up to its AU-size")

    def _drop_fragment(self, events: list[PayloadEvent], reason: str) -> None:
        if self._fragment is not None:
            events.append(PayloadDiscarded(self._fragment_timestamp, reason))
            self._fragment = None
            self._abandoned = (self._fragment_timestamp, self._fragment_size)


# The compiled implementations when built (wire/payload/_aac.pyx), else the references above.
_ext = speedups.extension("wire.payload._aac")
parse_aac_payload: _ParseAacPayload = (
    _ext.parse_aac_payload if _ext is not None else _parse_aac_payload_py
)
if TYPE_CHECKING:
    AacDepacketizer = PyAacDepacketizer
else:
    AacDepacketizer = _ext.AacDepacketizer if _ext is not None else PyAacDepacketizer
