"""What H.264 (RFC 6184) and H.265 (RFC 7798) payloads share.

Both formats carry a NAL unit whole, several small ones in an aggregation packet (a 16-bit size
before each), or a large one in fragments whose header restores the NAL unit header. The
codec modules supply the header bytes; the aggregation, fragmentation and access unit assembly
live here.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from wire import speedups
from wire.codec.nal import VideoCodec, is_irap, is_vcl, nal_type
from wire.payload.errors import PayloadError
from wire.payload.events import PacketLoss, PayloadDiscarded, PayloadEvent, VideoAccessUnit
from wire.payload.packet import PayloadPacket
from wire.rtp.packet import RtpPacket
from wire.rtp.sequence import seq_diff

DEFAULT_MAX_ACCESS_UNIT_SIZE = 8 * 1024 * 1024
START_CODE_PREFIX = b"\x00\x00\x01"
FU_START = 0x80
FU_END = 0x40


@dataclass(frozen=True, slots=True)
class NalFragment:
    """One fragment of a NAL unit; ``header`` is the NAL unit header the fragments restore."""

    header: bytes
    data: bytes
    start: bool
    end: bool


NalPiece = bytes | NalFragment


def packetize_nal_units(
    nal_units: Sequence[bytes],
    max_payload_size: int,
    *,
    header_size: int,
    aggregation_header: Callable[[Sequence[bytes]], bytes] | None,
    fragment_prefix: Callable[[bytes], bytes],
) -> list[PayloadPacket]:
    """Packetize one access unit; the marker bit is set on its last packet only.

    Consecutive NAL units that fit together go in one aggregation packet (when
    ``aggregation_header`` is given), a NAL unit larger than ``max_payload_size`` is fragmented
    into near-equal fragments, any other goes alone. ``fragment_prefix`` returns the payload
    header plus the FU header with its S and E bits clear.
    """
    if max_payload_size < header_size + 3:
        raise PayloadError(f"max payload size {max_payload_size} is too small to packetize")
    payloads: list[bytes] = []
    pending: list[bytes] = []
    pending_size = header_size

    def flush_pending() -> None:
        nonlocal pending_size
        if len(pending) == 1:
            payloads.append(pending[0])
        elif pending and aggregation_header is not None:
            parts = [aggregation_header(pending)]
            for nal in pending:
                parts += (len(nal).to_bytes(2, "big"), nal)
            payloads.append(b"".join(parts))
        pending.clear()
        pending_size = header_size

    for nal in nal_units:
        if len(nal) <= header_size:
            raise PayloadError(f"NAL unit of {len(nal)} bytes has no payload after its header")
        if len(nal) > max_payload_size:
            flush_pending()
            payloads += _fragment(nal, max_payload_size, header_size, fragment_prefix(nal))
            continue
        if pending_size + 2 + len(nal) > max_payload_size:
            flush_pending()
        if aggregation_header is None or header_size + 2 + len(nal) > max_payload_size:
            payloads.append(nal)
        else:
            pending.append(nal)
            pending_size += 2 + len(nal)
    flush_pending()
    last = len(payloads) - 1
    return [PayloadPacket(payload, i == last) for i, payload in enumerate(payloads)]


def _fragment(nal: bytes, max_payload_size: int, header_size: int, prefix: bytes) -> list[bytes]:
    data = memoryview(nal)[header_size:]
    room = max_payload_size - len(prefix)
    count = -(-len(data) // room)
    size = -(-len(data) // count)
    head, flags = prefix[:-1], prefix[-1]
    fragments = []
    for offset in range(0, len(data), size):
        fu_header = flags
        if offset == 0:
            fu_header |= FU_START
        if offset + size >= len(data):
            fu_header |= FU_END
        fragments.append(b"".join((head, bytes((fu_header,)), data[offset : offset + size])))
    return fragments


def _parse_aggregation_py(payload: bytes, header_size: int, name: str) -> list[bytes]:
    """The NAL units of an STAP-A / AP payload: 16-bit size, NAL unit, repeated."""
    nals = []
    pos = header_size
    while pos < len(payload):
        if pos + 2 > len(payload):
            raise PayloadError(f"{name}: 1 byte left at offset {pos}, too few for a size")
        size = int.from_bytes(payload[pos : pos + 2], "big")
        pos += 2
        if size == 0:
            raise PayloadError(f"{name}: zero-length NAL unit at offset {pos}")
        if pos + size > len(payload):
            raise PayloadError(
                f"{name}: NAL unit of {size} bytes at offset {pos} overruns the payload "
                f"({len(payload) - pos} bytes left)"
            )
        nals.append(payload[pos : pos + size])
        pos += size
    if not nals:
        raise PayloadError(f"{name}: no NAL units")
    return nals


def _split_embedded_start_codes_py(nal: bytes) -> list[bytes]:
    """Split a "NAL unit" that carries Annex B start codes into the NAL units it holds.

    A real NAL unit never contains ``00 00 01`` (emulation prevention forbids it), so finding
    one means the sender put a byte stream into the payload. Zero bytes before a start code
    belong to it, not to the preceding NAL unit.
    """
    if START_CODE_PREFIX not in nal:
        return [nal]
    parts = []
    start = 0
    while True:
        found = nal.find(START_CODE_PREFIX, start)
        end = len(nal) if found < 0 else found
        part = nal[start:end].rstrip(b"\x00")
        if part:
            parts.append(part)
        if found < 0:
            return parts
        start = found + len(START_CODE_PREFIX)


class PyNalDepacketizer(ABC):
    """Reassembles access units from the RTP packets of one H.264/H.265 stream.

    Feed packets in sequence order (after a :class:`~wire.rtp.JitterBuffer`) to
    :meth:`receive`; it never raises for bad input and returns events instead. An access unit
    ends at the marker bit or, for senders that never set it, when the timestamp changes. A
    marker bit on parameter sets or SEI alone does not end one: NAL units without a coded
    slice are held and open the next access unit. A sequence gap discards a partly received
    fragmented NAL unit and is reported as :class:`PacketLoss`.
    """

    codec: VideoCodec
    header_size: int

    def __init__(self, *, max_access_unit_size: int = DEFAULT_MAX_ACCESS_UNIT_SIZE) -> None:
        self.max_access_unit_size = max_access_unit_size
        self.reset()

    @abstractmethod
    def parse_payload(self, payload: bytes) -> list[NalPiece]:
        """Split one RTP payload into whole NAL units and fragments; raises PayloadError."""

    def reset(self) -> None:
        """Forget all state, e.g. for a new session."""
        self._last_seq: int | None = None
        self._timestamp: int | None = None
        self._nals: list[bytes] = []
        self._size = 0
        self._has_vcl = False
        self._keyframe = False
        self._oversized = False  # the access unit in progress outgrew the limit
        self._fragment: bytearray | None = None
        self._fragment_type = 0

    def receive(self, packet: RtpPacket) -> list[PayloadEvent]:
        """Take one RTP packet; returns the access units completed and any losses."""
        events: list[PayloadEvent] = []
        seq = packet.sequence_number
        if self._last_seq is not None:
            delta = seq_diff(seq, self._last_seq)
            if delta == 0:
                return events  # a duplicate
            if delta != 1:
                events.append(PacketLoss((self._last_seq + 1) & 0xFFFF, seq))
                self._drop_fragment(events, "fragmented NAL unit lost a fragment")
        self._last_seq = seq

        if packet.timestamp != self._timestamp:
            self._drop_fragment(events, "fragmented NAL unit unfinished at a new timestamp")
            self._finish(events)
            self._timestamp = packet.timestamp
        try:
            pieces = self.parse_payload(packet.payload)
        except PayloadError as exc:
            self._drop_fragment(events, "fragmented NAL unit interrupted by a malformed packet")
            events.append(PayloadDiscarded(packet.timestamp, str(exc)))
            pieces = []
        for piece in pieces:
            if isinstance(piece, NalFragment):
                self._add_fragment(piece, events)
            else:
                self._add_nal(piece, events)
        if packet.marker:
            self._drop_fragment(events, "fragmented NAL unit unfinished at the marker bit")
            self._finish(events)
        return events

    def flush(self) -> list[PayloadEvent]:
        """End of stream: the access unit in progress, if it holds a coded slice."""
        events: list[PayloadEvent] = []
        self._drop_fragment(events, "fragmented NAL unit unfinished at the end of the stream")
        self._finish(events)
        return events

    def _finish(self, events: list[PayloadEvent]) -> None:
        if self._oversized:
            self._oversized = False
        elif not self._has_vcl or self._timestamp is None:
            return  # parameter sets and SEI wait for the slices they belong with
        else:
            events.append(VideoAccessUnit(tuple(self._nals), self._timestamp, self._keyframe))
        self._clear()

    def _clear(self) -> None:
        self._nals = []
        self._size = 0
        self._has_vcl = self._keyframe = False

    def _overflow(self, events: list[PayloadEvent]) -> None:
        self._discard(events, f"access unit exceeds {self.max_access_unit_size} bytes")
        self._clear()
        self._oversized = True

    def _add_nal(self, nal: bytes, events: list[PayloadEvent]) -> None:
        for unit in _split_embedded_start_codes_py(nal):
            if self._oversized:
                return
            if len(unit) < self.header_size:
                self._discard(events, f"NAL unit of {len(unit)} bytes is shorter than its header")
                continue
            if self._size + len(unit) > self.max_access_unit_size:
                self._overflow(events)
                return
            self._nals.append(unit)
            self._size += len(unit)
            if is_vcl(self.codec, unit):
                self._has_vcl = True
            if is_irap(self.codec, unit):
                self._keyframe = True

    def _add_fragment(self, fragment: NalFragment, events: list[PayloadEvent]) -> None:
        if self._oversized:
            return
        if fragment.start:
            self._drop_fragment(events, "fragmented NAL unit restarted before its end")
            if fragment.end:
                # Start and End both set: a whole NAL unit in one fragment (tolerated).
                self._add_nal(fragment.header + fragment.data, events)
                return
            self._fragment = bytearray(fragment.header + fragment.data)
            self._fragment_type = nal_type(self.codec, fragment.header)
            return
        if self._fragment is None:
            return  # the rest of a NAL unit whose first fragment never arrived
        if nal_type(self.codec, fragment.header) != self._fragment_type:
            self._drop_fragment(events, "fragment of another NAL unit type")
            return
        self._fragment += fragment.data
        if len(self._fragment) + self._size > self.max_access_unit_size:
            self._fragment = None
            self._overflow(events)
        elif fragment.end:
            nal = bytes(self._fragment)
            self._fragment = None
            self._add_nal(nal, events)

    def _drop_fragment(self, events: list[PayloadEvent], reason: str) -> None:
        if self._fragment is not None:
            self._fragment = None
            self._discard(events, reason)

    def _discard(self, events: list[PayloadEvent], reason: str) -> None:
        events.append(PayloadDiscarded(self._timestamp or 0, reason))


# The compiled implementations when built (wire/payload/_video.pyx), else the references above.
_ext = speedups.extension("wire.payload._video")
parse_aggregation: Callable[[bytes, int, str], list[bytes]] = (
    _ext.parse_aggregation if _ext is not None else _parse_aggregation_py
)
split_embedded_start_codes: Callable[[bytes], list[bytes]] = (
    _ext.split_embedded_start_codes if _ext is not None else _split_embedded_start_codes_py
)
if TYPE_CHECKING:
    NalDepacketizer = PyNalDepacketizer
else:
    NalDepacketizer = _ext.NalDepacketizer if _ext is not None else PyNalDepacketizer
